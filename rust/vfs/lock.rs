// SPDX-License-Identifier: GPL-2.0

//! The inode locks the wrappers take around iomap, and the
//! no-filesystem-reclaim scope every filesystem callback runs in.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/sched/mm.h`](srctree/include/linux/sched/mm.h).
//!
//! The guards are scoped values and `!Send`: a lock is released by the task
//! that took it, in the reverse order. Filesystems cannot take these locks
//! (the constructors are private to the wrappers): they receive the proof of
//! a held lock as a token type ([`super::Locked`], [`super::FileGuard`]).

use super::{FileSystem, INode, INodeView, Locked};
use crate::kfs::bindings as b;
use kernel::types::NotThreadSafe;

/// Holds an inode's `i_rwsem` exclusive; released when dropped.
pub(in crate::kfs) struct InodeLock<'a, T: FileSystem>(&'a INode<T>, NotThreadSafe);

impl<'a, T: FileSystem> InodeLock<'a, T> {
    pub(in crate::kfs) fn lock(inode: &'a INode<T>) -> Self {
        // SAFETY: a referenced inode; unlocked in `drop`.
        unsafe { b::kfs_helper_inode_lock(inode.as_ptr()) };
        Self(inode, NotThreadSafe)
    }

    /// [`Self::lock`], or for a request that must not wait
    /// (`IOCB_NOWAIT`) only if the lock is free: `EAGAIN` otherwise.
    pub(in crate::kfs) fn lock_or_again(inode: &'a INode<T>, nowait: bool) -> Result<Self, kernel::error::Error> {
        if !nowait {
            return Ok(Self::lock(inode));
        }
        // SAFETY: a referenced inode; unlocked in `drop` when taken.
        if unsafe { b::kfs_helper_inode_trylock(inode.as_ptr()) } {
            Ok(Self(inode, NotThreadSafe))
        } else {
            Err(kernel::error::code::EAGAIN)
        }
    }

    /// The inode, as the proof that its `i_rwsem` is held.
    pub(in crate::kfs) fn locked(&self) -> &Locked<T> {
        // SAFETY: a referenced inode whose `i_rwsem` this guard holds
        // exclusive for as long as the result borrows it.
        unsafe { Locked::from_raw(self.0.as_ptr()) }
    }
}

impl<T: FileSystem> Drop for InodeLock<'_, T> {
    fn drop(&mut self) {
        // SAFETY: locked in `lock`, by this task.
        unsafe { b::kfs_helper_inode_unlock(self.0.as_ptr()) };
    }
}

/// Holds an inode's `i_rwsem` shared; released when dropped.
pub(in crate::kfs) struct InodeLockShared<'a, T: FileSystem>(&'a INode<T>, NotThreadSafe);

impl<'a, T: FileSystem> InodeLockShared<'a, T> {
    pub(in crate::kfs) fn lock(inode: &'a INode<T>) -> Self {
        // SAFETY: a referenced inode; unlocked in `drop`.
        unsafe { b::kfs_helper_inode_lock_shared(inode.as_ptr()) };
        Self(inode, NotThreadSafe)
    }

    /// [`Self::lock`], or for a request that must not wait
    /// (`IOCB_NOWAIT`) only if the lock is free: `EAGAIN` otherwise.
    pub(in crate::kfs) fn lock_or_again(inode: &'a INode<T>, nowait: bool) -> Result<Self, kernel::error::Error> {
        if !nowait {
            return Ok(Self::lock(inode));
        }
        // SAFETY: a referenced inode; unlocked in `drop` when taken.
        if unsafe { b::kfs_helper_inode_trylock_shared(inode.as_ptr()) } {
            Ok(Self(inode, NotThreadSafe))
        } else {
            Err(kernel::error::code::EAGAIN)
        }
    }

    /// The inode whose lock this is.
    pub(in crate::kfs) fn inode(&self) -> &INode<T> {
        self.0
    }
}

impl<T: FileSystem> Drop for InodeLockShared<'_, T> {
    fn drop(&mut self) {
        // SAFETY: locked in `lock`, by this task.
        unsafe { b::kfs_helper_inode_unlock_shared(self.0.as_ptr()) };
    }
}

/// Holds a mapping's `invalidate_lock` exclusive; released when dropped.
pub(in crate::kfs) struct InvalidateLock<'a, T: FileSystem>(&'a INodeView<T>, NotThreadSafe);

impl<'a, T: FileSystem> InvalidateLock<'a, T> {
    pub(in crate::kfs) fn lock(inode: &'a INodeView<T>) -> Self {
        // SAFETY: an initialised inode; unlocked in `drop`.
        unsafe { b::kfs_helper_invalidate_lock(inode.as_ptr()) };
        Self(inode, NotThreadSafe)
    }

    /// The inode whose lock this is.
    pub(in crate::kfs) fn inode(&self) -> &INodeView<T> {
        self.0
    }
}

impl<T: FileSystem> Drop for InvalidateLock<'_, T> {
    fn drop(&mut self) {
        // SAFETY: locked in `lock`, by this task.
        unsafe { b::kfs_helper_invalidate_unlock(self.0.as_ptr()) };
    }
}

/// Holds a mapping's `invalidate_lock` shared; released when dropped.
pub(in crate::kfs) struct InvalidateLockShared<'a, T: FileSystem>(&'a INodeView<T>, NotThreadSafe);

impl<'a, T: FileSystem> InvalidateLockShared<'a, T> {
    pub(in crate::kfs) fn lock(inode: &'a INodeView<T>) -> Self {
        // SAFETY: an initialised inode; unlocked in `drop`.
        unsafe { b::kfs_helper_invalidate_lock_shared(inode.as_ptr()) };
        Self(inode, NotThreadSafe)
    }
}

impl<T: FileSystem> Drop for InvalidateLockShared<'_, T> {
    fn drop(&mut self) {
        // SAFETY: locked in `lock`, by this task.
        unsafe { b::kfs_helper_invalidate_unlock_shared(self.0.as_ptr()) };
    }
}

/// A scope in which memory allocations do not recurse into filesystems
/// (`memalloc_nofs_save`/`memalloc_nofs_restore`).
///
/// Every trampoline that calls into the filesystem enters one first:
/// writeback may wait on the filesystem's own locks with a folio locked, so
/// an allocation made under such a lock must not start writeback. The flag
/// is per task, hence `!Send`.
pub(in crate::kfs) struct NoFs(kernel::ffi::c_uint, NotThreadSafe);

impl NoFs {
    pub(in crate::kfs) fn enter() -> Self {
        // SAFETY: always callable from process context; paired in `drop`.
        Self(unsafe { b::kfs_helper_memalloc_nofs_save() }, NotThreadSafe)
    }
}

impl Drop for NoFs {
    fn drop(&mut self) {
        // SAFETY: restores what `enter` saved, on the same task, in LIFO
        // order (guards are scoped values).
        unsafe { b::kfs_helper_memalloc_nofs_restore(self.0) };
    }
}
