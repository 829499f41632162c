// SPDX-License-Identifier: GPL-2.0

//! Regular files: file operations, shared mappings, and attribute changes,
//! with the locking the iomap documentation prescribes.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/mm.h`](srctree/include/linux/mm.h).
//!
//! The filesystem never sees a file operation: it answers iomap's mapping
//! requests (the four iomap traits [`FileOperations`] names) and changes its
//! block map when asked ([`FileOperations::set_size`],
//! [`FileOperations::allocate`], [`FileOperations::punch`]). These wrappers
//! do the rest:
//!
//! - `write_iter`: `i_rwsem` exclusive (shared for a direct write
//!   aligned to the block that ends inside EOF: see
//!   [`crate::kfs::iomap::direct`]); `generic_write_checks`;
//!   `kiocb_modified` (mtime, ctime, suid bits); zeroes from the old EOF to
//!   the write position ([`zero_range`], so a write past EOF never exposes
//!   stale bytes of the old last block); `iomap_file_buffered_write`; the
//!   inode is marked dirty when the size grew; `generic_write_sync` after
//!   the lock is dropped (O_SYNC, O_DSYNC).
//! - shared writable mappings fault through `page_mkwrite`:
//!   `sb_start_pagefault`, `file_update_time`, `invalidate_lock` shared,
//!   `iomap_page_mkwrite` (which maps with `WRITE | FAULT`, so the
//!   filesystem allocates holes; a fault past EOF gets `SIGBUS`).
//! - `setattr` with a size change: `invalidate_lock` exclusive (the VFS
//!   holds `i_rwsem`); shrinking zeroes the tail of the new last block
//!   ([`truncate_page`]), growing zeroes from the old EOF ([`zero_range`]);
//!   then `truncate_setsize` (which drops the page cache past EOF) and
//!   [`FileOperations::set_size`].
//! - `fallocate`: plain and `KEEP_SIZE` preallocation
//!   ([`FileOperations::allocate`]: unwritten blocks), `PUNCH_HOLE | KEEP_SIZE`
//!   and `ZERO_RANGE` (partial blocks zeroed with [`zero_range`]; whole
//!   blocks dropped from the page cache and given to
//!   [`FileOperations::punch`], then, for zero range, preallocated again).
//! - `O_DIRECT` (when the filesystem has [`DirectOps`]): `open` allows it;
//!   `read_iter` and `write_iter` send direct requests to
//!   [`crate::kfs::iomap::direct`] (its docs say which locks and waits), a
//!   write past EOF zeroing and writing back the old last block's tail
//!   first; a write whose page cache cannot be dropped falls back to a
//!   buffered write, as on XFS. Truncate and `fallocate` wait for direct
//!   I/O in flight (`inode_dio_wait`).
//! - `fsync` (files and directories): writes and waits for the range,
//!   writes the inode (`sync_inode_metadata`; skipped by `fdatasync` when
//!   only timestamps changed), writes the device's metadata buffers
//!   (`sync_blockdev`) and flushes the device's cache.

use crate::kfs::HookResult;
use super::{
    lock::{InodeLock, InodeLockShared, InvalidateLock, InvalidateLockShared},
    FileSystem, INode, INodeFlags, Locked, NoFs,
};
use crate::kfs::{
    bindings as b,
    iomap::report::{self, seek, Seek},
    iomap::direct::{self, Completion, DirectOf},
    iomap::write::{buffered_write, page_mkwrite, truncate_page, zero_range},
    iomap::{DirectOps, ReadOps, ReportOps, WriteOps, WritebackOps},
};
use core::marker::PhantomData;
use kernel::{error::{from_result, to_result}, prelude::*};

/// The operations of regular files of filesystem [`Self::FileSystem`]: the
/// iomap mappings its data goes through, and the block-map changes that
/// `setattr` (truncate) and `fallocate` ask for.
///
/// Entries not implemented stay `NULL` (or, inside a shared C entry, fail
/// with `EOPNOTSUPP`): without [`Self::set_size`] a size change is
/// refused, without [`Self::allocate`] and [`Self::punch`] there is no
/// `fallocate`.
#[vtable]
pub trait FileOperations: Sized + 'static {
    /// The filesystem these are the operations of.
    type FileSystem: FileSystem;

    /// Maps file ranges for reads.
    type Read: ReadOps<FileSystem = Self::FileSystem>;

    /// Maps file ranges for the write paths.
    type Write: WriteOps<FileSystem = Self::FileSystem>;

    /// Maps file ranges for `SEEK_HOLE`/`SEEK_DATA` and `FIEMAP`.
    type Report: ReportOps<FileSystem = Self::FileSystem>;

    /// Maps dirty ranges for writeback.
    type Writeback: WritebackOps<FileSystem = Self::FileSystem>;

    /// Maps file ranges for direct I/O (an implementation without
    /// [`DirectOps::begin`] for none).
    type Direct: DirectOps<FileSystem = Self::FileSystem>;

    /// Whether the page cache of these files may use folios larger than a
    /// page (`mapping_set_large_folios`, as XFS and ext4 do): iomap tracks
    /// the state of each block in a folio, so every path the wrappers
    /// offer works with them; the filesystem's hooks only ever see byte
    /// ranges.
    const LARGE_FOLIOS: bool = false;

    /// The size of `file` changed from `old` to `new` through `truncate`
    /// or `fallocate` (not a write), and the page cache was truncated to
    /// it: free the blocks past `new` when it shrank, and record `new` as
    /// the size on disk (writes advance that size as their I/O completes,
    /// [`WritebackOps::complete`]).
    fn set_size(_file: &FileGuard<Self::FileSystem>, _old: u64, _new: u64) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Preallocates: maps every hole among file blocks `first .. first +
    /// count` of `file` to unwritten blocks (fallocate; `i_rwsem` held
    /// exclusive, and `invalidate_lock` for `FALLOC_FL_ZERO_RANGE`).
    fn allocate(_file: &Locked<Self::FileSystem>, _first: u64, _count: u64) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Unmaps file blocks `first .. first + count` of `file` and frees them
    /// (punch hole, zero range; the page cache of the range was written
    /// back and dropped).
    fn punch(_file: &FileGuard<Self::FileSystem>, _first: u64, _count: u64) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Moves the mapping of file blocks for `FALLOC_FL_COLLAPSE_RANGE` and
    /// `FALLOC_FL_INSERT_RANGE` (with [`Self::punch`] and
    /// [`Self::set_size`], which the wrapper calls around it):
    /// [`Shift::Down`]: blocks `first .. first + count` were unmapped by
    /// `punch`; every block from `first + count` on moves down by `count`,
    /// then the size shrinks by as much. [`Shift::Up`]: the size grew by
    /// `count` blocks; every block from `first` on moves up by `count`,
    /// leaving a hole at `first`. The whole page cache of the file was
    /// written back and dropped, and `i_rwsem` and `invalidate_lock` are
    /// held (no fault, read or writeback can see the blocks move).
    fn shift(_file: &FileGuard<Self::FileSystem>, _first: u64, _count: u64, _dir: Shift) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// Which way [`FileOperations::shift`] moves blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shift {
    /// Collapse range: towards the start of the file.
    Down,
    /// Insert range: towards the end.
    Up,
}

/// The iomap operations of regular files of `T`.
pub(in crate::kfs) type ReadOf<T> = <<T as FileSystem>::File as FileOperations>::Read;
/// See [`ReadOf`].
pub(in crate::kfs) type WriteOf<T> = <<T as FileSystem>::File as FileOperations>::Write;
/// See [`ReadOf`].
pub(in crate::kfs) type ReportOf<T> = <<T as FileSystem>::File as FileOperations>::Report;
/// See [`ReadOf`].
pub(in crate::kfs) type WritebackOf<T> = <<T as FileSystem>::File as FileOperations>::Writeback;

/// A regular file whose `i_rwsem` and `invalidate_lock` the caller holds
/// exclusive: nothing else changes its size, its mappings or its page
/// cache. What needs that state ([`zero_range`], [`truncate_page`], the
/// size and punch hooks) takes a `&FileGuard`; only the wrappers make
/// one, from the two lock guards they hold.
///
/// # Invariants
///
/// The inode is a referenced regular file of `T`; both locks are held
/// exclusive for as long as a `&FileGuard` exists.
#[repr(transparent)]
pub struct FileGuard<T: FileSystem>(Locked<T>);

impl<T: FileSystem> core::ops::Deref for FileGuard<T> {
    type Target = Locked<T>;

    fn deref(&self) -> &Locked<T> {
        &self.0
    }
}

impl<T: FileSystem> FileGuard<T> {
    /// The proof that both guards are held over one regular file.
    fn new<'a>(inode: &'a Locked<T>, inval: &'a InvalidateLock<'_, T>) -> Result<&'a Self> {
        if !inode.is_reg() || !core::ptr::eq(inode.as_ptr(), inval.inode().as_ptr()) {
            return Err(EINVAL);
        }
        // SAFETY: `repr(transparent)` over `Locked<T>`; the invariants hold
        // for `'a`: a regular file whose `i_rwsem` is held (`Locked`) and
        // whose `invalidate_lock` is held through `inval`, both borrowed for
        // `'a`.
        Ok(unsafe { &*(inode as *const Locked<T>).cast::<Self>() })
    }
}

/// Changes the size of regular file `inode`: zeroing through iomap, page
/// cache, then the filesystem's blocks.
fn set_size<T: FileSystem>(inode: &Locked<T>, new: u64) -> Result {
    if !T::File::HAS_SET_SIZE || !WriteOf::<T>::HAS_BEGIN {
        return Err(EOPNOTSUPP);
    }
    // Direct writes in flight finish first (`i_rwsem` keeps new ones out).
    // SAFETY: a referenced inode.
    unsafe { b::inode_dio_wait(inode.as_ptr()) };
    let inval = InvalidateLock::lock(inode);
    set_size_guarded(FileGuard::new(inode, &inval)?, new)
}

/// [`set_size`] with both locks already held (and direct I/O drained).
fn set_size_guarded<T: FileSystem>(file: &FileGuard<T>, new: u64) -> Result {
    let inode: &Locked<T> = file;
    let old = u64::try_from(inode.size()).map_err(|_| EINVAL)?;
    if new < old {
        truncate_page(file, new)?;
    } else if new > old {
        zero_range(file, old, new - old)?;
    }
    // SAFETY: a referenced inode with `i_rwsem` and `invalidate_lock` held.
    unsafe { b::truncate_setsize(inode.as_ptr(), new as i64) };
    T::File::set_size(file, old, new).hook()?;
    inode.mark_dirty();
    Ok(())
}

/// Collapse range ([`Shift::Down`]) or insert range ([`Shift::Up`]) of
/// bytes `start .. end` of `inode` (an open `file`), as XFS does them:
/// block-aligned ranges only (`EINVAL`), a collapse ending before EOF, an
/// insert starting before it (`EINVAL`) and not growing past the maximum
/// size (`EFBIG`); both locks held throughout, so no reader, fault or
/// writeback sees blocks in motion. The whole page cache is written back
/// and dropped first (simpler than XFS's rounding to the allocation unit,
/// and correct with large folios straddling `start`: a partly truncated
/// folio would keep stale bytes at the new offsets).
fn shift_range<T: FileSystem>(inode: &Locked<T>, file: *mut b::file, start: u64, end: u64, dir: Shift) -> Result {
    let bits = inode.block_bits();
    let mask = (1u64 << bits) - 1;
    let size = u64::try_from(inode.size()).map_err(|_| EINVAL)?;
    if start & mask != 0 || end & mask != 0 || end <= start {
        return Err(EINVAL);
    }
    let len = end - start;
    let new_size = match dir {
        Shift::Down if end >= size => return Err(EINVAL),
        Shift::Down => size - len,
        Shift::Up if start >= size => return Err(EINVAL),
        Shift::Up => size.checked_add(len).ok_or(EFBIG)?,
    };
    // SAFETY: a referenced inode; `inode_newsize_ok` only reads.
    to_result(unsafe { b::inode_newsize_ok(inode.as_ptr(), i64::try_from(new_size).map_err(|_| EFBIG)?) })?;
    // SAFETY: the file is open and `i_rwsem` is held.
    to_result(unsafe { b::file_modified(file) })?;
    let inval = InvalidateLock::lock(inode);
    let guard = FileGuard::new(inode, &inval)?;
    // Nothing cached may outlive the move at its old offset.
    let flush = || -> Result {
        write_and_wait(inode, 0, i64::MAX as u64 + 1)?;
        // SAFETY: `i_rwsem` and `invalidate_lock` held: no folio can be
        // added again until they are released; -1 is "to the end".
        unsafe { b::truncate_pagecache_range(inode.as_ptr(), 0, -1) };
        Ok(())
    };
    let (first, count) = (start >> bits, len >> bits);
    match dir {
        Shift::Down => {
            flush()?;
            T::File::punch(guard, first, count).hook()?;
            T::File::shift(guard, first, count, Shift::Down).hook()?;
            // Zeroes the new last block's tail at its new offset.
            set_size_guarded(guard, new_size)?;
        }
        Shift::Up => {
            // The size first: growing it zeroes the old last block's tail
            // (before the move, or the zeroes would land on moved data),
            // and dirties that folio, so the flush comes after it.
            set_size_guarded(guard, new_size)?;
            flush()?;
            T::File::shift(guard, first, count, Shift::Up).hook()?;
        }
    }
    inode.touch_ctime();
    inode.mark_dirty();
    Ok(())
}

/// Writes back the page cache of bytes `start .. end` of `inode` and waits
/// for it (`filemap_write_and_wait_range`).
fn write_and_wait<T: FileSystem>(inode: &INode<T>, start: u64, end: u64) -> Result {
    if start >= end {
        return Ok(());
    }
    let start = i64::try_from(start).map_err(|_| EFBIG)?;
    let last = i64::try_from(end - 1).map_err(|_| EFBIG)?;
    // SAFETY: a referenced inode; its mapping lives as long.
    to_result(unsafe { b::filemap_write_and_wait_range((*inode.as_ptr()).i_mapping, start, last) })
}

/// `fsync` of regular files and directories: writes and waits for the
/// range's data, writes the inode unless only its timestamps changed and
/// this is `fdatasync` (`I_DIRTY_DATASYNC` clear), writes the device's
/// metadata buffers (the inode table, directory blocks, bitmaps, tree
/// blocks) and flushes the device's cache.
///
/// # Safety
///
/// Called by `vfs_fsync_range` with an open file of a mounted `T` super
/// block.
pub(in crate::kfs) unsafe extern "C" fn fsync<T: FileSystem>(
    file: *mut b::file,
    start: b::loff_t,
    end: b::loff_t,
    datasync: kernel::ffi::c_int,
) -> kernel::ffi::c_int {
    let _nofs = NoFs::enter();
    from_result(|| {
        // SAFETY: the file is open, so its inode is referenced.
        let inode = unsafe { INode::<T>::from_raw(b::kfs_helper_file_inode(file)) };
        // SAFETY: an open file; waits for the range's writeback.
        to_result(unsafe { b::file_write_and_wait_range(file, start, end) })?;
        // SAFETY: a referenced inode; a `READ_ONCE` of its state bits.
        let datasync_dirty = unsafe { b::kfs_helper_inode_dirty_datasync(inode.as_ptr()) };
        if datasync == 0 || datasync_dirty {
            // SAFETY: a referenced inode; calls `write_inode` if dirty.
            to_result(unsafe { b::sync_inode_metadata(inode.as_ptr(), 1) })?;
        }
        inode.super_block().sync_device()?;
        // SAFETY: an open file.
        to_result(unsafe { b::file_check_and_advance_wb_err(file) })?;
        Ok(0)
    })
}

/// The file and mapping operation tables of regular files of `T`.
pub(in crate::kfs) struct Tables<T: FileSystem>(PhantomData<T>);

impl<T: FileSystem> Tables<T> {
    pub(in crate::kfs) const REG_FOPS: b::file_operations = b::file_operations {
        open: Some(Self::open),
        llseek: Some(Self::llseek),
        read_iter: Some(Self::read_iter),
        write_iter: if WriteOf::<T>::HAS_BEGIN { Some(Self::write_iter) } else { None },
        splice_read: Some(b::filemap_splice_read),
        splice_write: if WriteOf::<T>::HAS_BEGIN { Some(b::iter_file_splice_write) } else { None },
        mmap_prepare: Some(Self::mmap_prepare),
        // With large folios, mappings aligned so that a fault maps a whole
        // folio, as XFS and ext4 ask for: in a misaligned one, a folio that
        // straddles a page table is mapped one page per fault.
        get_unmapped_area: if <T::File as FileOperations>::LARGE_FOLIOS {
            Some(b::kfs_helper_get_unmapped_area)
        } else {
            None
        },
        fsync: Some(fsync::<T>),
        fallocate: if T::File::HAS_ALLOCATE || T::File::HAS_PUNCH { Some(Self::fallocate) } else { None },
        // Buffered reads and writes can be tried without blocking
        // (`IOCB_NOWAIT`, io_uring's first attempt): the page cache and
        // iomap handle it, `write_iter` and the `WriteOps` hooks answer
        // `EAGAIN` where they would wait. Without these, a buffered
        // `RWF_NOWAIT` write is `EINVAL`.
        fop_flags: b::KFS_CONST_FOP_BUFFER_RASYNC
            | if WriteOf::<T>::HAS_BEGIN { b::KFS_CONST_FOP_BUFFER_WASYNC } else { 0 },
        ..pin_init::zeroed()
    };

    pub(in crate::kfs) const REG_IOPS: b::inode_operations = b::inode_operations {
        setattr: Some(Self::setattr),
        getattr: Some(super::inode::getattr::<T>),
        listxattr: super::xattr::Tables::<T>::LISTXATTR,
        get_inode_acl: super::xattr::Tables::<T>::GET_INODE_ACL,
        set_acl: super::xattr::Tables::<T>::SET_ACL,
        fiemap: Some(Self::fiemap),
        fileattr_get: Some(Self::fileattr_get),
        fileattr_set: if T::HAS_SET_FLAGS { Some(Self::fileattr_set) } else { None },
        ..pin_init::zeroed()
    };

    const VM_OPS: b::vm_operations_struct = b::vm_operations_struct {
        fault: Some(b::filemap_fault),
        map_pages: Some(b::filemap_map_pages),
        page_mkwrite: if WriteOf::<T>::HAS_BEGIN { Some(Self::page_mkwrite) } else { None },
        ..pin_init::zeroed()
    };

    /// `open`: `generic_file_open`, and `O_DIRECT` allowed when the
    /// filesystem has direct I/O.
    ///
    /// # Safety
    ///
    /// Called by `do_dentry_open` with a `T` regular file being opened.
    unsafe extern "C" fn open(inode: *mut b::inode, file: *mut b::file) -> kernel::ffi::c_int {
        // SAFETY: per the caller.
        let ret = unsafe { b::generic_file_open(inode, file) };
        if ret == 0 {
            // `IOCB_NOWAIT` requests (`RWF_NOWAIT`, io_uring's first try)
            // are answered without blocking or with `EAGAIN`: buffered
            // reads by the page cache, the rest by `read_iter` and
            // `write_iter` (trylocks) and the mapping hooks
            // ([`crate::kfs::iomap::Flags::NOWAIT`]).
            let direct = if DirectOf::<T>::HAS_BEGIN { b::KFS_CONST_FMODE_CAN_ODIRECT } else { 0 };
            // SAFETY: the file is being opened by this task: nothing else
            // sees `f_mode` yet.
            unsafe { (*file).f_mode |= b::KFS_CONST_FMODE_NOWAIT | direct };
        }
        ret
    }

    /// `read_iter`: direct reads through [`direct::read`] with `i_rwsem`
    /// shared, the rest through the page cache (`generic_file_read_iter`).
    ///
    /// # Safety
    ///
    /// Called by the VFS with a read request on an open regular file of `T`.
    unsafe extern "C" fn read_iter(iocb: *mut b::kiocb, to: *mut b::iov_iter) -> isize {
        // SAFETY: reading the request's flags.
        let flags = unsafe { (*iocb).ki_flags };
        if !DirectOf::<T>::HAS_BEGIN || flags & b::KFS_CONST_IOCB_DIRECT == 0 {
            // SAFETY: per the caller.
            return unsafe { b::generic_file_read_iter(iocb, to) };
        }
        // SAFETY: `to` is the request's iterator.
        if unsafe { b::kfs_helper_iov_iter_count(to) } == 0 {
            return 0;
        }
        // SAFETY: the request's file is open, so its inode is referenced.
        let file = unsafe { (*iocb).ki_filp };
        // SAFETY: as above.
        let inode = unsafe { INode::<T>::from_raw(b::kfs_helper_file_inode(file)) };
        let _lock = match InodeLockShared::lock_or_again(inode, flags & b::KFS_CONST_IOCB_NOWAIT != 0) {
            Ok(lock) => lock,
            Err(e) => return e.to_errno() as isize,
        };
        // SAFETY: an open file.
        unsafe { b::kfs_helper_file_accessed(file) };
        // SAFETY: a direct read with a non-zero count, `i_rwsem` shared.
        unsafe { direct::read::<T>(iocb, to) }
    }

    /// # Safety
    ///
    /// Called by the VFS (`vfs_write` and friends, inside `sb_start_write`)
    /// with a write request on an open regular file of `T`.
    unsafe extern "C" fn write_iter(iocb: *mut b::kiocb, from: *mut b::iov_iter) -> isize {
        let _nofs = NoFs::enter();
        // SAFETY: the request's file is open, so its inode is referenced.
        let inode = unsafe { INode::<T>::from_raw(b::kfs_helper_file_inode((*iocb).ki_filp)) };
        if let Err(e) = super::fs_type::writable(inode.super_block()) {
            return e.to_errno() as isize;
        }
        // SAFETY: reading the request's flags.
        let ki_flags = unsafe { (*iocb).ki_flags };
        // A request that must not block (`IOCB_NOWAIT`) gets `EAGAIN`
        // where it would: a contended `i_rwsem`, zeroing past the old EOF,
        // a direct write that must wait for others, and (in the mapping
        // hooks, `Flags::NOWAIT`) an allocation.
        let nowait = ki_flags & b::KFS_CONST_IOCB_NOWAIT != 0;
        let direct = DirectOf::<T>::HAS_BEGIN && ki_flags & b::KFS_CONST_IOCB_DIRECT != 0;
        if direct && ki_flags & b::KFS_CONST_IOCB_APPEND == 0 {
            // SAFETY: the request and its iterator, from the VFS.
            if let Some(ret) = unsafe { Self::dio_write_shared(inode, iocb, from, nowait) } {
                return ret;
            }
        }
        // Whether iomap's direct path completed the request, including its
        // O_SYNC/O_DSYNC flush.
        let mut synced = false;
        let ret = {
            let lock = match InodeLock::lock_or_again(inode, nowait) {
                Ok(lock) => lock,
                Err(e) => return e.to_errno() as isize,
            };
            let res = (|| -> Result<isize> {
                // SAFETY: a write request with `i_rwsem` held.
                let n = unsafe { b::generic_write_checks(iocb, from) };
                if n <= 0 {
                    return Ok(n);
                }
                // SAFETY: as above.
                to_result(unsafe { b::kiocb_modified(iocb) })?;
                // SAFETY: reading the request's position.
                let pos = u64::try_from(unsafe { (*iocb).ki_pos }).map_err(|_| EINVAL)?;
                let old = u64::try_from(inode.size()).map_err(|_| EINVAL)?;
                if pos > old {
                    if nowait {
                        return Err(EAGAIN);
                    }
                    // Zero the old last block's tail before the size
                    // moves past it: a write past EOF never exposes what
                    // the block held beyond the old EOF.
                    let inval = InvalidateLock::lock(inode);
                    zero_range(FileGuard::new(lock.locked(), &inval)?, old, pos - old)?;
                    if direct {
                        // A direct write can make the new size durable
                        // before writeback gets to those zeros: write them
                        // first.
                        write_and_wait(inode, old, pos)?;
                    }
                }
                if direct {
                    // SAFETY: `from` is the request's iterator.
                    let count = unsafe { b::kfs_helper_iov_iter_count(from) } as u64;
                    let mask = (1u64 << inode.block_bits()) - 1;
                    let completion = if (pos | count) & mask != 0 || pos.saturating_add(count) > old {
                        if nowait {
                            return Err(EAGAIN);
                        }
                        // SAFETY: a referenced inode, `i_rwsem` held.
                        unsafe { b::inode_dio_wait(inode.as_ptr()) };
                        Completion::Wait
                    } else {
                        Completion::MayQueue
                    };
                    // SAFETY: a direct write with `i_rwsem` exclusive, checks
                    // passed, a non-zero count, and `Wait` (after
                    // `inode_dio_wait`) for an unaligned or extending one.
                    let n = unsafe { direct::write::<T>(iocb, from, completion) };
                    if n != ENOTBLK.to_errno() as isize {
                        synced = true;
                        return Ok(n);
                    }
                    // The page cache of the range could not be dropped:
                    // write through it instead.
                }
                // SAFETY: `i_rwsem` held, checks passed.
                let n = unsafe { buffered_write::<T>(iocb, from) };
                if inode.size() as u64 > old {
                    inode.mark_dirty();
                }
                Ok(n)
            })();
            res.unwrap_or_else(|e| e.to_errno() as isize)
        };
        if ret > 0 && !synced {
            // SAFETY: the request, after a successful write.
            unsafe { b::kfs_helper_generic_write_sync(iocb, ret) }
        } else {
            ret
        }
    }

    /// A direct write aligned to the filesystem block that ends inside
    /// EOF, with `i_rwsem` **shared** (see [`crate::kfs::iomap::direct`]):
    /// `None` if the request is not one (or stops being one under the
    /// lock, or iomap could not drop the page cache of the range: then
    /// nothing was written), for the caller's exclusive path.
    ///
    /// # Safety
    ///
    /// `iocb` and `from` are a direct write request on an open regular
    /// file of `T`, `inode` its inode.
    unsafe fn dio_write_shared(inode: &INode<T>, iocb: *mut b::kiocb, from: *mut b::iov_iter, nowait: bool) -> Option<isize> {
        let mask = (1u64 << inode.block_bits()) - 1;
        // SAFETY: reading the request's position and its iterator's count.
        let (pos, count) = unsafe { ((*iocb).ki_pos, b::kfs_helper_iov_iter_count(from) as u64) };
        let pos = u64::try_from(pos).ok()?;
        // `S_NOSEC`: no setuid bits or security attributes to strip;
        // stripping them (in `kiocb_modified`) needs `i_rwsem` exclusive.
        let eligible = |inode: &INode<T>| {
            // SAFETY: `i_flags` of a referenced inode, read once.
            let nosec = unsafe { core::ptr::read_volatile(&raw const (*inode.as_ptr()).i_flags) } & b::KFS_CONST_S_NOSEC != 0;
            count != 0 && (pos | count) & mask == 0 && nosec && pos.saturating_add(count) <= inode.size() as u64
        };
        if !eligible(inode) {
            return None;
        }
        let lock = match InodeLockShared::lock_or_again(inode, nowait) {
            Ok(lock) => lock,
            Err(e) => return Some(e.to_errno() as isize),
        };
        // The size changes only under `i_rwsem` exclusive: stable now.
        if !eligible(lock.inode()) {
            return None;
        }
        // SAFETY: a write request with `i_rwsem` held (shared suffices:
        // the checks read the size, which cannot change now).
        let n = unsafe { b::generic_write_checks(iocb, from) };
        if n <= 0 {
            return Some(n);
        }
        // The limits may have shortened it (RLIMIT_FSIZE, s_maxbytes).
        // SAFETY: reading the iterator's count.
        if unsafe { b::kfs_helper_iov_iter_count(from) } as u64 & mask != 0 {
            return None;
        }
        // SAFETY: as above; with `S_NOSEC` this only updates the times.
        if let Err(e) = to_result(unsafe { b::kiocb_modified(iocb) }) {
            return Some(e.to_errno() as isize);
        }
        // SAFETY: a direct write, checks passed, a non-zero count, aligned
        // to the block and inside EOF, `i_rwsem` shared.
        let n = unsafe { direct::write::<T>(iocb, from, Completion::MayQueue) };
        if n == ENOTBLK.to_errno() as isize {
            // Not started: the exclusive path falls back to the page cache.
            return None;
        }
        drop(lock);
        Some(n)
    }

    /// # Safety
    ///
    /// Called by `mmap` with the description of a new mapping of a `T` file.
    unsafe extern "C" fn mmap_prepare(desc: *mut b::vm_area_desc) -> kernel::ffi::c_int {
        // SAFETY: `desc` is valid and its file open (caller guarantee).
        unsafe {
            b::kfs_helper_file_accessed((*desc).file);
            (*desc).vm_ops = &Self::VM_OPS;
        }
        0
    }

    /// # Safety
    ///
    /// Called by the fault handler for a write fault on a shared mapping of
    /// a `T` file, with the `mmap_lock` (or the VMA lock) held.
    unsafe extern "C" fn page_mkwrite(vmf: *mut b::vm_fault) -> b::vm_fault_t {
        let _nofs = NoFs::enter();
        // SAFETY: the faulting VMA maps an open file.
        let file = unsafe { b::kfs_helper_vmf_file(vmf) };
        // SAFETY: the file is open, so its inode is referenced.
        let inode = unsafe { INode::<T>::from_raw(b::kfs_helper_file_inode(file)) };
        // SAFETY: a referenced inode of a mounted super block.
        let sb = unsafe { (*inode.as_ptr()).i_sb };
        // SAFETY: the freeze protection and time update iomap's
        // page_mkwrite expects, released in reverse order.
        unsafe {
            b::kfs_helper_sb_start_pagefault(sb);
            b::file_update_time(file);
        }
        let ret = {
            let _inval = InvalidateLockShared::lock(inode);
            // SAFETY: a write fault on a shared mapping of a `T` regular
            // file, inside `sb_start_pagefault`, `invalidate_lock` shared.
            unsafe { page_mkwrite::<T>(vmf) }
        };
        // SAFETY: paired with the start above.
        unsafe { b::kfs_helper_sb_end_pagefault(sb) };
        ret
    }

    /// # Safety
    ///
    /// Called by `vfs_fallocate` (inside `sb_start_write`) with an open `T`
    /// regular file and a range it checked.
    unsafe extern "C" fn fallocate(
        file: *mut b::file,
        mode: kernel::ffi::c_int,
        offset: b::loff_t,
        len: b::loff_t,
    ) -> kernel::ffi::c_long {
        let _nofs = NoFs::enter();
        from_result(|| {
            // SAFETY: the file is open, so its inode is referenced.
            let inode = unsafe { INode::<T>::from_raw(b::kfs_helper_file_inode(file)) };
            super::fs_type::writable(inode.super_block())?;
            let mode = mode as u32;
            let keep = mode & b::FALLOC_FL_KEEP_SIZE != 0;
            let op = mode & !b::FALLOC_FL_KEEP_SIZE;
            let supported = match op {
                0 => T::File::HAS_ALLOCATE,
                b::FALLOC_FL_PUNCH_HOLE => T::File::HAS_PUNCH && WriteOf::<T>::HAS_BEGIN,
                b::FALLOC_FL_ZERO_RANGE => {
                    T::File::HAS_PUNCH && T::File::HAS_ALLOCATE && WriteOf::<T>::HAS_BEGIN
                }
                b::FALLOC_FL_COLLAPSE_RANGE | b::FALLOC_FL_INSERT_RANGE => {
                    T::File::HAS_SHIFT && T::File::HAS_PUNCH && T::File::HAS_SET_SIZE && WriteOf::<T>::HAS_BEGIN
                }
                _ => false,
            };
            if !supported {
                return Err(EOPNOTSUPP);
            }
            let start = u64::try_from(offset).map_err(|_| EINVAL)?;
            let end = start.checked_add(u64::try_from(len).map_err(|_| EINVAL)?).ok_or(EFBIG)?;
            let lock = InodeLock::lock(inode);
            // Direct writes in flight finish before the map changes.
            // SAFETY: a referenced inode, `i_rwsem` held.
            unsafe { b::inode_dio_wait(inode.as_ptr()) };
            if op == b::FALLOC_FL_COLLAPSE_RANGE || op == b::FALLOC_FL_INSERT_RANGE {
                let dir = if op == b::FALLOC_FL_COLLAPSE_RANGE { Shift::Down } else { Shift::Up };
                shift_range(lock.locked(), file, start, end, dir)?;
                return Ok(0);
            }
            if !keep {
                // SAFETY: a referenced inode; `inode_newsize_ok` only reads.
                to_result(unsafe { b::inode_newsize_ok(inode.as_ptr(), end as i64) })?;
            }
            // SAFETY: the file is open and `i_rwsem` is held.
            to_result(unsafe { b::file_modified(file) })?;
            let bits = inode.block_bits();
            let mask = (1u64 << bits) - 1;
            let first = (start + mask) >> bits; // first whole block
            let last = end >> bits; // end of the whole blocks
            let size = u64::try_from(inode.size()).map_err(|_| EINVAL)?;
            // Punch and zero range keep faults out until the range is final.
            let inval = (op != 0).then(|| InvalidateLock::lock(inode));
            if let Some(inval) = &inval {
                let guard = FileGuard::new(lock.locked(), inval)?;
                // Partial blocks at either end, inside EOF: zero them in
                // the page cache.
                let head_end = end.min((start + mask) & !mask).min(size);
                if start < head_end {
                    zero_range(guard, start, head_end - start)?;
                }
                let tail_start = (end & !mask).max(start);
                if tail_start < end.min(size) && tail_start >= head_end {
                    zero_range(guard, tail_start, end.min(size) - tail_start)?;
                }
                if first < last {
                    // Write back the folios the blocks lie in first, as XFS
                    // does: a folio that straddles the range keeps its
                    // per-block dirty bits when only part of it is
                    // truncated, and writeback would then find dirty data
                    // over a block that is now a hole or unwritten. Faults
                    // wait on `invalidate_lock`, so nothing dirties them
                    // again before the truncate.
                    let page = kernel::page::PAGE_SIZE as u64;
                    let lo = (first << bits) & !(page - 1);
                    let hi = ((last << bits) + page - 1) & !(page - 1);
                    write_and_wait(inode, lo, hi)?;
                    // SAFETY: `i_rwsem` and `invalidate_lock` held; the
                    // range is inside the file's page cache index space.
                    unsafe {
                        b::truncate_pagecache_range(
                            inode.as_ptr(),
                            (first << bits) as i64,
                            ((last << bits) - 1) as i64,
                        )
                    };
                    T::File::punch(guard, first, last - first).hook()?;
                }
            }
            if op != b::FALLOC_FL_PUNCH_HOLE {
                // Preallocation, and zero range's blocks again: every block
                // the range touches.
                let lo = start >> bits;
                let hi = (end + mask) >> bits;
                T::File::allocate(lock.locked(), lo, hi - lo).hook()?;
            }
            // `set_size` takes `invalidate_lock` itself.
            drop(inval);
            if op != b::FALLOC_FL_PUNCH_HOLE && !keep && end > size {
                set_size(lock.locked(), end)?;
            }
            inode.touch_ctime();
            inode.mark_dirty();
            Ok(0)
        })
    }

    /// `llseek` of regular files: `SEEK_HOLE`/`SEEK_DATA` through iomap's
    /// reporting walk, everything else as `generic_file_llseek`.
    ///
    /// # Safety
    ///
    /// Called by the VFS with an open regular file of `T`.
    unsafe extern "C" fn llseek(file: *mut b::file, offset: b::loff_t, whence: kernel::ffi::c_int) -> b::loff_t {
        let how = match whence {
            b::KFS_CONST_SEEK_HOLE => Seek::Hole,
            b::KFS_CONST_SEEK_DATA => Seek::Data,
            // SAFETY: per the caller.
            _ => return unsafe { b::generic_file_llseek(file, offset, whence) },
        };
        let _nofs = NoFs::enter();
        // SAFETY: the file is open, so its inode is referenced.
        let inode = unsafe { INode::<T>::from_raw(b::kfs_helper_file_inode(file)) };
        let found = {
            // Size and mappings change only under `i_rwsem` exclusive.
            let lock = InodeLockShared::lock(inode);
            seek(&lock, offset, how)
        };
        match found {
            Err(e) => e.to_errno().into(),
            // SAFETY: the file is open; `vfs_setpos` checks the offset
            // against the filesystem's limit and sets `f_pos`.
            Ok(pos) => unsafe { b::vfs_setpos(file, pos, inode.super_block().max_bytes()) },
        }
    }

    /// `fiemap` of regular files.
    ///
    /// # Safety
    ///
    /// Called by `ioctl_fiemap` with a referenced `T` regular file and its
    /// request.
    unsafe extern "C" fn fiemap(
        inode: *mut b::inode,
        fieinfo: *mut b::fiemap_extent_info,
        start: u64,
        len: u64,
    ) -> kernel::ffi::c_int {
        let _nofs = NoFs::enter();
        // SAFETY: a referenced inode of `T`, per the caller.
        let inode = unsafe { INode::<T>::from_raw(inode) };
        let lock = InodeLockShared::lock(inode);
        // SAFETY: `fieinfo` is the VFS's request for this inode.
        from_result(|| unsafe { report::fiemap(&lock, fieinfo, start, len) }.map(|()| 0))
    }

    /// `setattr` of every inode type of `T`.
    ///
    /// # Safety
    ///
    /// Called by `notify_change` with a dentry of a `T` inode whose
    /// `i_rwsem` is held exclusive.
    pub(in crate::kfs) unsafe extern "C" fn setattr(
        idmap: *mut b::mnt_idmap,
        dentry: *mut b::dentry,
        attr: *mut b::iattr,
    ) -> kernel::ffi::c_int {
        let _nofs = NoFs::enter();
        from_result(|| {
            // SAFETY: a positive dentry of a `T` inode, which it references.
            let inode = unsafe { INode::<T>::from_raw(b::kfs_helper_d_inode(dentry)) };
            super::fs_type::writable(inode.super_block())?;
            // SAFETY: per the caller.
            to_result(unsafe { b::setattr_prepare(idmap, dentry, attr) })?;
            // SAFETY: `attr` is valid.
            let (valid, size) = unsafe { ((*attr).ia_valid, (*attr).ia_size) };
            if valid & b::ATTR_SIZE != 0 {
                if !inode.is_reg() {
                    return Err(EINVAL);
                }
                let size = u64::try_from(size).map_err(|_| EINVAL)?;
                if size != inode.size() as u64 {
                    // SAFETY: the VFS holds `i_rwsem` exclusive (caller).
                    set_size(unsafe { Locked::<T>::from_raw(inode.as_ptr()) }, size)?;
                    // truncate(2) by path asks for no times; a size change
                    // still sets mtime and ctime (POSIX, as XFS and ext4 do).
                    if valid & (b::ATTR_MTIME | b::ATTR_CTIME) == 0 {
                        inode.touch_mtime_ctime();
                    }
                }
            }
            // SAFETY: checked by `setattr_prepare`, `i_rwsem` held.
            unsafe { b::setattr_copy(idmap, inode.as_ptr(), attr) };
            inode.mark_dirty();
            // SAFETY: `i_mode` of a referenced inode, `i_rwsem` held.
            let symlink = unsafe { u32::from((*inode.as_ptr()).i_mode) & b::S_IFMT == b::S_IFLNK };
            // SAFETY: a referenced inode.
            if valid & b::ATTR_MODE != 0 && !symlink && unsafe { super::xattr::Tables::<T>::acl_on(inode.as_ptr()) } {
                // The access ACL follows the new mode (its mask or group
                // entry, as `chmod` on XFS and ext4).
                // SAFETY: per the caller: the dentry, `i_rwsem` held.
                to_result(unsafe { b::posix_acl_chmod(idmap, dentry, (*inode.as_ptr()).i_mode) })?;
            }
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFS (`vfs_fileattr_get`: `lsattr`, `FS_IOC_GETFLAGS`)
    /// with a positive dentry of a `T` inode and a valid `fa`.
    pub(in crate::kfs) unsafe extern "C" fn fileattr_get(
        dentry: *mut b::dentry,
        fa: *mut kernel::bindings::file_kattr,
    ) -> kernel::ffi::c_int {
        // `kernel::bindings` knows `file_kattr` only as an opaque stub; ours
        // is the full definition of the same C type.
        let fa = fa.cast::<b::file_kattr>();
        // SAFETY: per the caller; `i_flags` is read once (a racing
        // `chattr` gives the old or the new flags).
        unsafe {
            let inode = b::kfs_helper_d_inode(dentry);
            let flags = INodeFlags::from_i_flags(core::ptr::read_volatile(&raw const (*inode).i_flags));
            b::fileattr_fill_flags(fa, flags.to_fs_fl());
        }
        0
    }

    /// # Safety
    ///
    /// Called by the VFS (`vfs_fileattr_set`: `chattr`) with a positive
    /// dentry of a `T` inode, `i_rwsem` held, the change checked by
    /// `fileattr_set_prepare`, and a valid `fa`.
    pub(in crate::kfs) unsafe extern "C" fn fileattr_set(
        _idmap: *mut b::mnt_idmap,
        dentry: *mut b::dentry,
        fa: *mut kernel::bindings::file_kattr,
    ) -> kernel::ffi::c_int {
        let fa = fa.cast::<b::file_kattr>();
        let _nofs = NoFs::enter();
        from_result(|| {
            // SAFETY: `fa` is valid (caller).
            let (bits, fsx) = unsafe { (b::kfs_helper_fileattr_flags(fa), b::kfs_helper_fileattr_has_fsx(fa)) };
            let flags = INodeFlags::from_fs_fl(bits).filter(|_| !fsx).ok_or(EOPNOTSUPP)?;
            // SAFETY: a positive dentry of a `T` inode, `i_rwsem` held by
            // the VFS (caller).
            let inode = unsafe { Locked::<T>::from_raw(b::kfs_helper_d_inode(dentry)) };
            super::fs_type::writable(inode.super_block())?;
            T::set_flags(inode, flags).hook()?;
            // SAFETY: the inode is referenced; `inode_set_flags` updates
            // `i_flags` atomically against other flag changes.
            unsafe {
                b::inode_set_flags(inode.as_ptr(), flags.to_i_flags(), INodeFlags::I_FLAGS_MASK);
                b::inode_set_ctime_current(inode.as_ptr());
            }
            inode.mark_dirty();
            Ok(0)
        })
    }
}
