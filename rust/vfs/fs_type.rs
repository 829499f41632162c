// SPDX-License-Identifier: GPL-2.0

//! Filesystem types (`struct file_system_type`) mounted with the fs_context API
//! on a block device, and the super operations of their super blocks.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/fs_context.h`](srctree/include/linux/fs_context.h).
//!
//! A filesystem implements [`FileSystem`] and keeps a [`Registration`] pinned in
//! its module (use [`kernel::InPlaceModule`]): `file_system_type` holds lockdep
//! class keys, which must live in static storage, and a module's data is static
//! storage for lockdep.
//!
//! Mounting: `get_tree_bdev` opens the device and calls
//! [`FileSystem::fill_super`], which reads and checks the on-disk super block
//! and returns the filesystem's [`FileSystem::Data`]; the wrapper installs it,
//! asks [`FileSystem::root`] for the root inode and makes the root dentry. The
//! data is dropped in `kill_sb`, after `kill_block_super` has evicted every
//! inode and written the device out.

use super::{
    dir::DirEmitter, inode::INodeWithData, INode, INodeType, NewSuperBlock, StatFs, SuperBlock,
};
use crate::kfs::bindings as b;
use core::marker::PhantomData;
use kernel::{
    error::from_result, prelude::*, str::CStrExt, sync::aref::ARef, types::Opaque, ThisModule,
};

/// A block-device filesystem.
pub trait FileSystem: Sized + Send + Sync + 'static {
    /// The name `mount -t` and `/proc/filesystems` use.
    const NAME: &'static CStr;

    /// The magic number `statfs(2)` reports.
    const MAGIC: u32;

    /// Per-super-block data, made by [`Self::fill_super`].
    type Data: Send + Sync;

    /// Per-inode data, made by [`Self::init_inode_data`] when the inode is
    /// allocated and dropped after the RCU grace period that follows its
    /// eviction (its `Drop` must not sleep).
    type INodeData: Send + Sync;

    /// The iomap operations that map file data for reads.
    type Iomap: crate::kfs::iomap::Operations<FileSystem = Self>;

    /// Reads and checks the on-disk super block and sets the block size.
    ///
    /// Called by `get_tree_bdev` with `s_umount` held for writing, the block
    /// device opened and claimed for this super block. An error fails the
    /// mount with that errno; the VFS then tears the super block down.
    fn fill_super(sb: &mut NewSuperBlock<Self>) -> Result<Self::Data>;

    /// Returns the root directory's inode; called right after `fill_super`
    /// with the data installed.
    fn root(sb: &SuperBlock<Self>) -> Result<ARef<INode<Self>>>;

    /// The initial value of a new inode's data (filled later, e.g. from disk).
    fn init_inode_data() -> impl PinInit<Self::INodeData, Error>;

    /// Space and inode counts.
    fn statfs(sb: &SuperBlock<Self>) -> Result<StatFs>;

    /// Looks `name` up in directory `dir`; `None` if there is no such entry.
    /// Called with `dir`'s `i_rwsem` held at least shared.
    fn lookup(dir: &INode<Self>, name: &[u8]) -> Result<Option<ARef<INode<Self>>>>;

    /// Emits the entries of `dir` from `emitter.pos()` on. Called with `dir`'s
    /// `i_rwsem` held shared.
    fn read_dir(dir: &INode<Self>, emitter: &mut DirEmitter) -> Result;

    /// Writes `inode` (its [`INode::attrs`] and the filesystem's own state
    /// of it) to its metadata buffers (`write_inode`). Called by writeback,
    /// `sync_inode_metadata` and at unmount, without the inode's locks.
    fn write_inode(inode: &INode<Self>) -> Result;

    /// The inode is being evicted: its page cache is empty. `deleted`: it
    /// has no link left, so free its blocks and its number.
    fn evict_inode(inode: &INode<Self>, deleted: bool);

    /// Writes what the filesystem keeps only in memory (counts, state) to
    /// the metadata buffers; the VFS then writes the device out
    /// (`sync_fs`, called with `s_umount` held).
    fn sync_fs(sb: &SuperBlock<Self>, wait: bool) -> Result;

    /// The mount changes between read-only (`read_only`) and read-write
    /// (`mount -o remount,ro|rw`). Called with `s_umount` held for writing,
    /// writers kept out; before a switch to read-only the wrapper has
    /// synced the filesystem (`sync_filesystem`), and it writes the device
    /// out after this returns. An error cancels the change.
    fn reconfigure(_sb: &SuperBlock<Self>, _read_only: bool) -> Result {
        Ok(())
    }

    /// When `inode` was created, for `statx` (`STATX_BTIME`); `None` if the
    /// filesystem does not know.
    fn birth_time(_inode: &INode<Self>) -> Option<super::Timespec> {
        None
    }

    /// The filesystem is being frozen (`FIFREEZE`, `fsfreeze -f`): writers
    /// and page faults are held off and everything was synced
    /// (`sync_filesystem`). Record what a snapshot of the device should
    /// show (e.g. a clean state); the wrapper writes the device out after
    /// this returns. An error cancels the freeze.
    fn freeze(_sb: &SuperBlock<Self>) -> Result {
        Ok(())
    }

    /// The filesystem thaws (`FITHAW`): undo what [`Self::freeze`] recorded.
    fn unfreeze(_sb: &SuperBlock<Self>) -> Result {
        Ok(())
    }

    /// The last step of unmounting, after every inode was evicted
    /// (`put_super`): record a clean state.
    fn put_super(sb: &SuperBlock<Self>);

    /// Frees the blocks of regular file `inode` past `size` after the page
    /// cache was truncated to it (truncate, with `i_rwsem` and
    /// `invalidate_lock` held exclusive).
    fn truncate_blocks(inode: &INode<Self>, size: u64) -> Result;

    /// Preallocates: maps every hole among file blocks `first .. first +
    /// count` of `inode` to unwritten blocks (fallocate; `i_rwsem` held).
    fn allocate(inode: &INode<Self>, first: u64, count: u64) -> Result;

    /// Unmaps file blocks `first .. first + count` of `inode` and frees them
    /// (punch hole, zero range; `i_rwsem` and `invalidate_lock` held, the
    /// page cache of the range already dropped).
    fn punch(inode: &INode<Self>, first: u64, count: u64) -> Result;

    /// Creates an inode of kind `typ` with permission bits `mode` (use
    /// [`super::NewINode::init_created`]) and an entry `name` for it in
    /// `dir`. The wrapper then updates `dir`'s times and link count and
    /// instantiates the dentry. `dir`'s `i_rwsem` is held exclusive.
    fn create(dir: &INode<Self>, name: &[u8], typ: INodeType<'_>, mode: u16)
        -> Result<ARef<INode<Self>>>;

    /// Adds an entry `name` in `dir` for the existing `inode` (the wrapper
    /// raises its link count). Both `i_rwsem`s are held.
    fn link(dir: &INode<Self>, name: &[u8], inode: &INode<Self>) -> Result;

    /// Removes the entry `name` of non-directory `inode` from `dir` (the
    /// wrapper drops the link count). Both `i_rwsem`s are held.
    fn unlink(dir: &INode<Self>, name: &[u8], inode: &INode<Self>) -> Result;

    /// Removes the entry `name` of directory `inode` from `dir` if `inode`
    /// is empty, else `ENOTEMPTY`. Both `i_rwsem`s are held.
    fn rmdir(dir: &INode<Self>, name: &[u8], inode: &INode<Self>) -> Result;

    /// Moves entry `old_name` of `old_dir` (naming `inode`) to `new_name` in
    /// `new_dir`, replacing `target` if there is one (`ENOTEMPTY` for a
    /// non-empty directory), and re-points a moved directory's `..`. The
    /// wrapper updates link counts and times. The VFS holds both
    /// directories' and both inodes' `i_rwsem`.
    fn rename(
        old_dir: &INode<Self>,
        old_name: &[u8],
        inode: &INode<Self>,
        new_dir: &INode<Self>,
        new_name: &[u8],
        target: Option<&INode<Self>>,
    ) -> Result;
}

/// A registered filesystem type; unregistered when dropped.
#[pin_data(PinnedDrop)]
pub struct Registration<T: FileSystem> {
    #[pin]
    fs: Opaque<b::file_system_type>,
    _p: PhantomData<T>,
}

// SAFETY: After registration the VFS owns all mutation of the
// `file_system_type` (under its own locks); Rust code never touches it again
// until `unregister_filesystem`, which the VFS serialises too.
unsafe impl<T: FileSystem> Send for Registration<T> {}
// SAFETY: See `Send`: shared references expose no access to the C object.
unsafe impl<T: FileSystem> Sync for Registration<T> {}

impl<T: FileSystem> Registration<T> {
    /// Registers `T` as a filesystem type owned by `module`.
    pub fn new(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            fs <- Opaque::try_ffi_init(|ptr: *mut b::file_system_type| {
                // SAFETY: `try_ffi_init` hands us valid, writable, pinned
                // memory for a `file_system_type`. All-zero is its "empty"
                // value (no flags, NULL pointers, unlinked list heads).
                unsafe { ptr.write(b::file_system_type::default()) };
                // SAFETY: `ptr` was just initialised above and nothing else
                // refers to it yet.
                let fs = unsafe { &mut *ptr };
                fs.name = T::NAME.as_char_ptr();
                fs.fs_flags = b::FS_REQUIRES_DEV as i32;
                fs.owner = module.as_ptr();
                fs.init_fs_context = Some(Tables::<T>::init_fs_context);
                fs.kill_sb = Some(Tables::<T>::kill_sb);
                // SAFETY: `ptr` is a fully initialised `file_system_type` in
                // pinned storage that outlives the registration (it is
                // unregistered in `drop` before the memory goes away).
                kernel::error::to_result(unsafe { b::register_filesystem(ptr) })
            }),
            _p: PhantomData,
        })
    }
}

#[pinned_drop]
impl<T: FileSystem> PinnedDrop for Registration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `new` only returns once `register_filesystem` succeeded, so
        // the type is registered; the module cannot be unloaded while a super
        // block of this type exists (`owner` pins the module).
        unsafe { b::unregister_filesystem(self.fs.get()) };
        // Inodes are freed from RCU callbacks that run this module's code:
        // wait for all of them before the module goes away.
        kernel::sync::rcu::rcu_barrier();
    }
}

struct Tables<T: FileSystem>(PhantomData<T>);

impl<T: FileSystem> Tables<T> {
    const CONTEXT_OPS: b::fs_context_operations = b::fs_context_operations {
        get_tree: Some(Self::get_tree),
        reconfigure: Some(Self::reconfigure),
        // SAFETY: all-zero is a valid `fs_context_operations` (no callbacks).
        ..unsafe { core::mem::zeroed() }
    };

    const SUPER_OPS: b::super_operations = b::super_operations {
        alloc_inode: Some(Self::alloc_inode),
        free_inode: Some(Self::free_inode),
        statfs: Some(Self::statfs),
        write_inode: Some(Self::write_inode),
        evict_inode: Some(Self::evict_inode),
        sync_fs: Some(Self::sync_fs),
        freeze_fs: Some(Self::freeze_fs),
        unfreeze_fs: Some(Self::unfreeze_fs),
        put_super: Some(Self::put_super),
        // SAFETY: all-zero is a valid `super_operations` (no callbacks).
        ..unsafe { core::mem::zeroed() }
    };

    /// # Safety
    ///
    /// Called by the VFS with a valid, newly allocated `fs_context` of this
    /// filesystem type.
    unsafe extern "C" fn init_fs_context(fc: *mut kernel::bindings::fs_context) -> kernel::ffi::c_int {
        // `kernel::bindings` knows `fs_context` only as an opaque stub; ours
        // is the full definition of the same C type.
        let fc = fc.cast::<b::fs_context>();
        // SAFETY: `fc` is valid (guaranteed by the caller); `CONTEXT_OPS` is a
        // promoted constant and so lives for `'static`.
        unsafe { (*fc).ops = &Self::CONTEXT_OPS };
        0
    }

    /// # Safety
    ///
    /// Called by the VFS with the `fs_context` set up by `init_fs_context`.
    unsafe extern "C" fn get_tree(fc: *mut b::fs_context) -> kernel::ffi::c_int {
        // SAFETY: `fc` is valid (guaranteed by the caller) and `fill_super`
        // matches the callback type `get_tree_bdev` expects.
        unsafe { b::get_tree_bdev(fc, Some(Self::fill_super)) }
    }

    /// # Safety
    ///
    /// Called by `reconfigure_super` (remount) with the context of a mounted
    /// `T` super block, `s_umount` held for writing.
    unsafe extern "C" fn reconfigure(fc: *mut b::fs_context) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: a reconfiguration context has the mount's root.
            let sb = unsafe { (*(*fc).root).d_sb };
            // SAFETY: a mounted `T` super block with its data installed.
            let sbr = unsafe { SuperBlock::<T>::from_raw(sb) };
            // SAFETY: reading the requested flags of a valid context.
            let (flags, mask) = unsafe { ((*fc).sb_flags, (*fc).sb_flags_mask) };
            let rdonly = b::MAPFS_CONST_SB_RDONLY as u32;
            if mask & rdonly == 0 {
                return Ok(0);
            }
            let want_ro = flags & rdonly != 0;
            if want_ro == sbr.is_read_only() {
                return Ok(0);
            }
            if want_ro {
                // SAFETY: `s_umount` is held for writing (caller).
                kernel::error::to_result(unsafe { b::sync_filesystem(sb) })?;
            }
            T::reconfigure(sbr, want_ro)?;
            sbr.sync_device()?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by `get_tree_bdev` with a new super block of this type, with
    /// `s_umount` held for writing.
    unsafe extern "C" fn fill_super(sb: *mut b::super_block, _fc: *mut b::fs_context) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: the super block is ours alone during `fill_super`.
            unsafe {
                (*sb).s_op = &Self::SUPER_OPS;
                (*sb).s_magic = T::MAGIC as kernel::ffi::c_ulong;
                (*sb).s_time_gran = 1;
            }
            // SAFETY: `sb` is a new super block of filesystem `T`, exclusively
            // ours until `fill_super` returns (caller guarantee).
            let new = unsafe { NewSuperBlock::<T>::from_raw(sb) };
            let data = KBox::new(T::fill_super(new)?, GFP_KERNEL)?;
            // SAFETY: still ours alone; `kill_sb` frees the data.
            unsafe { (*sb).s_fs_info = KBox::into_raw(data).cast() };
            // SAFETY: the data is installed and `s_op` is ours: the type
            // invariants of `SuperBlock<T>` hold from here on.
            let sbr = unsafe { SuperBlock::<T>::from_raw(sb) };
            let root = T::root(sbr)?;
            // SAFETY: `d_make_root` takes over the inode reference, also on
            // failure (it then drops it).
            let dentry = unsafe { b::d_make_root(ARef::into_raw(root).as_ptr().cast()) };
            if dentry.is_null() {
                return Err(ENOMEM);
            }
            // SAFETY: still ours alone.
            unsafe { (*sb).s_root = dentry };
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFS once the last reference to a super block of this
    /// type is gone (also after a failed `fill_super`).
    unsafe extern "C" fn kill_sb(sb: *mut b::super_block) {
        // SAFETY: a block-device super block: `kill_block_super` shuts it
        // down (evicting every inode, writing the device out) and releases
        // the device.
        unsafe { b::kill_block_super(sb) };
        // SAFETY: nothing uses the filesystem's data after shutdown;
        // `s_fs_info` is NULL or the box installed by `fill_super`.
        unsafe {
            let data = (*sb).s_fs_info.cast::<T::Data>();
            if !data.is_null() {
                (*sb).s_fs_info = core::ptr::null_mut();
                drop(KBox::from_raw(data));
            }
        }
    }

    /// # Safety
    ///
    /// Called by the VFS for a super block of this type.
    unsafe extern "C" fn alloc_inode(_sb: *mut b::super_block) -> *mut b::inode {
        INodeWithData::<T>::alloc()
    }

    /// # Safety
    ///
    /// Called by the VFS after the RCU grace period that follows the
    /// destruction of an inode of this type.
    unsafe extern "C" fn free_inode(inode: *mut b::inode) {
        // SAFETY: `inode` was allocated by `alloc_inode` and is unused.
        unsafe { INodeWithData::<T>::free(inode) };
    }

    /// # Safety
    ///
    /// Called by the VFS with a dentry of a mounted super block of this type.
    unsafe extern "C" fn statfs(dentry: *mut b::dentry, buf: *mut kernel::bindings::kstatfs) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: a live dentry of a mounted `T` super block.
            let sb = unsafe { SuperBlock::<T>::from_raw((*dentry).d_sb) };
            let st = T::statfs(sb)?;
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
    /// Called by writeback with a live inode of a `T` super block.
    unsafe extern "C" fn write_inode(
        inode: *mut b::inode,
        _wbc: *mut b::writeback_control,
    ) -> kernel::ffi::c_int {
        // SAFETY: per the caller.
        let inode = unsafe { INode::<T>::from_raw(inode) };
        let _nofs = crate::kfs::iomap::ops::NoFs::enter();
        from_result(|| T::write_inode(inode).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by `evict` with an inode of a `T` super block that nobody
    /// references any more.
    unsafe extern "C" fn evict_inode(inode: *mut b::inode) {
        // SAFETY: per the caller; the page cache goes first, then the
        // filesystem's part, then `clear_inode` ends the inode's life.
        unsafe {
            b::truncate_inode_pages_final(&raw mut (*inode).i_data);
            let deleted = (*inode).__bindgen_anon_1.i_nlink == 0 && !b::is_bad_inode(inode);
            // Freeing a deleted inode's blocks changes the filesystem: it
            // waits while the filesystem is frozen (as ext4 does). The last
            // close of an unlinked file gets here without `s_umount`.
            if deleted {
                b::mapfs_helper_sb_start_intwrite((*inode).i_sb);
            }
            T::evict_inode(INode::<T>::from_raw(inode), deleted);
            if deleted {
                b::mapfs_helper_sb_end_intwrite((*inode).i_sb);
            }
            b::clear_inode(inode);
        }
    }

    /// # Safety
    ///
    /// Called by the VFS with a mounted `T` super block, `s_umount` held.
    unsafe extern "C" fn sync_fs(sb: *mut b::super_block, wait: kernel::ffi::c_int) -> kernel::ffi::c_int {
        // SAFETY: per the caller; the data is installed (a mounted sb).
        let sb = unsafe { SuperBlock::<T>::from_raw(sb) };
        from_result(|| T::sync_fs(sb, wait != 0).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by `freeze_super` with a mounted `T` super block, `s_umount`
    /// held for writing, writers held off and the filesystem synced.
    unsafe extern "C" fn freeze_fs(sb: *mut b::super_block) -> kernel::ffi::c_int {
        // SAFETY: per the caller; the data is installed (a mounted sb).
        let sbr = unsafe { SuperBlock::<T>::from_raw(sb) };
        from_result(|| {
            T::freeze(sbr)?;
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
        // SAFETY: per the caller; the data is installed (a mounted sb).
        let sbr = unsafe { SuperBlock::<T>::from_raw(sb) };
        from_result(|| T::unfreeze(sbr).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by `generic_shutdown_super` after evicting every inode.
    unsafe extern "C" fn put_super(sb: *mut b::super_block) {
        // SAFETY: per the caller; the data stays until `kill_sb`.
        T::put_super(unsafe { SuperBlock::<T>::from_raw(sb) });
    }
}
