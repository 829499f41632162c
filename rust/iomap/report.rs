// SPDX-License-Identifier: GPL-2.0

//! Reporting where a file's data is: `SEEK_HOLE`/`SEEK_DATA` and `FIEMAP`.
//!
//! C header: [`include/linux/iomap.h`](srctree/include/linux/iomap.h).
//!
//! Both walk the file with [`Flags::REPORT`](super::Flags::REPORT) requests,
//! so `begin` must answer without allocating. iomap treats an unwritten
//! mapping as a hole unless the page cache holds data over it, so a
//! preallocated range with dirty folios is reported as data, as on XFS.
//! Callers hold `i_rwsem` shared, which keeps the size and the mappings of a
//! filesystem that changes them under `i_rwsem` exclusive still.

use super::ops::ReportTable;
use crate::kfs::{
    bindings as b,
    vfs::{file::ReportOf, lock::InodeLockShared, FileSystem},
};
use kernel::{error::to_result, prelude::*};

/// Which way [`seek`] looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seek {
    /// The first offset at or after the start that is in a hole (EOF counts
    /// as one).
    Hole,
    /// The first offset at or after the start that holds data.
    Data,
}

/// `SEEK_HOLE`/`SEEK_DATA` from `offset` (`iomap_seek_hole`,
/// `iomap_seek_data`). `ENXIO` when `offset` is at or past EOF, or when
/// there is no data after it.
pub(in crate::kfs) fn seek<T: FileSystem>(
    lock: &InodeLockShared<'_, T>,
    offset: i64,
    whence: Seek,
) -> Result<i64> {
    let inode = lock.inode().as_ptr();
    let ops = &ReportTable::<ReportOf<T>>::OPS;
    // SAFETY: a referenced regular file of `T` (only its `llseek` calls
    // this) with `i_rwsem` held shared; the table is `'static`. Both return
    // an offset or a negative errno.
    let ret = unsafe {
        match whence {
            Seek::Hole => b::iomap_seek_hole(inode, offset, ops),
            Seek::Data => b::iomap_seek_data(inode, offset, ops),
        }
    };
    if ret < 0 {
        // iomap's errors are small negative errnos.
        return Err(Error::from_errno(i32::try_from(ret).unwrap_or(EIO.to_errno())));
    }
    Ok(ret)
}

/// Fills a `FIEMAP` request (`iomap_fiemap`) for `start .. start + len`.
///
/// # Safety
///
/// `fieinfo` is the request the VFS passed to `inode_operations.fiemap`.
pub(in crate::kfs) unsafe fn fiemap<T: FileSystem>(
    lock: &InodeLockShared<'_, T>,
    fieinfo: *mut b::fiemap_extent_info,
    start: u64,
    len: u64,
) -> Result {
    let ops = &ReportTable::<ReportOf<T>>::OPS;
    // SAFETY: a referenced regular file of `T` with `i_rwsem` held shared;
    // `fieinfo` is valid per the contract; the table is `'static`.
    to_result(unsafe { b::iomap_fiemap(lock.inode().as_ptr(), fieinfo, start, len, ops) })
}
