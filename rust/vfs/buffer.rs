// SPDX-License-Identifier: GPL-2.0

//! Metadata blocks through the block device's page cache (`struct
//! buffer_head`).
//!
//! C header: [`include/linux/buffer_head.h`](srctree/include/linux/buffer_head.h).
//!
//! A [`Buffer`] holds a reference to one filesystem block of the device, read
//! and up to date. Its bytes are reachable only through [`Buffer::lock`], which
//! takes the buffer lock: two users of the same block (say, two inodes in one
//! inode-table block) never see each other's half-written bytes.
//!
//! A buffer borrows the super block it was read from (`Buffer<'sb>`): it
//! cannot be kept in the filesystem's data, nor live across a change of the
//! block size (`NewSuperBlock::set_block_size` takes `&mut`).

use crate::kfs::bindings as b;
use core::{marker::PhantomData, ptr::NonNull};
use kernel::{prelude::*, types::NotThreadSafe};

/// A referenced, up-to-date block of the device; released when dropped.
pub struct Buffer<'sb> {
    bh: NonNull<b::buffer_head>,
    _sb: PhantomData<&'sb ()>,
}

// SAFETY: A buffer head reference may be used and dropped from any thread;
// access to the data is serialised by the buffer lock (see `lock`).
unsafe impl Send for Buffer<'_> {}
// SAFETY: `&Buffer` gives no access to the data without the buffer lock.
unsafe impl Sync for Buffer<'_> {}

impl Buffer<'_> {
    /// Reads block `block` (in units of the super block's block size).
    ///
    /// # Safety
    ///
    /// `sb` must be a live super block with a block device whose block size
    /// is set (`sb_set_blocksize`/`sb_min_blocksize`), and stays so for the
    /// lifetime the caller gives the result.
    pub(in crate::kfs) unsafe fn read(sb: *mut b::super_block, block: u64) -> Result<Self> {
        // SAFETY: `sb` is valid (caller guarantee); `sb_bread` returns a
        // referenced, up-to-date buffer or NULL on I/O error.
        let bh = unsafe { b::kfs_helper_sb_bread(sb, block) };
        NonNull::new(bh).map(|bh| Self { bh, _sb: PhantomData }).ok_or(EIO)
    }

    /// A block the caller will fill completely: not read from the device;
    /// its bytes start zeroed and up to date.
    ///
    /// # Safety
    ///
    /// As for [`Self::read`]; the caller ties the result's lifetime to the
    /// super block.
    pub(in crate::kfs) unsafe fn new_zeroed(sb: *mut b::super_block, block: u64) -> Result<Self> {
        // SAFETY: `sb` is valid (caller guarantee); the helper returns a
        // referenced, up-to-date buffer or NULL.
        let bh = unsafe { b::kfs_helper_sb_getblk_zeroed(sb, block) };
        NonNull::new(bh).map(|bh| Self { bh, _sb: PhantomData }).ok_or(ENOMEM)
    }

    /// The block number (in filesystem blocks).
    pub fn block_nr(&self) -> u64 {
        // SAFETY: `self.bh` is referenced (type invariant); `b_blocknr` does
        // not change while it is mapped.
        unsafe { (*self.bh.as_ptr()).b_blocknr }
    }

    /// Takes the buffer lock (sleeps) for access to the bytes.
    pub fn lock(&self) -> BufferGuard<'_> {
        // SAFETY: `self.bh` is referenced (type invariant).
        unsafe { b::kfs_helper_lock_buffer(self.bh.as_ptr()) };
        BufferGuard { bh: self.bh, _buf: PhantomData, _task: NotThreadSafe }
    }
}

impl Drop for Buffer<'_> {
    fn drop(&mut self) {
        // SAFETY: we own one reference, taken by `sb_bread`.
        unsafe { b::kfs_helper_brelse(self.bh.as_ptr()) };
    }
}

/// The bytes of a locked [`Buffer`]; unlocked when dropped, by the task that
/// locked it (`!Send`).
pub struct BufferGuard<'a> {
    bh: NonNull<b::buffer_head>,
    _buf: PhantomData<&'a ()>,
    _task: NotThreadSafe,
}

impl BufferGuard<'_> {
    /// The block's bytes.
    pub fn data(&self) -> &[u8] {
        let bh = self.bh.as_ptr();
        // SAFETY: the buffer is referenced and up to date, `b_data` points at
        // `b_size` bytes of its page, and we hold the buffer lock.
        unsafe { core::slice::from_raw_parts((*bh).b_data.cast::<u8>(), (*bh).b_size) }
    }

    /// Whether the bytes were marked checked ([`Self::set_checked`]) since
    /// they were last read from the device or handed out by
    /// [`Self::data_mut`]. Lets a filesystem verify a cached block's
    /// checksum once instead of on every use.
    pub fn checked(&self) -> bool {
        // SAFETY: the buffer is referenced; reading a state bit.
        unsafe { b::kfs_helper_buffer_checked(self.bh.as_ptr()) }
    }

    /// Marks the bytes as verified by the filesystem. They cannot change
    /// while the lock is held, and a later [`Self::data_mut`] or read from
    /// the device clears the mark.
    pub fn set_checked(&mut self) {
        // SAFETY: the buffer is referenced; an atomic bit operation on its
        // filesystem-private state bit.
        unsafe { b::kfs_helper_set_buffer_checked(self.bh.as_ptr(), true) };
    }

    /// The block's bytes, for changing them; follow with [`Self::mark_dirty`].
    /// Clears the [`Self::checked`] mark.
    pub fn data_mut(&mut self) -> &mut [u8] {
        let bh = self.bh.as_ptr();
        // SAFETY: the buffer is referenced; atomic bit operation.
        unsafe { b::kfs_helper_set_buffer_checked(bh, false) };
        // SAFETY: as in `data`; `&mut self` makes this the only view.
        unsafe { core::slice::from_raw_parts_mut((*bh).b_data.cast::<u8>(), (*bh).b_size) }
    }

    /// Marks the buffer dirty: writeback (or `sync_fs`) writes it out.
    pub fn mark_dirty(&mut self) {
        // SAFETY: the buffer is referenced and up to date.
        unsafe { b::mark_buffer_dirty(self.bh.as_ptr()) };
    }
}

impl Drop for BufferGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: we took the lock in `Buffer::lock`.
        unsafe { b::unlock_buffer(self.bh.as_ptr()) };
    }
}
