// SPDX-License-Identifier: GPL-2.0

//! Inodes (`struct inode`) carrying the filesystem's Rust data.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).
//!
//! Every inode of a filesystem `T` lives in an [`INodeWithData<T>`]: the C
//! inode next to a pinned `T::INodeData`. The super block's `alloc_inode`
//! allocates it; `destroy_inode` drops `T::INodeData` in process context
//! (right after eviction, so its `Drop` may sleep); `free_inode`, which the
//! VFS calls only after an RCU grace period, frees the memory (RCU path walks
//! may still read the C inode and a symlink's cached target until then).
//!
//! Three views of one C inode, by what the holder may do with it:
//!
//! - [`INodeView`]: an inode that may have no reference left: the one
//!   `evict_inode` tears down, the one `write_inode` writes at its final
//!   `iput`, the one writeback maps. It gives access to the inode's data and
//!   attributes, and **no** way to take a reference: an `ARef` made there
//!   would outlive `free_inode`.
//! - [`INode`]: a referenced inode ([`AlwaysRefCounted`], travels as
//!   [`ARef<INode<T>>`]); dereferences to [`INodeView`]. It is `!Send`, so a
//!   reference cannot be stored in per-super-block or per-inode data (both
//!   `Send`) or in a static: every reference is dropped by the task that took
//!   it, during a callback that keeps the super block alive, unless it is
//!   leaked (`mem::forget`), which the unmount finds and answers by keeping
//!   the module loaded (see `put_super` in `super_ops`).
//! - [`Locked`]: an inode whose `i_rwsem` the caller holds exclusive (the
//!   VFS, for namespace operations); what needs that lock takes a `&Locked`.

use super::{FileSystem, SuperBlock};
use crate::kfs::bindings as b;
use core::{marker::PhantomData, mem::MaybeUninit, ops::Deref, ptr::NonNull};
use kernel::{
    prelude::*,
    sync::aref::{ARef, AlwaysRefCounted},
    types::{NotThreadSafe, Opaque},
};

/// The allocation that holds an inode of filesystem `T`.
#[pin_data]
#[repr(C)]
pub(in crate::kfs) struct INodeWithData<T: FileSystem> {
    /// The symlink target with its NUL, for `i_link` (symlinks only). Freed
    /// in `free_inode`: RCU path walks read it.
    link: Option<KVec<u8>>,
    /// Dropped in `destroy_inode`; never touched afterwards.
    #[pin]
    data: T::INodeData,
    #[pin]
    inode: Opaque<b::inode>,
}

impl<T: FileSystem> INodeWithData<T> {
    /// The `alloc_inode` of filesystems of type `T`: allocates the container,
    /// initialises `T::INodeData`, and returns the C inode or NULL.
    pub(in crate::kfs) fn alloc() -> *mut b::inode {
        let init = try_pin_init!(Self {
            link: None,
            data <- T::init_inode_data(),
            inode: Opaque::uninit(),
        }? Error);
        let Ok(boxed) = KBox::try_pin_init(init, GFP_KERNEL) else {
            return core::ptr::null_mut();
        };
        // SAFETY: the container is never moved out of its allocation: it is
        // only reached through the raw pointer until `free` frees it.
        let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(boxed) });
        // SAFETY: `raw` is valid; taking the address of a field.
        let inode = unsafe { Opaque::cast_into(&raw const (*raw).inode) };
        // SAFETY: `inode` is writable memory for a `struct inode`;
        // `inode_init_once` zeroes it and sets up its lists and locks, as a
        // slab constructor would. The VFS then runs `inode_init_always`.
        unsafe { b::inode_init_once(inode) };
        inode
    }

    /// The `destroy_inode` of filesystems of type `T`: drops `T::INodeData`.
    ///
    /// # Safety
    ///
    /// `inode` must come from [`Self::alloc`]; called once, by the VFS's
    /// `destroy_inode` (process context, after `evict` or a failed
    /// `inode_init_always`), before [`Self::free`]. Nothing uses the data
    /// afterwards: every operation that reaches it needs the inode alive.
    pub(in crate::kfs) unsafe fn destroy(inode: *mut b::inode) {
        // The data's `Drop` may sleep (a mutex, an `iput`): this is process
        // context, and a debug kernel checks it (`CONFIG_DEBUG_ATOMIC_SLEEP`).
        kernel::task::might_sleep();
        // SAFETY: `inode` comes from `alloc` (caller guarantee).
        let raw = unsafe { Self::from_inode(inode) };
        // SAFETY: the data was initialised in `alloc` and is dropped once,
        // here, in place: pinned data may be dropped where it lies.
        unsafe { core::ptr::drop_in_place(&raw mut (*raw).data) };
    }

    /// The `free_inode` of filesystems of type `T`: drops the symlink target
    /// and frees the memory (the data was dropped by [`Self::destroy`]).
    ///
    /// # Safety
    ///
    /// `inode` must come from [`Self::alloc`], [`Self::destroy`] must have
    /// run, and the inode must be unused (the VFS calls `free_inode` after
    /// the RCU grace period that follows `destroy_inode`).
    pub(in crate::kfs) unsafe fn free(inode: *mut b::inode) {
        // SAFETY: `inode` comes from `alloc` (caller guarantee).
        let raw = unsafe { Self::from_inode(inode) };
        // SAFETY: `link` is initialised and nothing reads it any more.
        unsafe { core::ptr::drop_in_place(&raw mut (*raw).link) };
        // SAFETY: `raw` came from `KBox::into_raw` in `alloc`; every field
        // that needs dropping was dropped, so the memory is freed as
        // uninitialised bytes of the same layout.
        drop(unsafe { KBox::from_raw(raw.cast::<MaybeUninit<Self>>()) });
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

/// An inode of filesystem `T` that may have no reference left.
///
/// Handed to the hooks that run on such inodes (eviction, `write_inode`,
/// writeback mapping). Everything about the inode can be read and its
/// filesystem data used; no reference can be taken.
///
/// # Invariants
///
/// The C inode belongs to a super block of type `T` (so it lives in an
/// [`INodeWithData<T>`]), is initialised, and its `T::INodeData` has not
/// been dropped.
#[repr(transparent)]
pub struct INodeView<T: FileSystem>(Opaque<b::inode>, PhantomData<T>);

// SAFETY: `&INodeView` only reads the C inode through the kernel's own
// accessors and hands out `&T::INodeData`, which is `Sync`.
unsafe impl<T: FileSystem> Sync for INodeView<T> {}

impl<T: FileSystem> INodeView<T> {
    /// # Safety
    ///
    /// `ptr` must satisfy the type invariants for `'a`.
    pub(in crate::kfs) unsafe fn from_raw<'a>(ptr: *const b::inode) -> &'a Self {
        // SAFETY: `repr(transparent)` over `Opaque<inode>`; validity per caller.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// The C inode.
    pub(in crate::kfs) fn as_ptr(&self) -> *mut b::inode {
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
        // SAFETY: the inode is initialised (type invariant).
        unsafe { b::kfs_helper_i_size_read(self.as_ptr()) }
    }

    /// `log2` of the block size of the inode's filesystem.
    pub fn block_bits(&self) -> u32 {
        // SAFETY: `i_blkbits` is set at allocation and not changed.
        u32::from(unsafe { (*self.as_ptr()).i_blkbits })
    }

    /// The super block the inode belongs to.
    pub fn super_block(&self) -> &SuperBlock<T> {
        // SAFETY: `i_sb` of an initialised inode is a live super block of
        // type `T` (type invariant) whose data is installed: inodes are only
        // created after `fill_super` installed it, and the data is dropped
        // only after every inode was evicted (see `fs_type`).
        unsafe { SuperBlock::from_raw((*self.as_ptr()).i_sb) }
    }

    /// The filesystem's data of this inode (pinned in place; shared access
    /// only, so a plain reference).
    pub fn data(&self) -> &T::INodeData {
        // SAFETY: type invariant: the inode lives in an `INodeWithData<T>`
        // whose data is not dropped before `destroy_inode`, which cannot run
        // while `self` is borrowed by a callback.
        unsafe { &(*INodeWithData::<T>::from_inode(self.as_ptr())).data }
    }

    /// The attributes the VFS keeps, to write to disk. Read without the
    /// inode's lock, like every `write_inode`: each field is a snapshot.
    pub fn attrs(&self) -> Attrs {
        let inode = self.as_ptr();
        let mut sec = [0i64; 3];
        let mut nsec = [0u32; 3];
        // SAFETY: an initialised inode; the helper writes three entries of
        // each array.
        unsafe { b::kfs_helper_inode_times(inode, sec.as_mut_ptr(), nsec.as_mut_ptr()) };
        let t = |i: usize| Timespec { sec: sec[i], nsec: nsec[i] };
        // SAFETY: an initialised inode. `i_mode` and `i_nlink` change under
        // locks this caller may not hold (`chmod`, `link`): volatile reads,
        // as `READ_ONCE`, so a racing store is no data race; the uid and gid
        // helpers read once too.
        unsafe {
            Attrs {
                mode: core::ptr::read_volatile(&raw const (*inode).i_mode),
                uid: b::kfs_helper_inode_uid(inode),
                gid: b::kfs_helper_inode_gid(inode),
                nlink: core::ptr::read_volatile(&raw const (*inode).__bindgen_anon_1.i_nlink),
                size: self.size(),
                atime: t(0),
                mtime: t(1),
                ctime: t(2),
                rdev: DevNum((*inode).i_rdev),
            }
        }
    }

    /// Whether the inode is a regular file.
    pub fn is_reg(&self) -> bool {
        // SAFETY: an initialised inode. `chmod` stores `i_mode` (whose type
        // bits never change) concurrently: a volatile read, as `READ_ONCE`.
        u32::from(unsafe { core::ptr::read_volatile(&raw const (*self.as_ptr()).i_mode) }) & b::S_IFMT == b::S_IFREG
    }

    /// Whether the inode is a directory.
    pub fn is_dir(&self) -> bool {
        // SAFETY: an initialised inode.
        unsafe { b::kfs_helper_inode_is_dir(self.as_ptr()) }
    }

    /// The number of links.
    pub fn nlink(&self) -> u32 {
        // SAFETY: an initialised inode; a volatile read (`READ_ONCE`, as
        // the VFS reads it), since `link` and `unlink` store it under a lock
        // this caller may not hold.
        unsafe { core::ptr::read_volatile(&raw const (*self.as_ptr()).__bindgen_anon_1.i_nlink) }
    }

    /// Sets the space used (`i_blocks`, in 512-byte units).
    pub fn set_blocks(&self, sectors: u64) {
        // SAFETY: an initialised inode; the helper takes `i_lock`.
        unsafe { b::kfs_helper_inode_set_blocks(self.as_ptr(), sectors) };
    }

    /// Marks the inode dirty: `write_inode` will write it.
    pub fn mark_dirty(&self) {
        // SAFETY: an initialised inode; `__mark_inode_dirty` ignores an
        // inode that is being freed.
        unsafe { b::kfs_helper_mark_inode_dirty(self.as_ptr()) };
    }
}

/// A referenced inode of filesystem `T`, borrowed or held through [`ARef`].
///
/// # Invariants
///
/// As for [`INodeView`], and the inode has a reference (`i_count > 0`) for
/// as long as an `&INode` exists.
#[repr(transparent)]
pub struct INode<T: FileSystem>(INodeView<T>, NotThreadSafe);

// SAFETY: see `INodeView`. `INode` is deliberately `!Send` (see the module
// docs): an `ARef<INode<T>>` cannot leave the task that took it.
unsafe impl<T: FileSystem> Sync for INode<T> {}

// SAFETY: `ihold` and `iput` are the inode's reference counting; an inode
// stays allocated while a reference is held. `inc_ref` is only reachable
// through `&INode`, which exists only while the inode has a reference.
unsafe impl<T: FileSystem> AlwaysRefCounted for INode<T> {
    fn inc_ref(&self) {
        // SAFETY: type invariant: `self` has a reference, so `ihold` (which
        // warns on a count of zero) only adds one.
        unsafe { b::ihold(self.as_ptr()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller owns a reference, which is given up here.
        unsafe { b::iput(obj.as_ptr().cast()) };
    }
}

impl<T: FileSystem> Deref for INode<T> {
    type Target = INodeView<T>;

    fn deref(&self) -> &INodeView<T> {
        &self.0
    }
}

impl<T: FileSystem> INode<T> {
    /// # Safety
    ///
    /// `ptr` must be an initialised inode of a filesystem of type `T` that
    /// has a reference for `'a`.
    pub(in crate::kfs) unsafe fn from_raw<'a>(ptr: *const b::inode) -> &'a Self {
        // SAFETY: `repr(transparent)` down to `Opaque<inode>`; per caller.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// Sets the change time to now. For the wrappers, which call it with
    /// the inode's `i_rwsem` held (plain stores: not for any `&INode`).
    pub(in crate::kfs) fn touch_ctime(&self) {
        // SAFETY: a referenced inode.
        unsafe { b::inode_set_ctime_current(self.as_ptr()) };
    }

    /// Sets modification and change time to now; `i_rwsem` held, as
    /// [`Self::touch_ctime`].
    pub(in crate::kfs) fn touch_mtime_ctime(&self) {
        // SAFETY: a referenced inode.
        unsafe { b::kfs_helper_touch_mtime_ctime(self.as_ptr()) };
    }
}

/// An inode whose `i_rwsem` the caller holds exclusive.
///
/// Only the wrappers make one: the VFS holds the lock around namespace
/// operations, the wrappers around `setattr`, `fallocate` and writes. What
/// needs the lock (changing a directory's size) is a method of this type.
///
/// # Invariants
///
/// `i_rwsem` of the inode is held exclusive for as long as a `&Locked`
/// exists.
#[repr(transparent)]
pub struct Locked<T: FileSystem>(INode<T>);

impl<T: FileSystem> Deref for Locked<T> {
    type Target = INode<T>;

    fn deref(&self) -> &INode<T> {
        &self.0
    }
}

impl<T: FileSystem> Locked<T> {
    /// # Safety
    ///
    /// `ptr` must be a referenced inode of type `T` whose `i_rwsem` is held
    /// exclusive for `'a`.
    pub(in crate::kfs) unsafe fn from_raw<'a>(ptr: *const b::inode) -> &'a Self {
        // SAFETY: `repr(transparent)` down to `Opaque<inode>`; per caller.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// Sets the size of a directory or symlink (`i_size_write`, which needs
    /// `i_rwsem`); regular files change size through the write paths and
    /// `setattr`.
    pub fn set_size(&self, size: i64) -> Result {
        if self.is_reg() {
            return Err(EINVAL);
        }
        // SAFETY: `i_rwsem` held exclusive (type invariant).
        unsafe { b::kfs_helper_i_size_write(self.as_ptr(), size) };
        Ok(())
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
    /// Device number of a character or block device node (0 otherwise).
    pub rdev: DevNum,
}

/// A device number (`dev_t`): what a character or block device node names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DevNum(u32);

impl DevNum {
    /// The device of a whiteout (`WHITEOUT_DEV`, with type bits `S_IFCHR`
    /// and no permission bits: `renameat2(RENAME_WHITEOUT)`, overlayfs).
    pub const WHITEOUT: Self = Self(b::KFS_CONST_WHITEOUT_DEV);

    /// The number the VFS passes as a `dev_t`.
    pub(in crate::kfs) fn from_raw(dev: b::dev_t) -> Self {
        Self(dev)
    }

    /// The number of `major:minor`; `None` if `major` does not fit in 12
    /// bits or `minor` in 20 (the kernel's limits, `MINORBITS`).
    pub fn new(major: u32, minor: u32) -> Option<Self> {
        (major < 1 << 12 && minor < 1 << 20).then_some(Self((major << 20) | minor))
    }

    /// The major number.
    pub fn major(self) -> u32 {
        self.0 >> 20
    }

    /// The minor number.
    pub fn minor(self) -> u32 {
        self.0 & 0xf_ffff
    }

    /// The number in the portable 32-bit encoding that ext2/4 keep on disk
    /// and `stat` reports (`new_encode_dev`): minor bits 0-7 in bits 0-7,
    /// the major in bits 8-19, minor bits 8-19 in bits 20-31. Every value is
    /// the encoding of exactly one number.
    pub fn encode(self) -> u32 {
        let (ma, mi) = (self.major(), self.minor());
        (mi & 0xff) | (ma << 8) | ((mi & !0xff) << 12)
    }

    /// The number whose [`Self::encode`] is `v`.
    pub fn decode(v: u32) -> Self {
        let ma = (v & 0xf_ff00) >> 8;
        let mi = (v & 0xff) | ((v >> 12) & 0xf_ff00);
        Self((ma << 20) | mi)
    }
}

/// Inode flags that the VFS itself enforces (`S_IMMUTABLE`, `S_APPEND`,
/// `S_NOATIME` in `i_flags`): set from disk, they hold without any check
/// in the filesystem.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct INodeFlags {
    /// No change at all: no write, truncate, link, unlink, rename or
    /// attribute change (`EPERM`).
    pub immutable: bool,
    /// Writes only at the end (`O_APPEND`), no truncate, unlink or rename.
    pub append: bool,
    /// Reads do not update the access time.
    pub noatime: bool,
}

impl INodeFlags {
    /// The bits of `immutable`, `append` and `noatime` in `i_flags`.
    const I_FLAGS: [u32; 3] = [b::KFS_CONST_S_IMMUTABLE, b::KFS_CONST_S_APPEND, b::KFS_CONST_S_NOATIME];
    /// Their bits in `FS_*_FL` (`FS_IOC_GETFLAGS`, `FS_IOC_SETFLAGS`).
    const FS_FL: [u32; 3] = [b::KFS_CONST_FS_IMMUTABLE_FL, b::KFS_CONST_FS_APPEND_FL, b::KFS_CONST_FS_NOATIME_FL];

    /// The flags as bits, given the bit of each (`[immutable, append,
    /// noatime]`): for a filesystem's on-disk encoding, as for the VFS's.
    pub fn to_bits(self, bits: [u32; 3]) -> u32 {
        [self.immutable, self.append, self.noatime]
            .iter()
            .zip(bits)
            .fold(0, |f, (&on, bit)| if on { f | bit } else { f })
    }

    /// The flags of `f`, given the bit of each (`[immutable, append,
    /// noatime]`); other bits of `f` are ignored.
    pub fn from_bits(f: u32, [immutable, append, noatime]: [u32; 3]) -> Self {
        Self { immutable: f & immutable != 0, append: f & append != 0, noatime: f & noatime != 0 }
    }

    /// All three flags' bits in `i_flags`.
    pub(in crate::kfs) const I_FLAGS_MASK: u32 = Self::I_FLAGS[0] | Self::I_FLAGS[1] | Self::I_FLAGS[2];

    /// The flags in `i_flags` bits.
    pub(in crate::kfs) fn to_i_flags(self) -> u32 {
        self.to_bits(Self::I_FLAGS)
    }

    /// The flags of `i_flags` bits.
    pub(in crate::kfs) fn from_i_flags(f: u32) -> Self {
        Self::from_bits(f, Self::I_FLAGS)
    }

    /// The flags in `FS_*_FL` bits.
    pub(in crate::kfs) fn to_fs_fl(self) -> u32 {
        self.to_bits(Self::FS_FL)
    }

    /// The flags of `FS_*_FL` bits, `None` if any other bit is set.
    pub(in crate::kfs) fn from_fs_fl(f: u32) -> Option<Self> {
        let known = Self::FS_FL[0] | Self::FS_FL[1] | Self::FS_FL[2];
        (f & !known == 0).then(|| Self::from_bits(f, Self::FS_FL))
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
#[derive(Clone, Copy)]
pub enum INodeType<'a> {
    /// A regular file: `T::File`'s operations, data through iomap.
    Reg,
    /// A directory: `T::Dir`'s operations.
    Dir,
    /// A symbolic link with this target (without NUL), kept in memory.
    Symlink(&'a [u8]),
    /// A character device node: opening it opens the device (the VFS's
    /// `def_chr_fops`); the filesystem keeps only the number.
    Chr(DevNum),
    /// A block device node.
    Blk(DevNum),
    /// A named pipe (FIFO).
    Fifo,
    /// A UNIX-domain socket's name.
    Sock,
}

/// The kind of inode a directory operation was asked to make, as the VFS
/// asked for it: what [`NewINode::init_created`] takes, and only the
/// wrapper makes (one per request). So `create` and `tmpfile` make a
/// regular file, `mkdir` a directory, `mknod` the node asked for: an
/// `O_TMPFILE` that came back a device node would open a device no
/// `CAP_MKNOD` check ever saw, and a directory where a file was asked for
/// would skew the parent's link count.
///
/// It also carries the name of the new entry (none for `O_TMPFILE`), which
/// the security modules may label the inode by.
pub struct CreateKind<'a>(INodeType<'a>, Option<&'a [u8]>);

impl<'a> CreateKind<'a> {
    pub(in crate::kfs) fn new(typ: INodeType<'a>, name: Option<&'a [u8]>) -> Self {
        Self(typ, name)
    }

    /// The kind asked for.
    pub fn typ(&self) -> INodeType<'a> {
        self.0
    }
}

impl INodeType<'_> {
    /// The `S_IFMT` bits of this kind.
    fn type_bits(&self) -> u32 {
        match self {
            Self::Reg => b::S_IFREG,
            Self::Dir => b::S_IFDIR,
            Self::Symlink(_) => b::S_IFLNK,
            Self::Chr(_) => b::S_IFCHR,
            Self::Blk(_) => b::S_IFBLK,
            Self::Fifo => b::S_IFIFO,
            Self::Sock => b::S_IFSOCK,
        }
    }

    /// The kind of a special file (`mknod`) with type bits `mode & S_IFMT`
    /// and device `rdev`; `None` for any other type.
    pub(in crate::kfs) fn special(mode: u32, rdev: DevNum) -> Option<Self> {
        Some(match mode & b::S_IFMT {
            b::S_IFCHR => Self::Chr(rdev),
            b::S_IFBLK => Self::Blk(rdev),
            b::S_IFIFO => Self::Fifo,
            b::S_IFSOCK => Self::Sock,
            _ => return None,
        })
    }
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
    /// Inode flags the VFS enforces.
    pub flags: INodeFlags,
}

/// A new, locked (`I_NEW`) inode from the inode cache, to be filled from disk.
///
/// Nobody else can use it until [`NewINode::init`] unlocks it; dropping it
/// instead marks it bad and releases it (`iget_failed`). Leaking it
/// (`core::mem::forget`, a reference cycle) is memory-safe but leaves the
/// inode locked new: every later lookup of its number waits for good.
///
/// # Invariants
///
/// `inode` is an `I_NEW` inode of a filesystem of type `T` and we own the
/// reference `iget_locked` returned.
pub struct NewINode<T: FileSystem> {
    inode: NonNull<b::inode>,
    _p: PhantomData<(T, NotThreadSafe)>,
}

impl<T: FileSystem> NewINode<T> {
    /// # Safety
    ///
    /// `inode` must satisfy the type invariants.
    pub(in crate::kfs) unsafe fn new(inode: NonNull<b::inode>) -> Self {
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

    /// The super block the inode belongs to.
    pub fn super_block(&self) -> &SuperBlock<T> {
        // SAFETY: `iget_locked` set `i_sb` to the live super block of a `T`
        // filesystem (type invariant), whose data is installed: inodes are
        // read only after `fill_super` installed it.
        unsafe { SuperBlock::from_raw((*self.ptr()).i_sb) }
    }

    /// The filesystem's data of this inode, to fill in before `init`.
    pub fn data(&self) -> &T::INodeData {
        // SAFETY: type invariant: an inode of a `T` filesystem, whose data
        // lives until `destroy_inode` (after we drop our reference).
        unsafe { &(*INodeWithData::<T>::from_inode(self.ptr())).data }
    }

    /// Sets the attributes, installs the operations for the inode's kind and
    /// makes the inode visible (`unlock_new_inode`).
    ///
    /// A negative size, or a regular file's size past `s_maxbytes`, is
    /// `EUCLEAN` with a line in dmesg (and [`FileSystem::corruption_found`]):
    /// it comes from the disk, and the VFS and the page cache never expect
    /// such an `i_size` (`s_maxbytes` bounds file data, not directories).
    pub fn init(self, params: INodeParams<'_>) -> Result<ARef<INode<T>>> {
        let max = match params.typ {
            INodeType::Reg => self.super_block().max_bytes(),
            _ => i64::MAX,
        };
        if !(0..=max).contains(&params.size) {
            pr_err!("{}: inode {}: size {} outside 0..={}: corrupt\n",
                self.super_block().id(), self.ino(), params.size, max);
            if T::HAS_CORRUPTION_FOUND {
                T::corruption_found(self.super_block());
            }
            return Err(EUCLEAN);
        }
        let inode = self.ptr();
        self.install(&params.typ)?;
        // SAFETY: the inode is `I_NEW` and ours alone (type invariant): no
        // one else reads these fields until `unlock_new_inode`.
        unsafe {
            (*inode).i_mode = ((*inode).i_mode & b::S_IFMT as u16) | (params.mode & 0o7777);
            b::kfs_helper_inode_set_owner(inode, params.uid, params.gid);
            b::set_nlink(inode, params.nlink);
            b::kfs_helper_i_size_write(inode, params.size);
            (*inode).i_blocks = params.blocks;
            (*inode).i_flags |= params.flags.to_i_flags();
            b::kfs_helper_inode_set_times(
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

    /// Initialises an inode that a directory operation creates in `dir`:
    /// owner and group as `inode_init_owner` decides (the caller's fsuid;
    /// the directory's group when it is setgid), permission bits `mode`,
    /// all times now, one link (two for a directory), size 0 (a symlink:
    /// its target's length); then unlocks it and marks it dirty. Last, it
    /// stores the inode's inherited POSIX ACLs and the labels the security
    /// modules give it (`security_inode_init_security`, as `security.*`
    /// attributes through [`super::XattrOperations::set`]), before any
    /// directory entry names it: if that fails, so does the create.
    ///
    /// The result is the only value [`super::DirOperations::create`] can
    /// return: a create always instantiates the inode it made, of the kind
    /// it was asked for (`kind`, from the request).
    pub fn init_created(self, dir: &INode<T>, kind: CreateKind<'_>, mode: u16) -> Result<Created<T>> {
        let CreateKind(typ, name) = kind;
        let inode = self.ptr();
        self.install(&typ)?;
        let (nlink, size) = match typ {
            INodeType::Dir => (2, 0),
            INodeType::Symlink(t) => (1, i64::try_from(t.len()).map_err(|_| EINVAL)?),
            _ => (1, 0),
        };
        // SAFETY: the inode is `I_NEW` and ours alone; `install` set the
        // type bits, which `inode_init_owner` keeps; `dir` is referenced.
        unsafe {
            let typebits = (*inode).i_mode & b::S_IFMT as u16;
            b::inode_init_owner(&raw mut b::nop_mnt_idmap, inode, dir.as_ptr(), typebits | (mode & 0o7777));
            b::set_nlink(inode, nlink);
            b::kfs_helper_i_size_write(inode, size);
            (*inode).i_blocks = 0;
            b::kfs_helper_touch_all_times(inode);
        }
        // With POSIX ACLs the VFS left the umask to us: the directory's
        // default ACL, or the umask without one, shapes the mode.
        // SAFETY: `I_NEW`, ours alone, mode set; `dir` is referenced.
        let acls = unsafe { super::xattr::Tables::<T>::create_acls(dir.as_ptr(), inode) }?;
        let inode = self.unlock();
        inode.mark_dirty();
        let created = Created(Some(inode));
        if !acls.is_empty() || super::xattr::Tables::<T>::HAS_XATTRS {
            // Stored before any directory entry names the inode: a failure
            // drops `created`, which frees it all.
            // SAFETY: a referenced inode; `create` runs with the parent's
            // `i_rwsem` held (`tmpfile` without), so the child subclass is
            // the VFS's nesting.
            unsafe { b::kfs_helper_inode_lock_child(created.as_ptr()) };
            // SAFETY: `i_rwsem` held (just taken).
            let locked = unsafe { Locked::<T>::from_raw(created.as_ptr()) };
            let res = super::xattr::Tables::<T>::store_created(locked, &acls)
                .and_then(|()| super::xattr::Tables::<T>::init_security(locked, dir, name));
            // SAFETY: locked above by this task.
            unsafe { b::kfs_helper_inode_unlock(created.as_ptr()) };
            res?;
        }
        Ok(created)
    }

    /// Sets the type bits and operations of the kind of inode, and a
    /// symlink's cached target.
    fn install(&self, typ: &INodeType<'_>) -> Result {
        let inode = self.ptr();
        let typebits = typ.type_bits();
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
            unsafe { b::kfs_helper_inode_set_cached_link(inode, link.as_mut_ptr().cast(), len) };
        }
        // SAFETY: the inode is `I_NEW` and ours alone (type invariant); the
        // tables are `'static`.
        unsafe {
            (*inode).i_mode = typebits as u16;
            match typ {
                INodeType::Reg => {
                    (*inode).i_op = &super::file::Tables::<T>::REG_IOPS;
                    (*inode).__bindgen_anon_3.i_fop = &super::file::Tables::<T>::REG_FOPS;
                    (*(*inode).i_mapping).a_ops = crate::kfs::iomap::aops::table::<T>();
                    if <T::File as super::FileOperations>::LARGE_FOLIOS {
                        b::kfs_helper_mapping_set_large_folios((*inode).i_mapping);
                    }
                }
                INodeType::Dir => {
                    (*inode).i_op = &super::dir::Tables::<T>::DIR_IOPS;
                    (*inode).__bindgen_anon_3.i_fop = &super::dir::Tables::<T>::DIR_FOPS;
                }
                INodeType::Symlink(_) => {
                    (*inode).i_op = &Tables::<T>::SYMLINK_IOPS;
                }
                INodeType::Chr(_) | INodeType::Blk(_) | INodeType::Fifo | INodeType::Sock => {
                    let rdev = match typ {
                        INodeType::Chr(dev) | INodeType::Blk(dev) => dev.0,
                        _ => 0,
                    };
                    (*inode).i_op = &Tables::<T>::SPECIAL_IOPS;
                    // Sets the mode again, the VFS's file operations for
                    // the kind, and `i_rdev` (ignored for FIFOs and sockets).
                    b::init_special_inode(inode, typebits as u16, rdev);
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

/// An inode a directory operation just created ([`NewINode::init_created`])
/// and that no directory names yet.
///
/// Returned from [`super::DirOperations::create`], it is instantiated in the
/// new dentry by the wrapper. Dropped instead (the create failed), it loses
/// its links, so its eviction frees whatever the filesystem gave it.
pub struct Created<T: FileSystem>(Option<ARef<INode<T>>>);

impl<T: FileSystem> Deref for Created<T> {
    type Target = INode<T>;

    fn deref(&self) -> &INode<T> {
        // The option is `None` only inside `into_inner`.
        self.0.as_deref().unwrap_or_else(|| unreachable!())
    }
}

impl<T: FileSystem> Created<T> {
    /// Sets the size of the new directory or symlink, under its `i_rwsem`
    /// (uncontended: no path reaches the inode yet; taken all the same, as a
    /// damaged image could name the new inode number in another directory).
    pub fn set_size(&self, size: i64) -> Result {
        if self.is_reg() {
            return Err(EINVAL);
        }
        // SAFETY: a referenced inode. `create` runs with the parent's
        // `i_rwsem` held, so the child subclass is the VFS's own nesting.
        unsafe { b::kfs_helper_inode_lock_child(self.as_ptr()) };
        // SAFETY: `i_rwsem` held.
        unsafe { b::kfs_helper_i_size_write(self.as_ptr(), size) };
        // SAFETY: locked above by this task.
        unsafe { b::kfs_helper_inode_unlock(self.as_ptr()) };
        Ok(())
    }

    /// The inode, for the wrapper to instantiate.
    pub(in crate::kfs) fn into_inner(mut self) -> ARef<INode<T>> {
        self.0.take().unwrap_or_else(|| unreachable!())
    }
}

impl<T: FileSystem> Drop for Created<T> {
    fn drop(&mut self) {
        if let Some(inode) = &self.0 {
            // SAFETY: a referenced inode no directory names: with no links,
            // its eviction at the last `iput` frees it. `unlock_new_inode`
            // made it findable, and a damaged image may name its number in
            // another directory, whose `link` changes the count under the
            // inode's `i_rwsem`: taken here too, as in `set_size` (the
            // parent's is held, if any, so the child subclass).
            unsafe {
                b::kfs_helper_inode_lock_child(inode.as_ptr());
                b::clear_nlink(inode.as_ptr());
                b::kfs_helper_inode_unlock(inode.as_ptr());
            }
        }
    }
}

/// The inode operation tables of symlinks and special files of filesystem
/// `T` (nothing the filesystem implements: a symlink's target is cached in
/// the inode, a special file has no data).
struct Tables<T: FileSystem>(PhantomData<T>);

impl<T: FileSystem> Tables<T> {
    const SYMLINK_IOPS: b::inode_operations = b::inode_operations {
        get_link: Some(b::simple_get_link),
        setattr: Some(super::file::Tables::<T>::setattr),
        getattr: Some(getattr::<T>),
        listxattr: super::xattr::Tables::<T>::LISTXATTR,
        ..pin_init::zeroed()
    };

    /// Device nodes, FIFOs and sockets: only attributes (their file
    /// operations are the VFS's, set by `init_special_inode`).
    const SPECIAL_IOPS: b::inode_operations = b::inode_operations {
        setattr: Some(super::file::Tables::<T>::setattr),
        getattr: Some(getattr::<T>),
        listxattr: super::xattr::Tables::<T>::LISTXATTR,
        get_inode_acl: super::xattr::Tables::<T>::GET_INODE_ACL,
        set_acl: super::xattr::Tables::<T>::SET_ACL,
        ..pin_init::zeroed()
    };
}

/// `getattr` of every inode type: the VFS's attributes, plus the birth time
/// when the filesystem knows it ([`FileSystem::birth_time`]) and, for
/// regular files with direct I/O, its alignment (`STATX_DIOALIGN`: the
/// device's logical block size and DMA alignment).
///
/// # Safety
///
/// Called by `vfs_getattr_nosec` with a path to a `T` inode and a `kstat`
/// to fill.
pub(in crate::kfs) unsafe extern "C" fn getattr<T: FileSystem>(
    idmap: *mut b::mnt_idmap,
    path: *const b::path,
    stat: *mut b::kstat,
    request_mask: u32,
    _query_flags: kernel::ffi::c_uint,
) -> kernel::ffi::c_int {
    let _nofs = super::NoFs::enter();
    // SAFETY: a valid path to a positive dentry of a `T` inode, which the
    // path pins.
    let inode = unsafe { INode::<T>::from_raw(b::kfs_helper_d_inode((*path).dentry)) };
    // SAFETY: per the caller; `generic_fillattr` only reads the inode.
    unsafe { b::generic_fillattr(idmap, request_mask, inode.as_ptr(), stat) };
    if request_mask & b::STATX_DIOALIGN != 0
        && inode.is_reg()
        && <crate::kfs::iomap::direct::DirectOf<T> as crate::kfs::iomap::DirectOps>::HAS_BEGIN
    {
        // SAFETY: `stat` is ours to fill; `s_bdev` is the filesystem's
        // device, open while it is mounted.
        unsafe { b::kfs_helper_statx_dioalign(stat, (*inode.super_block().ptr()).s_bdev) };
    }
    if T::HAS_BIRTH_TIME && request_mask & b::STATX_BTIME != 0 {
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
