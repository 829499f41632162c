// SPDX-License-Identifier: GPL-2.0

//! Inodes (`struct inode`) carrying the filesystem's Rust data.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).
//!
//! Every inode of a filesystem `T` lives in an [`INodeWithData<T>`]: the C
//! inode next to a pinned `T::INodeData`, allocated by the super block's
//! `alloc_inode` and freed by `free_inode`, which the VFS calls only after an
//! RCU grace period (so RCU path walks never see freed memory). `T::INodeData`
//! is therefore dropped from an RCU callback: its `Drop` must not sleep.

use super::{dir::DirEmitter, FileSystem, SuperBlock};
use crate::kfs::bindings as b;
use core::{marker::PhantomData, ptr::NonNull};
use kernel::{
    error::from_result,
    prelude::*,
    sync::aref::{ARef, AlwaysRefCounted},
    types::Opaque,
};

/// The allocation that holds an inode of filesystem `T`.
#[pin_data]
#[repr(C)]
pub(crate) struct INodeWithData<T: FileSystem> {
    /// The symlink target with its NUL, for `i_link` (symlinks only).
    link: Option<KVec<u8>>,
    #[pin]
    data: T::INodeData,
    #[pin]
    inode: Opaque<b::inode>,
}

impl<T: FileSystem> INodeWithData<T> {
    /// The `alloc_inode` of filesystems of type `T`: allocates the container,
    /// initialises `T::INodeData`, and returns the C inode or NULL.
    pub(crate) fn alloc() -> *mut b::inode {
        let init = try_pin_init!(Self {
            link: None,
            data <- T::init_inode_data(),
            inode: Opaque::uninit(),
        }? Error);
        let Ok(boxed) = KBox::try_pin_init(init, GFP_KERNEL) else {
            return core::ptr::null_mut();
        };
        // SAFETY: the container is never moved out of its allocation: it is
        // only reached through the raw pointer until `free` rebuilds the box.
        let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(boxed) });
        // SAFETY: `raw` is valid; taking the address of a field.
        let inode = unsafe { Opaque::cast_into(&raw const (*raw).inode) };
        // SAFETY: `inode` is writable memory for a `struct inode`;
        // `inode_init_once` zeroes it and sets up its lists and locks, as a
        // slab constructor would. The VFS then runs `inode_init_always`.
        unsafe { b::inode_init_once(inode) };
        inode
    }

    /// The `free_inode` of filesystems of type `T`.
    ///
    /// # Safety
    ///
    /// `inode` must come from [`Self::alloc`] and be unused (the VFS calls
    /// `free_inode` after the RCU grace period that follows eviction).
    pub(crate) unsafe fn free(inode: *mut b::inode) {
        // SAFETY: `inode` comes from `alloc` (caller guarantee).
        let raw = unsafe { Self::from_inode(inode) };
        // SAFETY: `raw` came from `KBox::into_raw` in `alloc`, and nothing
        // uses it any more.
        drop(unsafe { KBox::from_raw(raw) });
    }

    /// The container of `inode`.
    ///
    /// # Safety
    ///
    /// `inode` must be an inode of a filesystem of type `T` (so it was
    /// allocated by [`Self::alloc`]).
    unsafe fn from_inode(inode: *const b::inode) -> *mut Self {
        // SAFETY: per the caller, `inode` is the `inode` field of a `Self`.
        unsafe { kernel::container_of!(Opaque::cast_from(inode), Self, inode) }.cast_mut()
    }
}

/// An inode of filesystem `T`, borrowed or held through [`ARef`].
///
/// # Invariants
///
/// The C inode belongs to a super block of type `T`, so it lives in an
/// [`INodeWithData<T>`].
#[repr(transparent)]
pub struct INode<T: FileSystem>(Opaque<b::inode>, PhantomData<T>);

// SAFETY: inodes are reference counted kernel objects usable from any thread;
// the Rust data they carry is `Send + Sync` (bound on `FileSystem`).
unsafe impl<T: FileSystem> Send for INode<T> {}
// SAFETY: see `Send`; shared access goes through the kernel's own locking.
unsafe impl<T: FileSystem> Sync for INode<T> {}

// SAFETY: `ihold` and `iput` are the inode's reference counting; an inode
// stays allocated while a reference is held.
unsafe impl<T: FileSystem> AlwaysRefCounted for INode<T> {
    fn inc_ref(&self) {
        // SAFETY: `self` is a live inode, so it has a reference already.
        unsafe { b::ihold(self.as_ptr()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller owns a reference, which is given up here.
        unsafe { b::iput(obj.as_ptr().cast()) };
    }
}

impl<T: FileSystem> INode<T> {
    /// # Safety
    ///
    /// `ptr` must be a live inode of a filesystem of type `T` that stays live
    /// for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *const b::inode) -> &'a Self {
        // SAFETY: `repr(transparent)` over `Opaque<inode>`; validity per caller.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// The C inode.
    pub fn as_ptr(&self) -> *mut b::inode {
        self.0.get()
    }

    /// The inode number.
    pub fn ino(&self) -> u64 {
        // SAFETY: `i_ino` is set before the inode is published and not
        // changed afterwards.
        unsafe { (*self.as_ptr()).i_ino }
    }

    /// The file size (`i_size_read`).
    pub fn size(&self) -> i64 {
        // SAFETY: the inode is live.
        unsafe { b::mapfs_helper_i_size_read(self.as_ptr()) }
    }

    /// `log2` of the block size of the inode's filesystem.
    pub fn block_bits(&self) -> u32 {
        // SAFETY: `i_blkbits` is set at allocation and not changed.
        u32::from(unsafe { (*self.as_ptr()).i_blkbits })
    }

    /// The super block the inode belongs to.
    pub fn super_block(&self) -> &SuperBlock<T> {
        // SAFETY: `i_sb` of a live inode is a live super block of type `T`
        // (type invariant) whose data is installed: inodes are only created
        // after `fill_super` installed it.
        unsafe { SuperBlock::from_raw((*self.as_ptr()).i_sb) }
    }

    /// The filesystem's data of this inode (pinned in place; shared access
    /// only, so a plain reference).
    pub fn data(&self) -> &T::INodeData {
        // SAFETY: type invariant: the inode lives in an `INodeWithData<T>`,
        // alive while `self` is borrowed.
        unsafe { &(*INodeWithData::<T>::from_inode(self.as_ptr())).data }
    }

    /// The attributes the VFS keeps, to write to disk. Read without the
    /// inode's lock, like every `write_inode`: each field is a snapshot.
    pub fn attrs(&self) -> Attrs {
        let inode = self.as_ptr();
        let mut sec = [0i64; 3];
        let mut nsec = [0u32; 3];
        // SAFETY: a live inode; the helper writes three entries of each.
        unsafe { b::mapfs_helper_inode_times(inode, sec.as_mut_ptr(), nsec.as_mut_ptr()) };
        let t = |i: usize| Timespec { sec: sec[i], nsec: nsec[i] };
        // SAFETY: a live inode; plain reads of its attributes.
        unsafe {
            Attrs {
                mode: (*inode).i_mode,
                uid: b::mapfs_helper_inode_uid(inode),
                gid: b::mapfs_helper_inode_gid(inode),
                nlink: (*inode).__bindgen_anon_1.i_nlink,
                size: self.size(),
                atime: t(0),
                mtime: t(1),
                ctime: t(2),
            }
        }
    }

    /// Whether the inode is a regular file.
    pub fn is_reg(&self) -> bool {
        // SAFETY: `i_mode`'s type bits do not change.
        u32::from(unsafe { (*self.as_ptr()).i_mode }) & b::S_IFMT == b::S_IFREG
    }

    /// Whether the inode is a directory.
    pub fn is_dir(&self) -> bool {
        // SAFETY: a live inode.
        unsafe { b::mapfs_helper_inode_is_dir(self.as_ptr()) }
    }

    /// The number of links.
    pub fn nlink(&self) -> u32 {
        // SAFETY: a live inode; a snapshot read.
        unsafe { (*self.as_ptr()).__bindgen_anon_1.i_nlink }
    }

    /// Sets the space used (`i_blocks`, in 512-byte units).
    pub fn set_blocks(&self, sectors: u64) {
        // SAFETY: a live inode; `i_blocks` is only read by `stat` and
        // updated by the filesystem under its own lock.
        unsafe { (*self.as_ptr()).i_blocks = sectors };
    }

    /// Sets the size of a directory or symlink (`i_size_write`); regular
    /// files change size through the write paths and `setattr`.
    pub fn set_size(&self, size: i64) -> Result {
        if self.is_reg() {
            return Err(EINVAL);
        }
        // SAFETY: a live inode; callers change a directory's size under its
        // `i_rwsem` (held exclusive by every namespace operation).
        unsafe { b::mapfs_helper_i_size_write(self.as_ptr(), size) };
        Ok(())
    }

    /// Drops every link: for an inode just created whose directory entry
    /// could not be made, so that its eviction frees it.
    pub fn clear_nlink(&self) {
        // SAFETY: a live inode.
        unsafe { b::clear_nlink(self.as_ptr()) };
    }

    /// Marks the inode dirty: `write_inode` will write it.
    pub fn mark_dirty(&self) {
        // SAFETY: a live inode.
        unsafe { b::mapfs_helper_mark_inode_dirty(self.as_ptr()) };
    }

    /// Sets the change time to now.
    pub fn touch_ctime(&self) {
        // SAFETY: a live inode.
        unsafe { b::inode_set_ctime_current(self.as_ptr()) };
    }

    /// Sets modification and change time to now.
    pub fn touch_mtime_ctime(&self) {
        // SAFETY: a live inode.
        unsafe { b::mapfs_helper_touch_mtime_ctime(self.as_ptr()) };
    }
}

/// The attributes of an inode, as the VFS has them.
#[derive(Clone, Copy, Debug)]
pub struct Attrs {
    /// Type and permission bits (`S_IFMT | 0o7777`).
    pub mode: u16,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Link count.
    pub nlink: u32,
    /// Size in bytes.
    pub size: i64,
    /// Last access.
    pub atime: Timespec,
    /// Last modification.
    pub mtime: Timespec,
    /// Last status change.
    pub ctime: Timespec,
}

/// Seconds and nanoseconds since the epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timespec {
    /// Seconds.
    pub sec: i64,
    /// Nanoseconds, below 1,000,000,000.
    pub nsec: u32,
}

/// What kind of inode [`NewINode::init`] makes.
pub enum INodeType<'a> {
    /// A regular file; data through iomap (`T::Iomap`).
    Reg,
    /// A directory (`T::lookup`, `T::read_dir`).
    Dir,
    /// A symbolic link with this target (without NUL), kept in memory.
    Symlink(&'a [u8]),
}

/// The attributes of an inode read from disk.
pub struct INodeParams<'a> {
    /// The kind of inode.
    pub typ: INodeType<'a>,
    /// Permission bits (`0o7777`); the type bits come from `typ`.
    pub mode: u16,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Link count.
    pub nlink: u32,
    /// Size in bytes.
    pub size: i64,
    /// Space used, in 512-byte units.
    pub blocks: u64,
    /// Last access.
    pub atime: Timespec,
    /// Last modification.
    pub mtime: Timespec,
    /// Last status change.
    pub ctime: Timespec,
}

/// A new, locked (`I_NEW`) inode from the inode cache, to be filled from disk.
///
/// Nobody else can use it until [`NewINode::init`] unlocks it; dropping it
/// instead marks it bad and releases it (`iget_failed`).
///
/// # Invariants
///
/// `inode` is an `I_NEW` inode of a filesystem of type `T` and we own the
/// reference `iget_locked` returned.
pub struct NewINode<T: FileSystem> {
    inode: NonNull<b::inode>,
    _p: PhantomData<T>,
}

impl<T: FileSystem> NewINode<T> {
    /// # Safety
    ///
    /// `inode` must satisfy the type invariants.
    pub(crate) unsafe fn new(inode: NonNull<b::inode>) -> Self {
        Self { inode, _p: PhantomData }
    }

    fn ptr(&self) -> *mut b::inode {
        self.inode.as_ptr()
    }

    /// The inode number being read.
    pub fn ino(&self) -> u64 {
        // SAFETY: `i_ino` was set by `iget_locked`.
        unsafe { (*self.ptr()).i_ino }
    }

    /// The filesystem's data of this inode, to fill in before `init`.
    pub fn data(&self) -> &T::INodeData {
        // SAFETY: type invariant: an inode of a `T` filesystem.
        unsafe { &(*INodeWithData::<T>::from_inode(self.ptr())).data }
    }

    /// Sets the attributes, installs the operations for the inode's kind and
    /// makes the inode visible (`unlock_new_inode`).
    pub fn init(self, params: INodeParams<'_>) -> Result<ARef<INode<T>>> {
        let inode = self.ptr();
        self.install(&params.typ)?;
        // SAFETY: the inode is `I_NEW` and ours alone (type invariant): no
        // one else reads these fields until `unlock_new_inode`.
        unsafe {
            (*inode).i_mode = ((*inode).i_mode & b::S_IFMT as u16) | (params.mode & 0o7777);
            b::mapfs_helper_inode_set_owner(inode, params.uid, params.gid);
            b::set_nlink(inode, params.nlink);
            b::mapfs_helper_i_size_write(inode, params.size);
            (*inode).i_blocks = params.blocks;
            b::mapfs_helper_inode_set_times(
                inode,
                params.atime.sec,
                params.atime.nsec,
                params.mtime.sec,
                params.mtime.nsec,
                params.ctime.sec,
                params.ctime.nsec,
            );
        }
        Ok(self.unlock())
    }

    /// Initialises a just-created inode in directory `dir`: owner and group
    /// as `inode_init_owner` decides (the caller's fsuid; the directory's
    /// group when it is setgid), permission bits `mode`, all times now, one
    /// link (two for a directory), size 0 (a symlink: its target's length);
    /// then unlocks it and marks it dirty.
    pub fn init_created(self, dir: &INode<T>, typ: INodeType<'_>, mode: u16) -> Result<ARef<INode<T>>> {
        let inode = self.ptr();
        self.install(&typ)?;
        let (nlink, size) = match typ {
            INodeType::Dir => (2, 0),
            INodeType::Reg => (1, 0),
            INodeType::Symlink(t) => (1, t.len() as i64),
        };
        // SAFETY: the inode is `I_NEW` and ours alone; `install` set the
        // type bits, which `inode_init_owner` keeps.
        unsafe {
            let typebits = (*inode).i_mode & b::S_IFMT as u16;
            b::inode_init_owner(&raw mut b::nop_mnt_idmap, inode, dir.as_ptr(), typebits | (mode & 0o7777));
            b::set_nlink(inode, nlink);
            b::mapfs_helper_i_size_write(inode, size);
            (*inode).i_blocks = 0;
            b::mapfs_helper_touch_all_times(inode);
        }
        let inode = self.unlock();
        inode.mark_dirty();
        Ok(inode)
    }

    /// Sets the type bits and operations of the kind of inode, and a
    /// symlink's cached target.
    fn install(&self, typ: &INodeType<'_>) -> Result {
        let inode = self.ptr();
        let typebits = match typ {
            INodeType::Reg => b::S_IFREG,
            INodeType::Dir => b::S_IFDIR,
            INodeType::Symlink(_) => b::S_IFLNK,
        };
        if let INodeType::Symlink(target) = *typ {
            if target.contains(&0) || target.is_empty() {
                return Err(EINVAL);
            }
            let mut link = KVec::with_capacity(target.len() + 1, GFP_KERNEL)?;
            link.extend_from_slice(target, GFP_KERNEL)?;
            link.push(0, GFP_KERNEL)?;
            let len = i32::try_from(target.len()).map_err(|_| EINVAL)?;
            // SAFETY: the container is valid, and its `link` field is touched
            // only here, before the inode is published. Borrow that field
            // alone: other CPUs may read the C inode meanwhile (the inode hash
            // is searched under `i_lock`), so no `&mut` may cover it.
            let slot = unsafe { &mut (*INodeWithData::<T>::from_inode(inode)).link };
            let link = slot.insert(link);
            // SAFETY: `link` is NUL-terminated with `len` bytes before the NUL
            // and lives in the container until `free_inode`, after the RCU
            // grace period that ends every lockless user of `i_link`.
            unsafe { b::mapfs_helper_inode_set_cached_link(inode, link.as_mut_ptr().cast(), len) };
        }
        // SAFETY: the inode is `I_NEW` and ours alone (type invariant).
        unsafe {
            (*inode).i_mode = typebits as u16;
            match typ {
                INodeType::Reg => {
                    (*inode).i_op = &Tables::<T>::REG_IOPS;
                    (*inode).__bindgen_anon_3.i_fop = &super::file::Tables::<T>::REG_FOPS;
                    (*(*inode).i_mapping).a_ops = crate::kfs::iomap::aops::table::<T>();
                }
                INodeType::Dir => {
                    (*inode).i_op = &Tables::<T>::DIR_IOPS;
                    (*inode).__bindgen_anon_3.i_fop = &Tables::<T>::DIR_FOPS;
                }
                INodeType::Symlink(_) => {
                    (*inode).i_op = &Tables::<T>::SYMLINK_IOPS;
                }
            }
        }
        Ok(())
    }

    /// Unlocks the inode (`unlock_new_inode`) and hands out our reference.
    fn unlock(self) -> ARef<INode<T>> {
        let inode = self.inode;
        core::mem::forget(self);
        // SAFETY: an `I_NEW` inode we own a reference to, now initialised.
        unsafe { b::unlock_new_inode(inode.as_ptr()) };
        // SAFETY: we owned the reference from `iget_locked`; it moves to the
        // `ARef`, and the inode is now an initialised inode of type `T`.
        unsafe { ARef::from_raw(inode.cast::<INode<T>>()) }
    }
}

impl<T: FileSystem> Drop for NewINode<T> {
    fn drop(&mut self) {
        // SAFETY: an `I_NEW` inode we own a reference to: `iget_failed`
        // marks it bad, unlocks it and drops the reference.
        unsafe { b::iget_failed(self.ptr()) };
    }
}

/// The operation tables of inodes of filesystem `T`.
struct Tables<T: FileSystem>(PhantomData<T>);

impl<T: FileSystem> Tables<T> {
    /// `getattr` of every inode type: the VFS's attributes, plus the birth
    /// time when the filesystem knows it ([`FileSystem::birth_time`]).
    ///
    /// # Safety
    ///
    /// Called by `vfs_getattr_nosec` with a path to a `T` inode and a
    /// `kstat` to fill.
    unsafe extern "C" fn getattr(
        idmap: *mut b::mnt_idmap,
        path: *const b::path,
        stat: *mut b::kstat,
        request_mask: u32,
        _query_flags: kernel::ffi::c_uint,
    ) -> kernel::ffi::c_int {
        // SAFETY: a valid path to a positive dentry of a `T` inode.
        let inode = unsafe { INode::<T>::from_raw(b::mapfs_helper_d_inode((*path).dentry)) };
        // SAFETY: per the caller; `generic_fillattr` only reads the inode.
        unsafe { b::generic_fillattr(idmap, request_mask, inode.as_ptr(), stat) };
        if request_mask & b::STATX_BTIME != 0 {
            if let Some(t) = T::birth_time(inode) {
                // SAFETY: `stat` is the caller's, ours to fill.
                unsafe {
                    (*stat).btime.tv_sec = t.sec;
                    (*stat).btime.tv_nsec = isize::try_from(t.nsec).unwrap_or(0);
                    (*stat).result_mask |= b::STATX_BTIME;
                }
            }
        }
        0
    }

    const REG_IOPS: b::inode_operations = b::inode_operations {
        setattr: Some(super::file::Tables::<T>::setattr),
        getattr: Some(Self::getattr),
        fiemap: Some(super::file::Tables::<T>::fiemap),
        // SAFETY: all-zero is a valid `inode_operations` (no callbacks).
        ..unsafe { core::mem::zeroed() }
    };

    const SYMLINK_IOPS: b::inode_operations = b::inode_operations {
        get_link: Some(b::simple_get_link),
        setattr: Some(super::file::Tables::<T>::setattr),
        getattr: Some(Self::getattr),
        // SAFETY: all-zero is a valid `inode_operations` (no callbacks).
        ..unsafe { core::mem::zeroed() }
    };

    const DIR_FOPS: b::file_operations = b::file_operations {
        llseek: Some(b::generic_file_llseek),
        read: Some(b::generic_read_dir),
        iterate_shared: Some(Self::iterate_shared),
        // SAFETY: all-zero is a valid `file_operations` (no callbacks).
        ..unsafe { core::mem::zeroed() }
    };

    const DIR_IOPS: b::inode_operations = b::inode_operations {
        getattr: Some(Self::getattr),
        lookup: Some(Self::lookup),
        create: Some(Self::create),
        mkdir: Some(Self::mkdir),
        symlink: Some(Self::symlink),
        link: Some(Self::link),
        unlink: Some(Self::unlink),
        rmdir: Some(Self::rmdir),
        rename: Some(Self::rename),
        setattr: Some(super::file::Tables::<T>::setattr),
        // SAFETY: all-zero is a valid `inode_operations` (no callbacks).
        ..unsafe { core::mem::zeroed() }
    };

    /// # Safety
    ///
    /// Called by the VFS (`iterate_dir`) with an open directory of a `T`
    /// filesystem, its `i_rwsem` held shared, and the reader's context.
    unsafe extern "C" fn iterate_shared(file: *mut b::file, ctx: *mut b::dir_context) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: `file` is open, so `f_inode` is a live inode of type `T`.
            let dir = unsafe { INode::<T>::from_raw((*file).f_inode) };
            // SAFETY: `ctx` is the reader's context, ours for this call.
            let mut emitter = unsafe { DirEmitter::new(ctx) };
            T::read_dir(dir, &mut emitter)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFS with a directory of a `T` filesystem (its `i_rwsem`
    /// held at least shared) and a negative, hashed-or-in-lookup dentry.
    unsafe extern "C" fn lookup(
        dir: *mut b::inode,
        dentry: *mut b::dentry,
        _flags: kernel::ffi::c_uint,
    ) -> *mut b::dentry {
        // SAFETY: `dir` is a live directory inode of type `T`.
        let dir_ref = unsafe { INode::<T>::from_raw(dir) };
        let mut len: u32 = 0;
        // SAFETY: `dentry` is valid; its name is stable during lookup.
        let name = unsafe { b::mapfs_helper_dentry_name(dentry, &mut len) };
        // SAFETY: `d_name` holds `len` bytes at `name` while the dentry lives.
        let name = unsafe { core::slice::from_raw_parts(name, len as usize) };
        let inode = match T::lookup(dir_ref, name) {
            Ok(Some(inode)) => ARef::into_raw(inode).as_ptr().cast::<b::inode>(),
            Ok(None) => core::ptr::null_mut(),
            Err(e) => return e.to_ptr(),
        };
        // SAFETY: `dentry` is valid; `d_splice_alias` takes over our inode
        // reference (or a NULL inode: a negative dentry).
        unsafe { b::d_splice_alias(inode, dentry) }
    }

    /// Creates an inode of kind `typ` named by `dentry` in `dir` and
    /// instantiates the dentry.
    ///
    /// # Safety
    ///
    /// `dir` is a `T` directory whose `i_rwsem` is held exclusive and
    /// `dentry` a negative dentry in it.
    unsafe fn create_common(
        dir: *mut b::inode,
        dentry: *mut b::dentry,
        typ: INodeType<'_>,
        mode: u16,
    ) -> Result {
        // SAFETY: per the caller.
        let (dir, name) = unsafe { (INode::<T>::from_raw(dir), dentry_name(dentry)) };
        let is_dir = matches!(typ, INodeType::Dir);
        let inode = T::create(dir, name, typ, mode)?;
        if is_dir {
            // SAFETY: `i_rwsem` of `dir` held.
            unsafe { b::inc_nlink(dir.as_ptr()) };
        }
        dir.touch_mtime_ctime();
        dir.mark_dirty();
        // SAFETY: a negative dentry; `d_instantiate` takes our reference.
        unsafe { b::d_instantiate(dentry, ARef::into_raw(inode).as_ptr().cast()) };
        Ok(())
    }

    /// # Safety
    ///
    /// Called by the VFS (`vfs_create`) with a `T` directory, its `i_rwsem`
    /// held exclusive, and a negative dentry.
    unsafe extern "C" fn create(
        _idmap: *mut b::mnt_idmap,
        dir: *mut b::inode,
        dentry: *mut b::dentry,
        mode: b::umode_t,
    ) -> kernel::ffi::c_int {
        // SAFETY: per the caller.
        from_result(|| unsafe { Self::create_common(dir, dentry, INodeType::Reg, mode) }.map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the VFS (`vfs_mkdir`) as for `create`.
    unsafe extern "C" fn mkdir(
        _idmap: *mut b::mnt_idmap,
        dir: *mut b::inode,
        dentry: *mut b::dentry,
        mode: b::umode_t,
    ) -> *mut b::dentry {
        // SAFETY: per the caller.
        match unsafe { Self::create_common(dir, dentry, INodeType::Dir, mode) } {
            Ok(()) => core::ptr::null_mut(),
            Err(e) => e.to_ptr(),
        }
    }

    /// # Safety
    ///
    /// Called by the VFS (`vfs_symlink`) as for `create`, with a
    /// NUL-terminated target.
    unsafe extern "C" fn symlink(
        _idmap: *mut b::mnt_idmap,
        dir: *mut b::inode,
        dentry: *mut b::dentry,
        target: *const kernel::ffi::c_char,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: a NUL-terminated string (caller guarantee).
            let target = unsafe { CStr::from_char_ptr(target) }.to_bytes();
            // SAFETY: per the caller.
            unsafe { Self::create_common(dir, dentry, INodeType::Symlink(target), 0o777) }?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFS (`vfs_link`) with a positive `old` dentry of a `T`
    /// non-directory, the `T` directory `dir` (its `i_rwsem` held
    /// exclusive, and the source inode's too) and a negative `dentry`.
    unsafe extern "C" fn link(
        old: *mut b::dentry,
        dir: *mut b::inode,
        dentry: *mut b::dentry,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: per the caller.
            let (dir, name, inode) = unsafe {
                (
                    INode::<T>::from_raw(dir),
                    dentry_name(dentry),
                    INode::<T>::from_raw(b::mapfs_helper_d_inode(old)),
                )
            };
            T::link(dir, name, inode)?;
            // SAFETY: the inode's `i_rwsem` is held.
            unsafe { b::inc_nlink(inode.as_ptr()) };
            inode.touch_ctime();
            inode.mark_dirty();
            dir.touch_mtime_ctime();
            dir.mark_dirty();
            let inode = ARef::from(inode);
            // SAFETY: a negative dentry; `d_instantiate` takes the reference.
            unsafe { b::d_instantiate(dentry, ARef::into_raw(inode).as_ptr().cast()) };
            Ok(0)
        })
    }

    /// Removes the entry `dentry` of `dir`; `rmdir` for directories.
    ///
    /// # Safety
    ///
    /// `dir` is a `T` directory with `i_rwsem` held exclusive, as is that
    /// of the positive `dentry`'s inode.
    unsafe fn remove(dir: *mut b::inode, dentry: *mut b::dentry, rmdir: bool) -> Result {
        // SAFETY: per the caller.
        let (dir, name, inode) = unsafe {
            (
                INode::<T>::from_raw(dir),
                dentry_name(dentry),
                INode::<T>::from_raw(b::mapfs_helper_d_inode(dentry)),
            )
        };
        if rmdir {
            T::rmdir(dir, name, inode)?;
            // SAFETY: both `i_rwsem`s are held.
            unsafe {
                b::clear_nlink(inode.as_ptr());
                b::drop_nlink(dir.as_ptr());
            }
        } else {
            T::unlink(dir, name, inode)?;
            // SAFETY: the inode's `i_rwsem` is held.
            unsafe { b::drop_nlink(inode.as_ptr()) };
        }
        inode.touch_ctime();
        inode.mark_dirty();
        dir.touch_mtime_ctime();
        dir.mark_dirty();
        Ok(())
    }

    /// # Safety
    ///
    /// Called by the VFS (`vfs_unlink`); see `remove`.
    unsafe extern "C" fn unlink(dir: *mut b::inode, dentry: *mut b::dentry) -> kernel::ffi::c_int {
        // SAFETY: per the caller.
        from_result(|| unsafe { Self::remove(dir, dentry, false) }.map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the VFS (`vfs_rmdir`); see `remove`.
    unsafe extern "C" fn rmdir(dir: *mut b::inode, dentry: *mut b::dentry) -> kernel::ffi::c_int {
        // SAFETY: per the caller.
        from_result(|| unsafe { Self::remove(dir, dentry, true) }.map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by the VFS (`vfs_rename`) with both `T` directories' `i_rwsem`
    /// held (and `s_vfs_rename_mutex` when they differ), a positive
    /// `old_dentry` and a `new_dentry` that is negative or, unless
    /// `RENAME_NOREPLACE`, positive (its inode locked too).
    unsafe extern "C" fn rename(
        _idmap: *mut b::mnt_idmap,
        old_dir: *mut b::inode,
        old_dentry: *mut b::dentry,
        new_dir: *mut b::inode,
        new_dentry: *mut b::dentry,
        flags: kernel::ffi::c_uint,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            if flags & !b::RENAME_NOREPLACE != 0 {
                return Err(EINVAL);
            }
            // SAFETY: per the caller.
            let (od, on, inode, nd, nn) = unsafe {
                (
                    INode::<T>::from_raw(old_dir),
                    dentry_name(old_dentry),
                    INode::<T>::from_raw(b::mapfs_helper_d_inode(old_dentry)),
                    INode::<T>::from_raw(new_dir),
                    dentry_name(new_dentry),
                )
            };
            // SAFETY: as above; NULL for a negative dentry.
            let target = unsafe { b::mapfs_helper_d_inode(new_dentry) };
            // SAFETY: a positive target is a live `T` inode.
            let target = (!target.is_null()).then(|| unsafe { INode::<T>::from_raw(target) });
            let is_dir = inode.is_dir();
            T::rename(od, on, inode, nd, nn, target)?;
            // SAFETY: every inode involved is locked by the VFS.
            unsafe {
                if let Some(t) = target {
                    if is_dir {
                        b::drop_nlink(t.as_ptr());
                    }
                    b::drop_nlink(t.as_ptr());
                    t.touch_ctime();
                    t.mark_dirty();
                } else if is_dir {
                    b::inc_nlink(nd.as_ptr());
                }
                if is_dir {
                    b::drop_nlink(od.as_ptr());
                }
                b::simple_rename_timestamp(old_dir, old_dentry, new_dir, new_dentry);
            }
            inode.mark_dirty();
            od.mark_dirty();
            nd.mark_dirty();
            Ok(0)
        })
    }
}

/// The name of a dentry.
///
/// # Safety
///
/// `dentry` must be valid, its name stable (the parent's `i_rwsem` held),
/// for `'a`.
unsafe fn dentry_name<'a>(dentry: *mut b::dentry) -> &'a [u8] {
    let mut len: u32 = 0;
    // SAFETY: per the caller.
    let name = unsafe { b::mapfs_helper_dentry_name(dentry, &mut len) };
    // SAFETY: `d_name` holds `len` bytes at `name`.
    unsafe { core::slice::from_raw_parts(name, len as usize) }
}
