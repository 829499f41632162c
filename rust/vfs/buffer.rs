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
//! The lock does not keep everyone else out of those bytes: they are the
//! block device's page cache, which a process with the device open for
//! writing (`CONFIG_BLK_DEV_WRITE_MOUNTED`, the default, lets root open a
//! mounted device) stores into with no lock at all, by `write(2)` or through
//! a shared mapping. A Rust reference to those bytes would then be a data
//! race, and a decoder could see a field change between its check and its
//! use. So the guard hands out a private copy instead: taken under the lock
//! with the C `memcpy` (as `copy_from_user` reads memory another task may
//! be writing), and copied back before [`BufferGuard::mark_dirty`] and
//! when the guard is dropped, if it was changed. What a filesystem decodes
//! never changes under it; a writer to the device can still hand it
//! corrupt bytes, as it can to any filesystem, which is what its checksums
//! and checks are for.
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

    /// Takes the buffer lock (sleeps) for access to the bytes, and copies
    /// them (`ENOMEM` if the copy cannot be allocated).
    pub fn lock(&self) -> Result<BufferGuard<'_>> {
        let bh = self.bh.as_ptr();
        // SAFETY: `self.bh` is referenced (type invariant); `b_size` does not
        // change while it is.
        let size = unsafe { (*bh).b_size };
        // Allocated before the lock: no reclaim with the buffer locked.
        let mut copy = KVec::<u8>::with_capacity(size, GFP_KERNEL)?;
        // SAFETY: `self.bh` is referenced (type invariant).
        unsafe { b::kfs_helper_lock_buffer(bh) };
        // SAFETY: the buffer is referenced, up to date and locked; the helper
        // copies its `b_size` bytes into `copy`, which has room for them.
        unsafe { b::kfs_helper_buffer_copy_out(bh, copy.as_mut_ptr().cast()) };
        // SAFETY: the first `size` elements were just written.
        unsafe { copy.inc_len(size) };
        Ok(BufferGuard { bh: self.bh, copy, changed: false, _buf: PhantomData, _task: NotThreadSafe })
    }
}

impl Drop for Buffer<'_> {
    fn drop(&mut self) {
        // SAFETY: we own one reference, taken by `sb_bread`.
        unsafe { b::kfs_helper_brelse(self.bh.as_ptr()) };
    }
}

/// The bytes of a locked [`Buffer`], as a private copy (see the module
/// documentation); written back if changed, and unlocked, when dropped, by
/// the task that locked it (`!Send`).
pub struct BufferGuard<'a> {
    bh: NonNull<b::buffer_head>,
    /// The block's bytes when the lock was taken, with the caller's changes.
    copy: KVec<u8>,
    /// Whether `copy` holds changes the buffer does not have yet.
    changed: bool,
    _buf: PhantomData<&'a ()>,
    _task: NotThreadSafe,
}

impl BufferGuard<'_> {
    /// The block's bytes.
    pub fn data(&self) -> &[u8] {
        &self.copy
    }

    /// Copies the changed bytes into the buffer.
    fn store(&mut self) {
        if self.changed {
            // SAFETY: the buffer is referenced, up to date and locked by us;
            // `copy` holds its `b_size` bytes (taken in `lock`, never
            // resized: `data_mut` hands out a slice, not the vector).
            unsafe { b::kfs_helper_buffer_copy_in(self.bh.as_ptr(), self.copy.as_ptr().cast()) };
            self.changed = false;
        }
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
    /// The changes reach the buffer at [`Self::mark_dirty`] or when the
    /// guard is dropped, whichever comes first.
    pub fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: the buffer is referenced; atomic bit operation.
        unsafe { b::kfs_helper_set_buffer_checked(self.bh.as_ptr(), false) };
        self.changed = true;
        &mut self.copy
    }

    /// Copies the changes into the buffer and marks it dirty: writeback (or
    /// `sync_fs`) writes it out.
    pub fn mark_dirty(&mut self) {
        self.store();
        // SAFETY: the buffer is referenced and up to date.
        unsafe { b::mark_buffer_dirty(self.bh.as_ptr()) };
    }
}

impl Drop for BufferGuard<'_> {
    fn drop(&mut self) {
        self.store();
        // SAFETY: we took the lock in `Buffer::lock`.
        unsafe { b::unlock_buffer(self.bh.as_ptr()) };
    }
}
