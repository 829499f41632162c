// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers around the kernel's iomap library and the VFS pieces a block
//! filesystem needs.
//!
//! This tree is compiled into the module of the filesystem that uses it (Kbuild
//! builds one crate per module); the crate root pulls it in with
//! `#[path = ".../rust/mod.rs"] pub mod kfs;`. Every `unsafe` of the project
//! lives under this directory, each with a `// SAFETY:` comment; filesystems
//! built on it have none.
//!
//! - [`vfs`]: filesystem types and mounting, super blocks, inodes with Rust
//!   private data, directories, buffer heads for metadata.
//! - [`iomap`]: mappings (`struct iomap`), `iomap_ops`, and the address space
//!   operations that route file data through iomap.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/fs_context.h`](srctree/include/linux/fs_context.h),
//! [`include/linux/iomap.h`](srctree/include/linux/iomap.h).

pub mod bindings;
pub mod fmt;
pub mod iomap;
pub mod vfs;
