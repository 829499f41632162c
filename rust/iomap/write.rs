// SPDX-License-Identifier: GPL-2.0

//! The iomap write paths: buffered write, zero range, truncate page and
//! page_mkwrite, driven with a filesystem's [`super::WriteOps`].
//!
//! C header: [`include/linux/iomap.h`](srctree/include/linux/iomap.h).
//!
//! Each call passes the `iomap_ops` and `iomap_write_ops` of the
//! filesystem's [`WriteOps`](super::WriteOps) (whose `iomap_valid` is
//! [`WriteOps::valid`](super::WriteOps::valid)). The file operations in
//! [`crate::kfs::vfs::file`] call these with the locks iomap expects; the
//! two a filesystem may call itself take a [`FileGuard`], the proof that
//! those locks are held on a regular file, so they cannot be called on a
//! directory, on an inode being evicted, or from inside a mapping hook
//! (which would deadlock on the folio lock).

use super::ops::WriteTable;
use crate::kfs::{
    bindings as b,
    vfs::{file::WriteOf, FileGuard, FileSystem},
};
use kernel::{error::to_result, prelude::*};

/// Zeroes `pos .. pos + len` of `inode` in the page cache (`iomap_zero_range`):
/// mapped blocks are read, zeroed and dirtied; holes and unwritten blocks
/// already read as zeros and are skipped. Returns whether anything was
/// zeroed.
///
/// The range must start at or before EOF (iomap warns when asked to zero a
/// folio past EOF): `EINVAL` otherwise.
pub fn zero_range<T: FileSystem>(inode: &FileGuard<T>, pos: u64, len: u64) -> Result<bool> {
    if len == 0 {
        return Ok(false);
    }
    if pos > u64::try_from(inode.size()).map_err(|_| EINVAL)? {
        return Err(EINVAL);
    }
    let pos = i64::try_from(pos).map_err(|_| EFBIG)?;
    let len = i64::try_from(len).map_err(|_| EFBIG)?;
    let mut did_zero = false;
    // SAFETY: a referenced regular file of `T` with `i_rwsem` and
    // `invalidate_lock` held (`FileGuard`); the tables are `'static`;
    // `did_zero` outlives the call.
    to_result(unsafe {
        b::iomap_zero_range(
            inode.as_ptr(),
            pos,
            len,
            &mut did_zero,
            &WriteTable::<WriteOf<T>>::OPS,
            &WriteTable::<WriteOf<T>>::WRITE_OPS,
            core::ptr::null_mut(),
        )
    })?;
    Ok(did_zero)
}

/// Zeroes the rest of the block that contains `pos` (`iomap_truncate_page`),
/// so that bytes past a new, unaligned EOF never reappear when the file
/// grows again. Does nothing when `pos` is block-aligned. Returns whether
/// anything was zeroed.
///
/// Call before the size shrinks to `pos`.
pub fn truncate_page<T: FileSystem>(inode: &FileGuard<T>, pos: u64) -> Result<bool> {
    let pos = i64::try_from(pos).map_err(|_| EFBIG)?;
    let mut did_zero = false;
    // SAFETY: as in `zero_range`: a `FileGuard` holds both locks.
    to_result(unsafe {
        b::iomap_truncate_page(
            inode.as_ptr(),
            pos,
            &mut did_zero,
            &WriteTable::<WriteOf<T>>::OPS,
            &WriteTable::<WriteOf<T>>::WRITE_OPS,
            core::ptr::null_mut(),
        )
    })?;
    Ok(did_zero)
}

/// `iomap_file_buffered_write` for a `T` file.
///
/// # Safety
///
/// `iocb` and `from` are a write request on a regular file of `T`, with its
/// `i_rwsem` held exclusive and `generic_write_checks` passed.
pub(in crate::kfs) unsafe fn buffered_write<T: FileSystem>(
    iocb: *mut b::kiocb,
    from: *mut b::iov_iter,
) -> isize {
    // SAFETY: per the caller; the tables are `'static`.
    unsafe {
        b::iomap_file_buffered_write(
            iocb,
            from,
            &WriteTable::<WriteOf<T>>::OPS,
            &WriteTable::<WriteOf<T>>::WRITE_OPS,
            core::ptr::null_mut(),
        )
    }
}

/// `iomap_page_mkwrite` for a fault on a `T` file.
///
/// # Safety
///
/// `vmf` is a write fault on a shared mapping of a `T` regular file, inside
/// `sb_start_pagefault` and with `invalidate_lock` held shared.
pub(in crate::kfs) unsafe fn page_mkwrite<T: FileSystem>(vmf: *mut b::vm_fault) -> b::vm_fault_t {
    // SAFETY: per the caller; the table is `'static`.
    unsafe { b::iomap_page_mkwrite(vmf, &WriteTable::<WriteOf<T>>::OPS, core::ptr::null_mut()) }
}
