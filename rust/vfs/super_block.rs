// SPDX-License-Identifier: GPL-2.0

//! Super blocks (`struct super_block`).
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).
//!
//! Two views of one C object, by state: [`NewSuperBlock`] while
//! [`FileSystem::fill_super`] sets it up (no filesystem data yet), and
//! [`SuperBlock`] once the data is installed, which every inode operation
//! receives.

use super::{buffer::Buffer, inode::NewINode, FileSystem, INode};
use crate::kfs::bindings as b;
use core::{marker::PhantomData, ptr::NonNull};
use kernel::{prelude::*, str::CStrExt, sync::aref::ARef, types::Opaque};

/// `MAX_LFS_FILESIZE` (a macro bindgen does not see): the largest
/// `s_maxbytes` the page cache can index.
const MAX_LFS_FILESIZE: i64 =
    if usize::BITS == 64 { i64::MAX } else { (u32::MAX as i64) << kernel::page::PAGE_SHIFT };

/// A super block that `fill_super` is setting up.
///
/// It is borrowed for the duration of [`FileSystem::fill_super`]: the VFS holds
/// `s_umount` for writing, the block device is open with its logical block
/// size as the block size, and the super block is visible to no one else.
#[repr(transparent)]
pub struct NewSuperBlock<T: FileSystem> {
    sb: Opaque<b::super_block>,
    _p: PhantomData<T>,
}

impl<T: FileSystem> NewSuperBlock<T> {
    /// # Safety
    ///
    /// `ptr` must point at a super block being filled by `fill_super` for a
    /// filesystem of type `T`, valid for the lifetime `'a`, and no other Rust
    /// reference to it may exist during `'a`.
    pub(in crate::kfs) unsafe fn from_raw<'a>(ptr: *mut b::super_block) -> &'a mut Self {
        // SAFETY: `Self` is `repr(transparent)` over `Opaque<super_block>`, and
        // the caller guarantees validity and exclusivity for `'a`.
        unsafe { &mut *ptr.cast::<Self>() }
    }

    fn ptr(&self) -> *mut b::super_block {
        self.sb.get()
    }

    /// The device the filesystem is being mounted from (`s_id`, e.g. `vdb`).
    pub fn id(&self) -> &CStr {
        // SAFETY: `s_id` is a NUL-terminated array filled in by `sget_fc`
        // before `fill_super` runs, and lives as long as the super block.
        unsafe { CStr::from_char_ptr((*self.ptr()).s_id.as_ptr()) }
    }

    /// The size of the device in bytes.
    pub fn device_bytes(&self) -> u64 {
        // SAFETY: `get_tree_bdev` opened `s_bdev` before calling `fill_super`.
        let n = unsafe { b::kfs_helper_bdev_nr_bytes((*self.ptr()).s_bdev) };
        u64::try_from(n).unwrap_or(0)
    }

    /// Sets the block size to at least `size` and at least the device's
    /// logical block size; returns the block size set.
    pub fn min_block_size(&mut self, size: u32) -> Result<u32> {
        let size = i32::try_from(size).map_err(|_| EINVAL)?;
        // SAFETY: the super block is being filled and has a block device.
        let set = unsafe { b::sb_min_blocksize(self.ptr(), size) };
        u32::try_from(set).ok().filter(|&s| s != 0).ok_or(EINVAL)
    }

    /// Sets the block size to exactly `size`; fails if the device cannot do
    /// it (a logical block size above `size`, or `size` above the page size).
    /// Buffers read before borrow `self`: the borrow checker makes sure none
    /// is alive across this call.
    pub fn set_block_size(&mut self, size: u32) -> Result {
        let want = i32::try_from(size).map_err(|_| EINVAL)?;
        // SAFETY: the super block is being filled and has a block device; no
        // buffer of ours is alive (`&mut self`, and every `Buffer` borrows
        // the super block).
        if unsafe { b::sb_set_blocksize(self.ptr(), want) } == want {
            Ok(())
        } else {
            Err(EINVAL)
        }
    }

    /// Reads block `block` of the device, in units of the current block size.
    pub fn read_block(&self, block: u64) -> Result<Buffer<'_>> {
        // SAFETY: `get_tree_bdev` set a block size before `fill_super`; the
        // buffer borrows `self`, so the block size cannot change under it.
        unsafe { Buffer::read(self.ptr(), block) }
    }

    /// Whether the mount was asked to be read-only.
    pub fn is_read_only(&self) -> bool {
        // SAFETY: `s_flags` is set up by `sget_fc` before `fill_super`.
        unsafe { (*self.ptr()).s_flags & b::KFS_CONST_SB_RDONLY != 0 }
    }

    /// Makes the mount read-only.
    pub fn set_read_only(&mut self) {
        // SAFETY: the super block is ours alone during `fill_super`.
        unsafe { (*self.ptr()).s_flags |= b::KFS_CONST_SB_RDONLY };
    }

    /// Turns POSIX ACLs on for this mount (`SB_POSIXACL`): permission
    /// checks use them and new inodes inherit them. `EINVAL` if the
    /// filesystem's [`super::XattrOperations`] has no
    /// [`super::XattrOperations::POSIX_ACL`].
    pub fn enable_posix_acl(&mut self) -> Result {
        if !<T::Xattr as super::XattrOperations>::POSIX_ACL {
            return Err(EINVAL);
        }
        // SAFETY: the super block is ours alone during `fill_super`.
        unsafe { (*self.ptr()).s_flags |= b::KFS_CONST_SB_POSIXACL };
        Ok(())
    }

    /// Sets the largest file size the filesystem supports, kept within
    /// `0..=MAX_LFS_FILESIZE` (the VFS warns about a negative one, and a
    /// larger one overflows page-cache indexes on 32-bit).
    pub fn set_max_bytes(&mut self, max: i64) {
        let max = max.clamp(0, MAX_LFS_FILESIZE);
        // SAFETY: the super block is ours alone during `fill_super`.
        unsafe { (*self.ptr()).s_maxbytes = max };
    }
}

/// What `s_fs_info` of a mounted `T` super block points at: the
/// filesystem's data and the wrappers' own per-super-block state.
pub(in crate::kfs) struct SbState<T: FileSystem> {
    /// The writeback completion queue, when `T` completes writeback.
    /// Dropped (drained) before the data, which completions use.
    pub(in crate::kfs) endio: Option<crate::kfs::iomap::aops::EndIo>,
    /// The filesystem's data.
    pub(in crate::kfs) data: T::Data,
}

/// A mounted super block of filesystem `T`, with its data installed.
///
/// # Invariants
///
/// `s_fs_info` points at the `SbState<T>` installed after `fill_super`,
/// valid until `put_super` (or `kill_sb` of a failed mount) drops it, after
/// every inode and every operation is gone; `s_op` is the table of `T`.
#[repr(transparent)]
pub struct SuperBlock<T: FileSystem> {
    sb: Opaque<b::super_block>,
    _p: PhantomData<T>,
}

// SAFETY: super blocks are shared kernel objects; the data is `Send + Sync`.
unsafe impl<T: FileSystem> Sync for SuperBlock<T> {}

/// The result of looking an inode up in the inode cache.
pub enum Lookup<T: FileSystem> {
    /// It was in memory already.
    Cached(ARef<INode<T>>),
    /// It is new: read it from disk and call [`NewINode::init`].
    New(NewINode<T>),
}

/// Space and inode counts for `statfs(2)`.
pub struct StatFs {
    /// Block size in bytes.
    pub block_size: u32,
    /// Blocks in the filesystem.
    pub blocks: u64,
    /// Free blocks.
    pub free_blocks: u64,
    /// Inodes in the filesystem.
    pub files: u64,
    /// Free inodes.
    pub free_files: u64,
    /// Longest file name.
    pub name_len: u32,
}

impl<T: FileSystem> SuperBlock<T> {
    /// # Safety
    ///
    /// `ptr` must be a live super block of type `T` with its data installed
    /// (type invariants), live for `'a`.
    pub(in crate::kfs) unsafe fn from_raw<'a>(ptr: *const b::super_block) -> &'a Self {
        // SAFETY: `repr(transparent)`; validity per caller.
        unsafe { &*ptr.cast::<Self>() }
    }

    pub(in crate::kfs) fn ptr(&self) -> *mut b::super_block {
        self.sb.get()
    }

    fn state(&self) -> &SbState<T> {
        // SAFETY: type invariant: `s_fs_info` is the installed state.
        unsafe { &*(*self.ptr()).s_fs_info.cast::<SbState<T>>() }
    }

    /// The filesystem's data.
    pub fn data(&self) -> &T::Data {
        &self.state().data
    }

    /// The writeback completion queue, when `T` completes writeback.
    pub(in crate::kfs) fn endio(&self) -> Option<&crate::kfs::iomap::aops::EndIo> {
        self.state().endio.as_ref()
    }

    /// The device the filesystem is mounted from (`s_id`, e.g. `vdb`).
    pub fn id(&self) -> &CStr {
        // SAFETY: `s_id` is a NUL-terminated array set before `fill_super`
        // and not changed while the super block lives.
        unsafe { CStr::from_char_ptr((*self.ptr()).s_id.as_ptr()) }
    }

    /// The block size in bytes.
    pub fn block_size(&self) -> u32 {
        // SAFETY: set in `fill_super`, constant afterwards.
        unsafe { (*self.ptr()).s_blocksize as u32 }
    }

    /// Writes the device's dirty metadata buffers out, waits
    /// (`sync_blockdev`), and flushes the device's volatile cache
    /// (`blkdev_issue_flush`, a no-op on a device without one): what a hook
    /// recorded in them is then on stable storage, before anything
    /// recorded after this returns (an ordering point for a filesystem
    /// without a journal).
    pub fn sync_device(&self) -> Result {
        // SAFETY: a mounted block-device super block has `s_bdev`, open
        // until `kill_block_super` releases it.
        let bdev = unsafe { (*self.ptr()).s_bdev };
        // SAFETY: as above.
        kernel::error::to_result(unsafe { b::sync_blockdev(bdev) })?;
        // SAFETY: as above.
        kernel::error::to_result(unsafe { b::blkdev_issue_flush(bdev) })
    }

    /// The largest file size the filesystem supports (`s_maxbytes`).
    pub fn max_bytes(&self) -> i64 {
        // SAFETY: set in `fill_super`, constant afterwards.
        unsafe { (*self.ptr()).s_maxbytes }
    }

    /// Whether the filesystem is mounted read-only.
    pub fn is_read_only(&self) -> bool {
        // SAFETY: the flags word of a live super block; a volatile read
        // (remount stores it with `WRITE_ONCE` under `s_umount`, which this
        // caller may not hold).
        unsafe { core::ptr::read_volatile(&raw const (*self.ptr()).s_flags) & b::KFS_CONST_SB_RDONLY != 0 }
    }

    /// Reads block `block` of the device (in filesystem blocks).
    pub fn read_block(&self, block: u64) -> Result<Buffer<'_>> {
        // SAFETY: the block size was set in `fill_super`.
        unsafe { Buffer::read(self.ptr(), block) }
    }

    /// A metadata block the caller fills completely (not read first).
    pub fn new_block(&self, block: u64) -> Result<Buffer<'_>> {
        // SAFETY: the block size was set in `fill_super`.
        unsafe { Buffer::new_zeroed(self.ptr(), block) }
    }

    /// Forgets a freed metadata block: a cached copy, even a dirty one, is
    /// dropped and never written over the block's next owner.
    pub fn forget_block(&self, block: u64) {
        // SAFETY: a mounted super block with its device.
        unsafe { b::kfs_helper_forget_block(self.ptr(), block) };
    }

    /// Finds inode `ino` in the inode cache or allocates a new, locked one.
    pub fn get_inode(&self, ino: u64) -> Result<Lookup<T>> {
        // SAFETY: a live super block; `iget_locked` returns a referenced
        // inode, new (`I_NEW`, locked) or cached, or NULL.
        let inode = NonNull::new(unsafe { b::iget_locked(self.ptr(), ino) }).ok_or(ENOMEM)?;
        // SAFETY: `inode` is referenced.
        if unsafe { b::kfs_helper_inode_is_new(inode.as_ptr()) } {
            // SAFETY: a new inode of this `T` super block, and we own the
            // reference `iget_locked` returned.
            Ok(Lookup::New(unsafe { NewINode::new(inode) }))
        } else {
            // SAFETY: an initialised inode of this super block; our reference
            // moves into the `ARef`.
            Ok(Lookup::Cached(unsafe { ARef::from_raw(inode.cast::<INode<T>>()) }))
        }
    }
}

/// Seconds since the epoch (`ktime_get_real_seconds`).
pub fn now_seconds() -> i64 {
    // SAFETY: callable from any context.
    unsafe { b::ktime_get_real_seconds() }
}

/// A random number (`get_random_u32`).
pub fn random_u32() -> u32 {
    // SAFETY: callable from any context.
    unsafe { b::get_random_u32() }
}
