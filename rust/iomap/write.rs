// SPDX-License-Identifier: GPL-2.0

//! The iomap write paths: buffered write, zero range, truncate page and
//! page_mkwrite, driven with a filesystem's [`Operations`].
//!
//! C header: [`include/linux/iomap.h`](srctree/include/linux/iomap.h).
//!
//! Each call passes `T::Iomap`'s `iomap_ops` and `iomap_write_ops` (whose
//! `iomap_valid` is [`Operations::valid`]). The file operations in
//! [`crate::kfs::vfs::file`] call these with the locks iomap expects; the
//! functions that a filesystem may call itself say which locks to hold.

use super::ops::Table;
use crate::kfs::{bindings as b, vfs::{FileSystem, INode}};
use kernel::{error::to_result, prelude::*};

/// Zeroes `pos .. pos + len` of `inode` in the page cache (`iomap_zero_range`):
/// mapped blocks are read, zeroed and dirtied; holes and unwritten blocks
/// already read as zeros and are skipped. Returns whether anything was
/// zeroed.
///
/// Hold `i_rwsem` and `invalidate_lock` exclusive. The range must start at
/// or before EOF (iomap warns when asked to zero a folio past EOF).
pub fn zero_range<T: FileSystem>(inode: &INode<T>, pos: u64, len: u64) -> Result<bool> {
    if len == 0 {
        return Ok(false);
    }
    let pos = i64::try_from(pos).map_err(|_| EFBIG)?;
    let len = i64::try_from(len).map_err(|_| EFBIG)?;
    let mut did_zero = false;
    // SAFETY: a live inode of `T` whose data goes through `T::Iomap`; the
    // tables are `'static`; `did_zero` outlives the call.
    to_result(unsafe {
        b::iomap_zero_range(
            inode.as_ptr(),
            pos,
            len,
            &mut did_zero,
            &Table::<T::Iomap>::OPS,
            &Table::<T::Iomap>::WRITE_OPS,
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
/// Hold `i_rwsem` and `invalidate_lock` exclusive; call before the size
/// shrinks to `pos`.
pub fn truncate_page<T: FileSystem>(inode: &INode<T>, pos: u64) -> Result<bool> {
    let pos = i64::try_from(pos).map_err(|_| EFBIG)?;
    let mut did_zero = false;
    // SAFETY: as in `zero_range`.
    to_result(unsafe {
        b::iomap_truncate_page(
            inode.as_ptr(),
            pos,
            &mut did_zero,
            &Table::<T::Iomap>::OPS,
            &Table::<T::Iomap>::WRITE_OPS,
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
pub(crate) unsafe fn buffered_write<T: FileSystem>(
    iocb: *mut b::kiocb,
    from: *mut b::iov_iter,
) -> isize {
    // SAFETY: per the caller; the tables are `'static`.
    unsafe {
        b::iomap_file_buffered_write(
            iocb,
            from,
            &Table::<T::Iomap>::OPS,
            &Table::<T::Iomap>::WRITE_OPS,
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
pub(crate) unsafe fn page_mkwrite<T: FileSystem>(vmf: *mut b::vm_fault) -> b::vm_fault_t {
    // SAFETY: per the caller; the table is `'static`.
    unsafe { b::iomap_page_mkwrite(vmf, &Table::<T::Iomap>::OPS, core::ptr::null_mut()) }
}
