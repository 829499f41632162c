// SPDX-License-Identifier: GPL-2.0

//! Direct I/O: `iomap_dio_rw` with a filesystem's [`DirectOps`].
//!
//! C header: [`include/linux/iomap.h`](srctree/include/linux/iomap.h);
//! model: XFS's `xfs_file_dio_read`, `xfs_file_dio_write_*` and
//! `xfs_dio_write_end_io`.
//!
//! Data moves between the user's buffer and the device without the page
//! cache. iomap flushes the page cache of the range before a read and
//! writes back and drops it before a write (and drops it again after), so
//! buffered and direct I/O see one file. The wrappers in
//! [`crate::kfs::vfs::file`] take the locks and pick the mode:
//!
//! - reads: `i_rwsem` shared; holes and unwritten blocks read as zeros;
//! - writes aligned to the filesystem block that end inside EOF, on an
//!   inode with nothing to strip on write (`S_NOSEC`: no setuid bits or
//!   security attributes): `i_rwsem` **shared**, as XFS's
//!   `xfs_file_dio_write_aligned`, so that writers of one file (a
//!   database, a VM image) run in parallel. Nothing they do needs the
//!   exclusive lock: no sub-block zeroing, no size change; the
//!   filesystem's map has its own lock for the blocks they allocate;
//!   truncate, fallocate and buffered writes take `i_rwsem` exclusive and
//!   wait for them (`inode_dio_wait`);
//! - other writes: `i_rwsem` exclusive. A write that is not aligned to the
//!   filesystem block or that ends past EOF first waits for every direct
//!   I/O in flight (`inode_dio_wait`) and is completed before the lock is
//!   dropped (`IOMAP_DIO_FORCE_WAIT`, even for AIO): iomap zeroes the rest
//!   of a partly written new or unwritten block, which must not race
//!   another write to that block, and the new size must be set under the
//!   lock. Other AIO writes complete on the super block's direct-I/O
//!   workqueue, after the lock was dropped.
//!
//! The filesystem answers mapping requests ([`DirectOps::begin`]: a write
//! is never given a hole; new blocks are allocated **unwritten**, as XFS
//! does, so no reader sees them before the data is there) and converts
//! what was written once the data is on the device
//! ([`DirectOps::write_done`], in process context, only when there is
//! something to do). The wrapper then sets the new size.

use crate::kfs::HookResult;
use super::{ops::begin_with, Flags, Mapping};
use crate::kfs::{
    bindings as b,
    vfs::{FileSystem, INode, NoFs},
};
use core::marker::PhantomData;
use kernel::prelude::*;

/// The mapping of file ranges for direct I/O, and what to do when a direct
/// write completes (`iomap_ops` with `iomap_dio_ops`).
///
/// A filesystem that does not implement [`Self::begin`] (an empty
/// `#[vtable]` impl) has no direct I/O: `O_DIRECT` opens fail with
/// `EINVAL`.
#[vtable]
pub trait DirectOps: Sized + 'static {
    /// The filesystem whose inodes this maps.
    type FileSystem: FileSystem;

    /// Maps the range starting at byte `pos` of `inode`, up to `len` bytes,
    /// for direct I/O (`flags` has [`Flags::DIRECT`], and [`Flags::WRITE`]
    /// for a write). A read is answered with the map as it is. A write
    /// must not be answered with a hole: allocate unwritten blocks
    /// ([`Mapping::unwritten`] with [`Mapping::new_blocks`]), and leave
    /// unwritten blocks unwritten until [`Self::write_done`]. With
    /// [`Flags::NOWAIT`], return `EAGAIN` rather than allocate or block.
    ///
    /// Called with `i_rwsem` held (shared for a read and for a write
    /// aligned to the filesystem block that ends inside EOF, exclusive for
    /// the other writes) and no folio lock: two aligned writes may ask for
    /// the same range at once, and both must get the same blocks.
    fn begin(_inode: &INode<Self::FileSystem>, _pos: u64, _len: u64, _flags: Flags) -> Result<Mapping> {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The direct write of `offset .. offset + len` of `inode` is on the
    /// device. Called in process context, without `i_rwsem` when the write
    /// was asynchronous, and only when there is work to do: the write went
    /// to unwritten blocks (`unwritten`: convert them), or it ends past the
    /// in-memory size (advance the size on disk to `offset + len`; the
    /// wrapper sets `i_size` after this returns). A write that failed
    /// leaves its blocks unwritten and calls nothing: they read as zeros.
    /// An error returned fails the write.
    fn write_done(_inode: &INode<Self::FileSystem>, _offset: u64, _len: u64, _unwritten: bool) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// The `iomap_ops` and `iomap_dio_ops` of a [`DirectOps`].
pub(in crate::kfs) struct DirectTable<O: DirectOps>(PhantomData<O>);

impl<O: DirectOps> DirectTable<O> {
    const OPS: b::iomap_ops = b::iomap_ops {
        iomap_begin: Some(Self::begin),
        ..pin_init::zeroed()
    };

    const DIO_OPS: b::iomap_dio_ops = b::iomap_dio_ops {
        end_io: Some(Self::end_io),
        ..pin_init::zeroed()
    };

    /// # Safety
    ///
    /// Called by `iomap_dio_rw` with the referenced inode of an open
    /// `O::FileSystem` file and a zeroed `iomap` to fill in.
    unsafe extern "C" fn begin(
        inode: *mut b::inode,
        pos: b::loff_t,
        length: b::loff_t,
        flags: kernel::ffi::c_uint,
        iomap: *mut b::iomap,
        _srcmap: *mut b::iomap,
    ) -> kernel::ffi::c_int {
        // SAFETY: per the caller.
        unsafe { begin_with(inode, pos, length, flags, iomap, O::begin) }
    }

    /// `end_io` of direct writes (reads pass no `iomap_dio_ops`).
    ///
    /// iomap calls it from the submitting task (synchronous I/O), from the
    /// super block's direct-I/O workqueue, or, for an asynchronous pure
    /// overwrite inside EOF that succeeded, from the bio's completion
    /// (interrupt context). Only the last needs nothing from the
    /// filesystem: iomap completes in process context every write that
    /// went to unwritten or new blocks (`IOMAP_DIO_UNWRITTEN`), extends the
    /// file or failed. The filesystem is called for exactly the first two,
    /// after checking that this is not interrupt or softirq context (a
    /// guard against iomap changing that; it does not see a task that
    /// disabled preemption).
    ///
    /// # Safety
    ///
    /// Called by iomap's direct-I/O completion with the request of a
    /// direct write on an open `O::FileSystem` regular file.
    unsafe extern "C" fn end_io(
        iocb: *mut b::kiocb,
        size: isize,
        error: kernel::ffi::c_int,
        flags: kernel::ffi::c_uint,
    ) -> kernel::ffi::c_int {
        if error != 0 {
            return error;
        }
        // SAFETY: the request is live until iomap completes it.
        let (file, pos) = unsafe { ((*iocb).ki_filp, (*iocb).ki_pos) };
        let (Ok(offset), Ok(len)) = (u64::try_from(pos), u64::try_from(size)) else {
            return EIO.to_errno();
        };
        if len == 0 {
            return 0;
        }
        // SAFETY: the file is open (the request holds it), so its inode is
        // referenced.
        let inode = unsafe { INode::<O::FileSystem>::from_raw(b::kfs_helper_file_inode(file)) };
        let Some(end) = offset.checked_add(len) else { return EIO.to_errno() };
        let unwritten = flags & b::IOMAP_DIO_UNWRITTEN != 0;
        let extends = end > u64::try_from(inode.size()).unwrap_or(0);
        if !unwritten && !extends {
            return 0;
        }
        // SAFETY: reads the preempt count and the irq flags of this CPU.
        if !unsafe { b::kfs_helper_can_sleep() } {
            pr_err!("{}: inode {}: direct write completion in atomic context; not converted\n",
                inode.super_block().id(), inode.ino());
            return EIO.to_errno();
        }
        let _nofs = NoFs::enter();
        if let Err(e) = O::write_done(inode, offset, len, unwritten).hook() {
            return e.to_errno();
        }
        if extends {
            // Extending writes complete under `i_rwsem` exclusive (the
            // write waited for them: module docs), which serialises every
            // size change.
            // SAFETY: a referenced inode; its size is changed under
            // `i_rwsem`.
            unsafe { b::kfs_helper_i_size_write(inode.as_ptr(), end as i64) };
            inode.mark_dirty();
        }
        0
    }
}

/// What a direct write must do besides its I/O, decided by the wrapper
/// before it calls [`write`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub(in crate::kfs) enum Completion {
    /// Completes in the background when the request is asynchronous.
    MayQueue,
    /// Waits for completion (`IOMAP_DIO_FORCE_WAIT`): the write is not
    /// block-aligned or extends the file.
    Wait,
}

/// `iomap_dio_rw` of a direct read of a `T` file. Returns the bytes read,
/// `-EIOCBQUEUED` for a queued asynchronous request, or an error.
///
/// # Safety
///
/// `iocb` and `to` are a direct read request on an open regular file of
/// `T` whose `i_rwsem` is held shared, with a non-zero count.
pub(in crate::kfs) unsafe fn read<T: FileSystem>(iocb: *mut b::kiocb, to: *mut b::iov_iter) -> isize {
    // SAFETY: per the caller; the table is `'static`; reads need no
    // `iomap_dio_ops`.
    unsafe {
        b::iomap_dio_rw(
            iocb,
            to,
            &DirectTable::<DirectOf<T>>::OPS,
            core::ptr::null(),
            0,
            core::ptr::null_mut(),
            0,
        )
    }
}

/// `iomap_dio_rw` of a direct write to a `T` file. Returns the bytes
/// written, `-EIOCBQUEUED`, `-ENOTBLK` when the page cache of the range
/// could not be dropped (the caller falls back to a buffered write), or an
/// error.
///
/// # Safety
///
/// `iocb` and `from` are a direct write request on an open regular file of
/// `T` after `generic_write_checks`, with a non-zero count. `i_rwsem` is
/// held exclusive; or shared when the write is aligned to the filesystem
/// block and ends inside EOF (then nothing changes the size while it is
/// held). With [`Completion::Wait`] whenever the write is not aligned to
/// the filesystem block or ends past EOF, after `inode_dio_wait`.
pub(in crate::kfs) unsafe fn write<T: FileSystem>(
    iocb: *mut b::kiocb,
    from: *mut b::iov_iter,
    completion: Completion,
) -> isize {
    let flags = match completion {
        Completion::MayQueue => 0,
        Completion::Wait => b::IOMAP_DIO_FORCE_WAIT,
    };
    // SAFETY: per the caller; the tables are `'static`.
    unsafe {
        b::iomap_dio_rw(
            iocb,
            from,
            &DirectTable::<DirectOf<T>>::OPS,
            &DirectTable::<DirectOf<T>>::DIO_OPS,
            flags,
            core::ptr::null_mut(),
            0,
        )
    }
}

/// The direct-I/O operations of regular files of `T`.
pub(in crate::kfs) type DirectOf<T> =
    <<T as FileSystem>::File as crate::kfs::vfs::FileOperations>::Direct;
