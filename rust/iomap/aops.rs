// SPDX-License-Identifier: GPL-2.0

//! `struct address_space_operations` for files whose data goes through iomap.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/iomap.h`](srctree/include/linux/iomap.h).
//!
//! Reads: `read_folio` and `readahead` hand the folio (or the readahead
//! window) to `iomap_read_folio`/`iomap_readahead` with the filesystem's
//! [`FileSystem::ReadIomap`] and the block-device bio read operations; iomap
//! zero-fills holes, unwritten ranges and blocks past EOF, and reads the rest
//! with bios. The folio helpers (`dirty_folio`, `release_folio`,
//! `invalidate_folio`, `is_partially_uptodate`, `error_remove_folio`) are
//! iomap's and the page cache's own.

use super::ops::Table;
use crate::kfs::{bindings as b, vfs::FileSystem};
use core::marker::PhantomData;

/// The `address_space_operations` of regular files of filesystem `T`.
pub(crate) fn table<T: FileSystem>() -> &'static b::address_space_operations {
    &Aops::<T>::AOPS
}

/// An empty read context that reads with the block-device bio operations.
fn bio_read_ctx() -> b::iomap_read_folio_ctx {
    // SAFETY: all-zero is a valid empty read context.
    let mut ctx: b::iomap_read_folio_ctx = unsafe { core::mem::zeroed() };
    ctx.ops = &raw const b::iomap_bio_read_ops;
    ctx
}

struct Aops<T: FileSystem>(PhantomData<T>);

impl<T: FileSystem> Aops<T> {
    const AOPS: b::address_space_operations = b::address_space_operations {
        read_folio: Some(Self::read_folio),
        readahead: Some(Self::readahead),
        dirty_folio: Some(b::iomap_dirty_folio),
        release_folio: Some(b::iomap_release_folio),
        invalidate_folio: Some(b::iomap_invalidate_folio),
        is_partially_uptodate: Some(b::iomap_is_partially_uptodate),
        error_remove_folio: Some(b::generic_error_remove_folio),
        // SAFETY: all-zero is a valid `address_space_operations`.
        ..unsafe { core::mem::zeroed() }
    };

    /// # Safety
    ///
    /// Called by the page cache with a locked folio of a `T` regular file
    /// and `invalidate_lock` held shared.
    unsafe extern "C" fn read_folio(_file: *mut b::file, folio: *mut b::folio) -> kernel::ffi::c_int {
        let mut ctx = bio_read_ctx();
        ctx.cur_folio = folio.cast();
        // SAFETY: a locked folio of a `T` file (caller guarantee); iomap maps
        // it with `T::ReadIomap`, submits the reads and unlocks the folio when
        // they end (also on error, through the folio's state).
        unsafe {
            b::iomap_read_folio(&Table::<T::ReadIomap>::OPS, &mut ctx, core::ptr::null_mut())
        };
        0
    }

    /// # Safety
    ///
    /// Called by the page cache with the readahead window of a `T` regular
    /// file, `invalidate_lock` held shared.
    unsafe extern "C" fn readahead(rac: *mut b::readahead_control) {
        let mut ctx = bio_read_ctx();
        ctx.rac = rac.cast();
        // SAFETY: the readahead window of a `T` file (caller guarantee).
        unsafe {
            b::iomap_readahead(&Table::<T::ReadIomap>::OPS, &mut ctx, core::ptr::null_mut())
        };
    }
}
