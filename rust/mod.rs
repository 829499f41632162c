// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers around the kernel's iomap library and the VFS pieces a block
//! filesystem needs.
//!
//! This tree is compiled into the module of the filesystem that uses it (Kbuild
//! builds one crate per module); the crate root pulls it in with
//! `#[path = ".../rust/mod.rs"] pub mod kfs;` (the name `kfs` is required:
//! internals are visible in `crate::kfs` only). Every `unsafe` of the project
//! lives under this directory, each with a `// SAFETY:` comment; filesystems
//! built on it have none, and cannot name the raw bindings, the C helpers or
//! the wrappers' internals (they are private to `crate::kfs`).
//!
//! - [`vfs`]: filesystem types and mounting, super blocks, inodes with Rust
//!   private data, directories, regular files, buffer heads for metadata.
//! - [`iomap`]: mappings (`struct iomap`), the iomap operation traits, and the
//!   address space operations that route file data through iomap.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/fs_context.h`](srctree/include/linux/fs_context.h),
//! [`include/linux/iomap.h`](srctree/include/linux/iomap.h).

mod bindings;
pub mod fmt;
pub mod iomap;
pub mod vfs;
