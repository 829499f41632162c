// SPDX-License-Identifier: GPL-2.0

//! Filesystem types (`struct file_system_type`) mounted with the fs_context API
//! on a block device.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/fs_context.h`](srctree/include/linux/fs_context.h).
//!
//! A filesystem implements [`FileSystem`] and names [`FsModule`] as its
//! module's type (`module! { type: ..., }`, through a type alias). The
//! module holds the [`Registration`] in its static storage, the only place
//! where it is sound: `file_system_type` holds lockdep class keys, which
//! must be static, and unregistering is only safe at module unload, when no
//! mount or mount context of the type can exist any more (each pins the
//! module). `unregister_filesystem` waits for neither, so a registration
//! dropped earlier would leave `kill_sb` and `fsconfig` of existing mounts
//! and contexts running on freed memory: there is no public way to make or
//! drop one but [`FsModule`].
//!
//! Mounting: `get_tree_bdev` opens the device and calls
//! [`FileSystem::fill_super`], which reads and checks the on-disk super block
//! and returns the filesystem's [`FileSystem::Data`]; the wrapper installs it,
//! asks [`FileSystem::root`] for the root inode and makes the root dentry. The
//! data is dropped right after [`super::SuperOperations::put_super`], when
//! `generic_shutdown_super` has evicted every inode and before the device is
//! released (or in `kill_sb` when the mount failed before it had a root).
//! No inode reference can be kept in the data: [`INode`] is `!Send`, the
//! data `Send`. One can still be leaked (`mem::forget` is safe): then the
//! inode outlives the unmount, and `put_super`'s trampoline pins the module
//! for good, with a line in dmesg, so that what it points at stays valid.

use crate::kfs::HookResult;
use super::{
    file::WritebackOf,
    options::{MountOptions, ParamTables},
    super_block::SbState,
    INode, Locked, NewSuperBlock, NoFs, SuperBlock, Timespec,
};
use crate::kfs::iomap::{aops::EndIo, WritebackOps};
use crate::kfs::bindings as b;
use core::marker::PhantomData;
use kernel::{
    error::{from_result, to_result},
    prelude::*,
    str::CStrExt,
    sync::aref::ARef,
    types::Opaque,
    ThisModule,
};

/// A block-device filesystem: its type (`struct file_system_type`) and mount
/// context (`struct fs_context_operations`).
///
/// The other C tables are traits of their own, named here by associated
/// types: [`super::SuperOperations`] (`struct super_operations`),
/// [`super::DirOperations`] (directory `inode_operations` and
/// `file_operations`), [`super::FileOperations`] (regular files, whose data
/// goes through the iomap traits it names). Every optional entry of every
/// table is `NULL` unless the filesystem implements it (`#[vtable]`).
#[vtable]
pub trait FileSystem: Sized + Send + Sync + 'static {
    /// The name `mount -t` and `/proc/filesystems` use.
    const NAME: &'static CStr;

    /// The magic number `statfs(2)` reports.
    const MAGIC: u32;

    /// The largest link count (`s_max_links`): `link`, `mkdir` and
    /// `rename` into a directory fail with `EMLINK` rather than go past it,
    /// so a count read from disk can never wrap, whatever its value.
    const MAX_LINKS: u32 = u32::MAX;

    /// Per-super-block data, made by [`Self::fill_super`] and dropped after
    /// every inode was evicted, while the super block and its device are
    /// still there (`put_super`; `kill_sb` when the mount failed).
    type Data: Send + Sync;

    /// Per-inode data, made by [`Self::init_inode_data`] when the inode is
    /// allocated and dropped by `destroy_inode`, in process context.
    type INodeData: Send + Sync;

    /// The super block operations.
    type Super: super::SuperOperations<FileSystem = Self>;

    /// The operations of directories.
    type Dir: super::DirOperations<FileSystem = Self>;

    /// The operations of regular files.
    type File: super::FileOperations<FileSystem = Self>;

    /// The extended attributes of every inode type.
    type Xattr: super::XattrOperations<FileSystem = Self>;

    /// The mount options (`()`: none but the VFS's own, such as `ro`).
    type Options: MountOptions;

    /// Reads and checks the on-disk super block and sets the block size;
    /// `options` are the mount options the user gave.
    ///
    /// Called by `get_tree_bdev` with `s_umount` held for writing, the block
    /// device opened and claimed for this super block. An error fails the
    /// mount with that errno; the VFS then tears the super block down.
    fn fill_super(sb: &mut NewSuperBlock<Self>, options: &Self::Options) -> Result<Self::Data>;

    /// Returns the root directory's inode; called right after `fill_super`
    /// with the data installed.
    fn root(sb: &SuperBlock<Self>) -> Result<ARef<INode<Self>>>;

    /// The initial value of a new inode's data (filled later, e.g. from disk).
    fn init_inode_data() -> impl PinInit<Self::INodeData, Error>;

    /// A remount (`mount -o remount,...`): `options` holds the mount
    /// options given this time (the rest at their defaults), and
    /// `read_only` is `Some` when the mount changes between read-only
    /// (`Some(true)`) and read-write. Called with `s_umount` held for
    /// writing; before a switch to read-only the wrapper has synced the
    /// filesystem (`sync_filesystem`), and it writes the device out after
    /// this returns when the state changed. An error cancels the remount.
    /// Without this entry a remount can change only the read-only state.
    fn reconfigure(_sb: &SuperBlock<Self>, _read_only: Option<bool>, _options: &Self::Options) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Whether the filesystem takes changes now: an error (`EROFS`, or `EIO`
    /// for a shut-down filesystem) when it stopped writing on its own, for
    /// example after finding a corruption (ext4's emergency read-only,
    /// XFS's shutdown), which the VFS does not know: it refuses changes
    /// only to read-only mounts. The wrapper asks first, before anything
    /// changes, in write, fallocate, setattr (truncate, chmod, ...), chattr,
    /// setting an xattr or ACL, and every directory operation that adds,
    /// removes or renames an entry. A write fault (`page_mkwrite`) and
    /// writeback are not covered: the filesystem refuses those in its
    /// mapping hooks, which also stop what was under way when it stopped.
    /// Called without the filesystem's locks. Without this entry the
    /// filesystem always takes changes.
    fn check_writable(_sb: &SuperBlock<Self>) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The wrapper found an on-disk value it cannot act on (a link count too
    /// low for an unlink, rmdir or rename; a negative size, or a regular
    /// file's past `s_maxbytes`, at [`super::NewINode::init`]) and refused
    /// the operation with `EUCLEAN` and a line in dmesg: the filesystem records the corruption
    /// as it records its own (an error state for fsck, `errors=`). Called
    /// with the directory locks of the operation held, so it must not take
    /// them. Without this entry nothing more happens.
    fn corruption_found(_sb: &SuperBlock<Self>) {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// When `inode` was created, for `statx` (`STATX_BTIME`); `None` if the
    /// filesystem does not know. Called from `getattr` of every inode type.
    fn birth_time(_inode: &INode<Self>) -> Option<Timespec> {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Records new flags of `inode` so that they persist (`chattr`:
    /// `FS_IOC_SETFLAGS`, `FS_IOC_FSSETXATTR`). The VFS checked the
    /// caller's right to change them (`CAP_LINUX_IMMUTABLE` for immutable
    /// and append-only, ownership for the rest) and holds `i_rwsem`; any
    /// other flag was refused with `EOPNOTSUPP`. After this returns `Ok`
    /// the wrapper sets them in `i_flags`, where the VFS enforces them, and
    /// updates ctime. Without this entry `chattr` fails with `ENOTTY` and
    /// `lsattr` still shows the flags the inode was read with.
    fn set_flags(_inode: &Locked<Self>, _flags: super::INodeFlags) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// [`FileSystem::check_writable`] when `T` implements it.
pub(in crate::kfs) fn writable<T: FileSystem>(sb: &SuperBlock<T>) -> Result {
    if T::HAS_CHECK_WRITABLE {
        T::check_writable(sb).hook()
    } else {
        Ok(())
    }
}

/// A registered filesystem type; unregistered when dropped.
#[pin_data(PinnedDrop)]
pub struct Registration<T: FileSystem> {
    /// The mount option tables `parse_param` reads (from the registration
    /// to `unregister_filesystem`, which waits for every mount context).
    params: ParamTables,
    #[pin]
    fs: Opaque<b::file_system_type>,
    _p: PhantomData<T>,
}

// SAFETY: After registration the VFS owns all mutation of the
// `file_system_type` (under its own locks); Rust code never touches it again
// until `unregister_filesystem`, which the VFS serialises too. The parameter
// tables are never changed after `new`: every thread only reads them.
unsafe impl<T: FileSystem> Send for Registration<T> {}
// SAFETY: See `Send`: shared references expose no access to the C object.
unsafe impl<T: FileSystem> Sync for Registration<T> {}

/// Set by the first [`FsModule::init`]: the module's own.
static FS_MODULE_INIT: kernel::sync::atomic::Atomic<bool> = kernel::sync::atomic::Atomic::new(false);

/// The module of filesystem `T`: registers it when the module is loaded and
/// unregisters it when the module is unloaded. Name it as the module's type:
/// `type MyModule = kfs::vfs::FsModule<MyFs>;` and `module! { type:
/// MyModule, ... }`.
///
/// Only the module's own instance registers: its `init` is the first code
/// of the module that runs, and every later call of
/// [`kernel::InPlaceModule::init`] (which any code may make) fails with
/// `EBUSY`, so no other instance, which could be dropped while mounts exist,
/// is ever made. One filesystem type per module: the flag is the module's,
/// not the type's.
#[pin_data]
pub struct FsModule<T: FileSystem> {
    #[pin]
    fs: Registration<T>,
}

impl<T: FileSystem> kernel::InPlaceModule for FsModule<T> {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let first = !FS_MODULE_INIT.xchg(true, kernel::sync::atomic::Full);
        try_pin_init!(Self { fs <- Registration::new(module, first) })
    }
}

impl<T: FileSystem> Registration<T> {
    /// Registers `T` as a filesystem type owned by `module`, if `first`
    /// (the module's own [`FsModule`]). Private: see [`FsModule`].
    fn new(module: &'static ThisModule, first: bool) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            params: ParamTables::new::<T::Options>()?,
            fs <- Opaque::try_ffi_init(|ptr: *mut b::file_system_type| {
                if !first {
                    pr_err!("{:?}: a second FsModule: only the module's own registers\n", T::NAME);
                    return Err(EBUSY);
                }
                // `register_filesystem` BUGs on a name with a dot in it.
                let name = T::NAME.to_bytes();
                if name.is_empty() || name.contains(&b'.') {
                    pr_err!("filesystem name {:?}: empty or with a '.': not registered\n", T::NAME);
                    return Err(EINVAL);
                }
                // SAFETY: `try_ffi_init` hands us valid, writable, pinned
                // memory for a `file_system_type`. All-zero is its "empty"
                // value (no flags, NULL pointers, unlinked list heads).
                unsafe { ptr.write(pin_init::zeroed()) };
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
        free: Some(Self::free_fc),
        parse_param: Some(Self::parse_param),
        get_tree: Some(Self::get_tree),
        reconfigure: if T::HAS_RECONFIGURE { Some(Self::reconfigure) } else { None },
        ..pin_init::zeroed()
    };

    /// # Safety
    ///
    /// Called by the VFS with a valid, newly allocated `fs_context` of this
    /// filesystem type.
    unsafe extern "C" fn init_fs_context(fc: *mut kernel::bindings::fs_context) -> kernel::ffi::c_int {
        // `kernel::bindings` knows `fs_context` only as an opaque stub; ours
        // is the full definition of the same C type.
        let fc = fc.cast::<b::fs_context>();
        let Ok(options) = KBox::new(T::Options::default(), GFP_KERNEL) else {
            return ENOMEM.to_errno();
        };
        // SAFETY: `fc` is valid (guaranteed by the caller); `CONTEXT_OPS` is a
        // promoted constant and so lives for `'static`. `fs_private` is ours:
        // `free_fc` drops the box when the VFS frees the context (also when
        // this context never mounts).
        unsafe {
            (*fc).fs_private = KBox::into_raw(options).cast();
            (*fc).ops = &Self::CONTEXT_OPS;
        }
        0
    }

    /// The options of a context that `init_fs_context` set up.
    ///
    /// # Safety
    ///
    /// `fc` is such a context, not freed yet, and no other reference to its
    /// options exists while the result is used (the VFS uses a context from
    /// one thread at a time).
    unsafe fn options<'a>(fc: *mut b::fs_context) -> &'a mut T::Options {
        // SAFETY: `fs_private` holds the box of `init_fs_context` (caller).
        unsafe { &mut *(*fc).fs_private.cast::<T::Options>() }
    }

    /// # Safety
    ///
    /// Called by the VFS when it frees a context of this type that
    /// `init_fs_context` set up; nothing uses it afterwards.
    unsafe extern "C" fn free_fc(fc: *mut b::fs_context) {
        // SAFETY: the box of `init_fs_context`, freed exactly once here.
        unsafe {
            let p = (*fc).fs_private.cast::<T::Options>();
            if !p.is_null() {
                (*fc).fs_private = core::ptr::null_mut();
                drop(KBox::from_raw(p));
            }
        }
    }

    /// # Safety
    ///
    /// Called by `vfs_parse_fs_param` with a valid context of this type and
    /// one parameter (a key the VFS did not take itself).
    unsafe extern "C" fn parse_param(fc: *mut b::fs_context, param: *mut b::fs_parameter) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: a context of this type points at the
            // `file_system_type` that `Registration::new` registered, a field
            // of the registration; the context holds a reference to the type
            // (`get_filesystem`: its owner, our module), so the module and
            // its registration outlive the call.
            let reg = unsafe {
                &*kernel::container_of!(
                    (*fc).fs_type.cast::<Opaque<b::file_system_type>>(),
                    Registration<T>,
                    fs
                )
            };
            // SAFETY: valid context and parameter (caller); the options are
            // used by this thread only (the VFS serialises a context).
            unsafe { reg.params.parse(fc, param, Self::options(fc)) }?;
            Ok(0)
        })
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
        let _nofs = NoFs::enter();
        from_result(|| {
            // SAFETY: a reconfiguration context has the mount's root.
            let sb = unsafe { (*(*fc).root).d_sb };
            // SAFETY: a mounted `T` super block with its data installed.
            let sbr = unsafe { SuperBlock::<T>::from_raw(sb) };
            // SAFETY: reading the requested flags of a valid context.
            let (flags, mask) = unsafe { ((*fc).sb_flags, (*fc).sb_flags_mask) };
            let rdonly = b::KFS_CONST_SB_RDONLY as u32;
            // A remount through `fspick`/`fsconfig` may carry options only
            // (no `SB_RDONLY` in the mask): the filesystem still sees them.
            let want_ro = flags & rdonly != 0;
            let change = (mask & rdonly != 0 && want_ro != sbr.is_read_only()).then_some(want_ro);
            if change == Some(true) {
                // SAFETY: `s_umount` is held for writing (caller).
                to_result(unsafe { b::sync_filesystem(sb) })?;
            }
            // SAFETY: the context's options, used by this thread only.
            T::reconfigure(sbr, change, unsafe { Self::options(fc) }).hook()?;
            if change.is_some() {
                sbr.sync_device()?;
            }
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by `get_tree_bdev` with a new super block of this type, with
    /// `s_umount` held for writing.
    unsafe extern "C" fn fill_super(sb: *mut b::super_block, fc: *mut b::fs_context) -> kernel::ffi::c_int {
        let _nofs = NoFs::enter();
        from_result(|| {
            // SAFETY: the super block is ours alone during `fill_super`.
            unsafe {
                (*sb).s_op = super::super_ops::table::<T>();
                (*sb).s_magic = T::MAGIC as kernel::ffi::c_ulong;
                (*sb).s_time_gran = 1;
                (*sb).s_max_links = T::MAX_LINKS;
                (*sb).s_xattr = super::xattr::Tables::<T>::handlers();
            }
            // SAFETY: `sb` is a new super block of filesystem `T`, exclusively
            // ours until `fill_super` returns (caller guarantee).
            let new = unsafe { NewSuperBlock::<T>::from_raw(sb) };
            let endio = if WritebackOf::<T>::HAS_COMPLETE {
                Some(EndIo::new::<T>(new.id())?)
            } else {
                None
            };
            // SAFETY: the mount's context, used by this thread only.
            let data = T::fill_super(new, unsafe { Self::options(fc) }).hook()?;
            let state = KBox::new(SbState::<T> { endio, data }, GFP_KERNEL)?;
            // SAFETY: still ours alone; `put_super` or `kill_sb` frees it.
            unsafe { (*sb).s_fs_info = KBox::into_raw(state).cast() };
            // SAFETY: the data is installed and `s_op` is ours: the type
            // invariants of `SuperBlock<T>` hold from here on.
            let sbr = unsafe { SuperBlock::<T>::from_raw(sb) };
            let root = T::root(sbr).hook()?;
            if !core::ptr::eq(root.super_block(), sbr) {
                pr_err!("{}: the root inode belongs to another super block\n", sbr.id());
                return Err(EIO);
            }
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
        // Without a root the mount failed: `generic_shutdown_super` will not
        // call `put_super`, and no inode is left (every `iput` of a super
        // block that never became active evicts at once). Drop the data
        // here, while the device is still open.
        // SAFETY: the VFS hands us the super block; `s_root` is stable now.
        if unsafe { (*sb).s_root }.is_null() {
            // SAFETY: no inode and no operation uses the data any more.
            unsafe { super::super_ops::drop_data::<T>(sb) };
        }
        // SAFETY: a block-device super block: `kill_block_super` shuts it
        // down (evicting every inode, `put_super`, writing the device out)
        // and releases the device.
        unsafe { b::kill_block_super(sb) };
    }
}
