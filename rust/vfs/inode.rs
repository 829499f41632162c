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

    /// The filesystem's data of this inode.
    pub fn data(&self) -> Pin<&T::INodeData> {
        // SAFETY: type invariant: the inode lives in an `INodeWithData<T>`;
        // the container is pinned in its allocation.
        unsafe { Pin::new_unchecked(&(*INodeWithData::<T>::from_inode(self.as_ptr())).data) }
    }
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
    /// A regular file; data through iomap (`T::ReadIomap`).
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
    pub fn data(&self) -> Pin<&T::INodeData> {
        // SAFETY: type invariant: an inode of a `T` filesystem; pinned.
        unsafe { Pin::new_unchecked(&(*INodeWithData::<T>::from_inode(self.ptr())).data) }
    }

    /// Sets the attributes, installs the operations for the inode's kind and
    /// makes the inode visible (`unlock_new_inode`).
    pub fn init(self, params: INodeParams<'_>) -> Result<ARef<INode<T>>> {
        let inode = self.ptr();
        let typebits = match params.typ {
            INodeType::Reg => b::S_IFREG,
            INodeType::Dir => b::S_IFDIR,
            INodeType::Symlink(_) => b::S_IFLNK,
        };
        if let INodeType::Symlink(target) = params.typ {
            let mut link = KVec::with_capacity(target.len() + 1, GFP_KERNEL)?;
            link.extend_from_slice(target, GFP_KERNEL)?;
            link.push(0, GFP_KERNEL)?;
            let len = i32::try_from(target.len()).map_err(|_| EINVAL)?;
            if target.contains(&0) {
                return Err(EINVAL);
            }
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
        // SAFETY: the inode is `I_NEW` and ours alone (type invariant): no
        // one else reads these fields until `unlock_new_inode`.
        unsafe {
            (*inode).i_mode = (typebits as u16) | (params.mode & 0o7777);
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
            match params.typ {
                INodeType::Reg => {
                    (*inode).__bindgen_anon_3.i_fop = &Tables::<T>::REG_FOPS;
                    (*(*inode).i_mapping).a_ops = crate::kfs::iomap::aops::table::<T>();
                }
                INodeType::Dir => {
                    (*inode).i_op = &Tables::<T>::DIR_IOPS;
                    (*inode).__bindgen_anon_3.i_fop = &Tables::<T>::DIR_FOPS;
                }
                INodeType::Symlink(_) => {
                    (*inode).i_op = &raw const b::simple_symlink_inode_operations;
                }
            }
            b::unlock_new_inode(inode);
        }
        let inode = self.inode;
        core::mem::forget(self);
        // SAFETY: we owned the reference from `iget_locked`; it moves to the
        // `ARef`, and the inode is now an initialised inode of type `T`.
        Ok(unsafe { ARef::from_raw(inode.cast::<INode<T>>()) })
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
    const REG_FOPS: b::file_operations = b::file_operations {
        llseek: Some(b::generic_file_llseek),
        read_iter: Some(b::generic_file_read_iter),
        splice_read: Some(b::filemap_splice_read),
        mmap_prepare: Some(b::generic_file_mmap_prepare),
        // SAFETY: all-zero is a valid `file_operations` (no callbacks).
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
        lookup: Some(Self::lookup),
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
}
