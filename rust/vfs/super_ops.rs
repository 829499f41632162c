// SPDX-License-Identifier: GPL-2.0

//! Super block operations (`struct super_operations`).
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).
//!
//! The wrapper owns the inode memory (`alloc_inode`, `destroy_inode`,
//! `free_inode`: see [`super::inode`]); everything else is the filesystem's,
//! through [`SuperOperations`], and an entry it does not implement stays
//! `NULL`, so the VFS's default applies.

use crate::kfs::HookResult;
use super::{file::WritebackOf, inode::INodeWithData, super_block::SbState, FileSystem, INodeView, NoFs, StatFs, SuperBlock};
use crate::kfs::iomap::WritebackOps;
use crate::kfs::bindings as b;
use core::marker::PhantomData;
use kernel::{error::from_result, prelude::*, seq_file::SeqFile};

/// The super block operations of filesystem [`Self::FileSystem`].
#[vtable]
pub trait SuperOperations: Sized + 'static {
    /// The filesystem these are the operations of.
    type FileSystem: FileSystem;

    /// Space and inode counts (`statfs(2)`).
    fn statfs(_sb: &SuperBlock<Self::FileSystem>) -> Result<StatFs> {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Writes `inode` (its [`INodeView::attrs`] and the filesystem's own
    /// state of it) to its metadata buffers (`write_inode`). Called by
    /// writeback, `sync_inode_metadata` and at the final `iput` of an inode
    /// that is about to be evicted, without the inode's locks; the inode
    /// may have no reference left.
    fn write_inode(_inode: &INodeView<Self::FileSystem>) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The inode is being evicted: its page cache is empty, it has no
    /// reference left. `deleted`: it has no link either, so free its blocks
    /// and its number (inside `sb_start_intwrite`). Must not look the inode
    /// up again ([`SuperBlock::get_inode`] of its own number waits for this
    /// eviction to end: a hang).
    fn evict_inode(_inode: &INodeView<Self::FileSystem>, _deleted: bool) {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Writes what the filesystem keeps only in memory (counts, state) to
    /// the metadata buffers (`sync_fs`, called with `s_umount` held). When
    /// `wait` is set (`syncfs`, `sync`, unmount, freeze, remount read-only)
    /// the wrapper then writes the device out and flushes its cache.
    fn sync_fs(_sb: &SuperBlock<Self::FileSystem>, _wait: bool) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The filesystem is being frozen (`FIFREEZE`, `fsfreeze -f`): writers
    /// and page faults are held off and everything was synced
    /// (`sync_filesystem`). Record what a snapshot of the device should
    /// show (e.g. a clean state); the wrapper writes the device out after
    /// this returns. An error cancels the freeze.
    fn freeze(_sb: &SuperBlock<Self::FileSystem>) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The filesystem thaws (`FITHAW`): undo what [`Self::freeze`] recorded.
    fn unfreeze(_sb: &SuperBlock<Self::FileSystem>) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The last step of unmounting, after every inode was evicted
    /// (`put_super`): record a clean state. The wrapper writes the device
    /// out, flushes its cache and drops the filesystem's data right after
    /// this returns.
    fn put_super(_sb: &SuperBlock<Self::FileSystem>) {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Writes the mount's own options to `m` for `/proc/mounts` and
    /// `mountinfo` (`show_options`), each as `,KEY` or `,KEY=VALUE`; the
    /// VFS writes `ro`/`rw` itself. Called for a mounted super block, from
    /// process context.
    fn show_options(_sb: &SuperBlock<Self::FileSystem>, _m: &SeqFile) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// The `super_operations` of filesystem `T`.
pub(in crate::kfs) fn table<T: FileSystem>() -> &'static b::super_operations {
    &Tables::<T>::SUPER_OPS
}

/// Drops the data `fill_super` installed, if any, and clears `s_fs_info`.
///
/// # Safety
///
/// `sb` must be a super block of type `T` that no inode and no operation
/// uses any more (after `evict_inodes`, or a mount that never got a root).
pub(in crate::kfs) unsafe fn drop_data<T: FileSystem>(sb: *mut b::super_block) {
    // SAFETY: per the caller, nobody else touches `s_fs_info` now; it is
    // NULL or the box `fill_super` installed.
    unsafe {
        let state = (*sb).s_fs_info.cast::<SbState<T>>();
        if state.is_null() {
            return;
        }
        // First drain the completion queue, while the data it uses and
        // `s_fs_info` are still there (every writeback ended already, but
        // the work may still be on its way out).
        drop((*state).endio.take());
        (*sb).s_fs_info = core::ptr::null_mut();
        drop(KBox::from_raw(state));
    }
}

struct Tables<T: FileSystem>(PhantomData<T>);

impl<T: FileSystem> Tables<T> {
    const SUPER_OPS: b::super_operations = b::super_operations {
        alloc_inode: Some(Self::alloc_inode),
        destroy_inode: Some(Self::destroy_inode),
        free_inode: Some(Self::free_inode),
        statfs: if T::Super::HAS_STATFS { Some(Self::statfs) } else { None },
        write_inode: if T::Super::HAS_WRITE_INODE { Some(Self::write_inode) } else { None },
        evict_inode: if T::Super::HAS_EVICT_INODE { Some(Self::evict_inode) } else { None },
        sync_fs: if T::Super::HAS_SYNC_FS { Some(Self::sync_fs) } else { None },
        freeze_fs: if T::Super::HAS_FREEZE { Some(Self::freeze_fs) } else { None },
        unfreeze_fs: if T::Super::HAS_UNFREEZE { Some(Self::unfreeze_fs) } else { None },
        // Always installed: it drops the filesystem's data.
        put_super: Some(Self::put_super),
        show_options: if T::Super::HAS_SHOW_OPTIONS { Some(Self::show_options) } else { None },
        ..pin_init::zeroed()
    };

    /// # Safety
    ///
    /// Called by the VFS for a super block of this type.
    unsafe extern "C" fn alloc_inode(_sb: *mut b::super_block) -> *mut b::inode {
        let _nofs = NoFs::enter();
        INodeWithData::<T>::alloc()
    }

    /// # Safety
    ///
    /// Called by the VFS's `destroy_inode` (process context) once for every
    /// inode `alloc_inode` returned, before `free_inode`.
    unsafe extern "C" fn destroy_inode(inode: *mut b::inode) {
        let _nofs = NoFs::enter();
        // SAFETY: per the caller.
        unsafe { INodeWithData::<T>::destroy(inode) };
    }

    /// # Safety
    ///
    /// Called by the VFS after the RCU grace period that follows
    /// `destroy_inode`.
    unsafe extern "C" fn free_inode(inode: *mut b::inode) {
        // SAFETY: `inode` was allocated by `alloc_inode`, destroyed, and is
        // unused.
        unsafe { INodeWithData::<T>::free(inode) };
    }

    /// # Safety
    ///
    /// Called by the VFS with a dentry of a mounted super block of this type.
    unsafe extern "C" fn statfs(dentry: *mut b::dentry, buf: *mut kernel::bindings::kstatfs) -> kernel::ffi::c_int {
        let _nofs = NoFs::enter();
        from_result(|| {
            // SAFETY: a live dentry of a mounted `T` super block.
            let sb = unsafe { SuperBlock::<T>::from_raw((*dentry).d_sb) };
            let st = T::Super::statfs(sb).hook()?;
            // The full definition of the C type `kernel::bindings` has as a stub.
            let buf = buf.cast::<b::kstatfs>();
            let long = |v: u32| kernel::ffi::c_long::try_from(v).unwrap_or(kernel::ffi::c_long::MAX);
            // SAFETY: `buf` is the caller's `kstatfs` to fill in.
            unsafe {
                (*buf).f_type = long(T::MAGIC);
                (*buf).f_bsize = long(st.block_size);
                (*buf).f_frsize = long(st.block_size);
                (*buf).f_blocks = st.blocks;
                (*buf).f_bfree = st.free_blocks;
                (*buf).f_bavail = st.free_blocks;
                (*buf).f_files = st.files;
                (*buf).f_ffree = st.free_files;
                (*buf).f_namelen = long(st.name_len);
            }
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by `show_vfsmnt`/`show_mountinfo` with the seq file being
    /// written (by this thread only) and the root dentry of a mounted super
    /// block of this type.
    unsafe extern "C" fn show_options(m: *mut kernel::bindings::seq_file, root: *mut b::dentry) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: a live dentry of a mounted `T` super block.
            let sb = unsafe { SuperBlock::<T>::from_raw((*root).d_sb) };
            // SAFETY: a valid seq file that only this thread writes for the
            // duration of the call.
            let m = unsafe { SeqFile::from_raw(m) };
            T::Super::show_options(sb, m).hook()?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by writeback (or `write_inode_now` at the final `iput`, with
    /// no reference left) with an initialised inode of a `T` super block.
    unsafe extern "C" fn write_inode(
        inode: *mut b::inode,
        _wbc: *mut b::writeback_control,
    ) -> kernel::ffi::c_int {
        let _nofs = NoFs::enter();
        // SAFETY: per the caller; no reference is assumed.
        let inode = unsafe { INodeView::<T>::from_raw(inode) };
        from_result(|| T::Super::write_inode(inode).hook().map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by `evict` with an inode of a `T` super block that nobody
    /// references any more.
    unsafe extern "C" fn evict_inode(inode: *mut b::inode) {
        let _nofs = NoFs::enter();
        // SAFETY: per the caller; the page cache goes first, then the
        // filesystem's part, then `clear_inode` ends the inode's life.
        unsafe {
            b::truncate_inode_pages_final(&raw mut (*inode).i_data);
            let deleted = (*inode).__bindgen_anon_1.i_nlink == 0 && !b::is_bad_inode(inode);
            // Freeing a deleted inode's blocks changes the filesystem: it
            // waits while the filesystem is frozen (as ext4 does). The last
            // close of an unlinked file gets here without `s_umount`.
            if deleted {
                b::kfs_helper_sb_start_intwrite((*inode).i_sb);
            }
            // A bad inode (a failed read from disk) was never initialised.
            if !b::is_bad_inode(inode) {
                T::Super::evict_inode(INodeView::<T>::from_raw(inode), deleted);
            }
            if deleted {
                b::kfs_helper_sb_end_intwrite((*inode).i_sb);
            }
            b::clear_inode(inode);
        }
    }

    /// # Safety
    ///
    /// Called by the VFS with a mounted `T` super block, `s_umount` held.
    unsafe extern "C" fn sync_fs(sb: *mut b::super_block, wait: kernel::ffi::c_int) -> kernel::ffi::c_int {
        let _nofs = NoFs::enter();
        // SAFETY: per the caller; the data is installed (a mounted sb).
        let sb = unsafe { SuperBlock::<T>::from_raw(sb) };
        from_result(|| {
            if wait != 0 && WritebackOf::<T>::HAS_COMPLETE {
                // Writeback completions dirty inodes (the on-disk size of
                // a file grows as its writes complete). `sync(2)` writes
                // inodes before waiting on their data, so write those out
                // now that every write has completed.
                // SAFETY: `s_umount` held (caller), as it requires.
                unsafe { b::sync_inodes_sb(sb.ptr()) };
            }
            T::Super::sync_fs(sb, wait != 0).hook()?;
            if wait != 0 {
                // The VFS writes the device out after this returns, but
                // issues no cache flush: a non-journalling filesystem's
                // `syncfs` would not reach stable storage. Write out and
                // flush here (the VFS's write-out then finds nothing).
                sb.sync_device()?;
            }
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by `freeze_super` with a mounted `T` super block, `s_umount`
    /// held for writing, writers held off and the filesystem synced.
    unsafe extern "C" fn freeze_fs(sb: *mut b::super_block) -> kernel::ffi::c_int {
        let _nofs = NoFs::enter();
        // SAFETY: per the caller; the data is installed (a mounted sb).
        let sbr = unsafe { SuperBlock::<T>::from_raw(sb) };
        from_result(|| {
            T::Super::freeze(sbr).hook()?;
            // What `freeze` recorded must be on the device before the
            // freeze completes: a snapshot is taken after this returns.
            sbr.sync_device()?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by `thaw_super` with a frozen `T` super block, `s_umount`
    /// held for writing, before writers are let in again.
    unsafe extern "C" fn unfreeze_fs(sb: *mut b::super_block) -> kernel::ffi::c_int {
        let _nofs = NoFs::enter();
        // SAFETY: per the caller; the data is installed (a mounted sb).
        let sbr = unsafe { SuperBlock::<T>::from_raw(sb) };
        from_result(|| T::Super::unfreeze(sbr).hook().map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by `generic_shutdown_super` of a mounted `T` super block
    /// after evicting every inode, before the device is released.
    unsafe extern "C" fn put_super(sb: *mut b::super_block) {
        let _nofs = NoFs::enter();
        // SAFETY: per the caller; the data is still installed.
        let sbr = unsafe { SuperBlock::<T>::from_raw(sb) };
        if T::Super::HAS_PUT_SUPER {
            T::Super::put_super(sbr);
        }
        // What `put_super` recorded (a clean state) reaches stable storage:
        // `kill_block_super` writes the device out but does not flush.
        if !sbr.is_read_only() && sbr.sync_device().is_err() {
            pr_err!("{}: writing out at unmount failed\n", sbr.id());
        }
        // An inode still here is a reference the filesystem leaked
        // (`mem::forget` of an `ARef` is safe code). The VFS poisons its
        // `i_sb` and `i_op` and leaves it be; its address space still
        // points at this module's tables and its memory came from this
        // module's cache. The helper then pins the module for good, so
        // those stay valid: the leak stays a leak.
        // SAFETY: a super block being shut down, `s_umount` held.
        let busy = unsafe { b::kfs_helper_sb_pin_if_busy(sb) };
        if busy != 0 {
            pr_err!(
                "{}: {} inode(s) still referenced at unmount (a reference the filesystem never dropped): the module stays loaded\n",
                sbr.id(), busy
            );
        }
        // SAFETY: no operation runs on an unmounting sb, and no callback
        // reaches an inode left over (above): the VFS cut them off, and
        // neither the wrapper nor the filesystem keeps one (`INode` is
        // `!Send`: not in the data, nor in a static).
        unsafe { drop_data::<T>(sb) };
    }
}
