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

/// What a filesystem's hook hands back to C. The kernel's internal error
/// codes (512 to 4095: `ERESTARTSYS`, `ENOIOCTLCMD`, `EIOCBQUEUED`, ...)
/// mean something to the VFS, AIO and the signal code: `-EIOCBQUEUED` from
/// a synchronous `read_iter` or `write_iter` is a `BUG_ON` in
/// `new_sync_read`, and an AIO request that gets it never completes.
/// [`kernel::error::Error::from_errno`] makes any of them, so the wrappers
/// pass every hook's result through [`HookResult::hook`], which turns
/// those codes into `EIO` (with a line in dmesg) and keeps the others.
pub(in crate::kfs) trait HookResult {
    /// The result, with a kernel-internal error code replaced by `EIO`.
    fn hook(self) -> Self;
}

impl<V> HookResult for kernel::error::Result<V> {
    fn hook(self) -> Self {
        self.map_err(|e| {
            let n = e.to_errno();
            if n < -511 {
                kernel::pr_err!("a filesystem hook returned the kernel-internal error {}: reported as EIO\n", n);
                kernel::error::code::EIO
            } else {
                e
            }
        })
    }
}
