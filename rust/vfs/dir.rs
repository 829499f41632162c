// SPDX-License-Identifier: GPL-2.0

//! Directories: their `inode_operations` and `file_operations`
//! ([`DirOperations`]), and directory iteration (`struct dir_context`,
//! `dir_emit`).
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).
//!
//! The wrappers do what every filesystem would repeat around a namespace
//! operation: link counts of the directories and inodes involved, their
//! times, marking them dirty, and the dentry (`d_splice_alias`,
//! `d_instantiate`), after checking that an inode the filesystem hands back
//! belongs to the same super block.

use crate::kfs::HookResult;
use super::{CreateKind, Created, DevNum, FileSystem, INode, INodeType, Locked, NoFs};
use crate::kfs::bindings as b;
use core::marker::PhantomData;
use kernel::{error::from_result, prelude::*, sync::aref::ARef};

/// The operations of directories of filesystem [`Self::FileSystem`].
///
/// The VFS holds the directory's `i_rwsem` exclusive around every change
/// (`create` ... `rename`), so they receive it as [`Locked`]; `lookup` and
/// `read_dir` run with it held shared.
#[vtable]
pub trait DirOperations: Sized + 'static {
    /// The filesystem these are the operations of.
    type FileSystem: FileSystem;

    /// Looks `name` up in directory `dir`; `None` if there is no such entry.
    /// Called with `dir`'s `i_rwsem` held at least shared.
    fn lookup(
        dir: &INode<Self::FileSystem>,
        name: &[u8],
    ) -> Result<Option<ARef<INode<Self::FileSystem>>>>;

    /// Emits the entries of `dir` from `emitter.pos()` on. Called with `dir`'s
    /// `i_rwsem` held shared.
    fn read_dir(dir: &INode<Self::FileSystem>, emitter: &mut DirEmitter) -> Result;

    /// Creates an inode of kind `typ` with permission bits `mode` (with
    /// [`super::NewINode::init_created`], the only way to make a
    /// [`Created`]) and an entry `name` for it in `dir`. The wrapper then
    /// updates `dir`'s times and link count and instantiates the dentry.
    /// Installs `create`, `mkdir`, `symlink` and `mknod` (device nodes,
    /// FIFOs and sockets: [`INodeType::Chr`] ... [`INodeType::Sock`]; the
    /// VFS checked `CAP_MKNOD` for devices).
    fn create(
        _dir: &Locked<Self::FileSystem>,
        _name: &[u8],
        _kind: CreateKind<'_>,
        _mode: u16,
    ) -> Result<Created<Self::FileSystem>> {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Makes an unnamed regular file for `open(O_TMPFILE)` in `dir`'s
    /// filesystem: an inode made as [`Self::create`] makes one (with
    /// [`super::NewINode::init_created`], permission bits `mode`), and no
    /// entry. The wrapper drops its link count to 0 (`d_tmpfile`) and opens
    /// it: the filesystem must keep it as a file unlinked while open (freed
    /// at its last close, and after a crash). Unless opened `O_EXCL`,
    /// `linkat` may name it later: [`Self::link`] then sees its link count
    /// raised from 0 to 1. `dir`'s `i_rwsem` is not held. Without this,
    /// `O_TMPFILE` is `EOPNOTSUPP`.
    fn tmpfile(_dir: &INode<Self::FileSystem>, _kind: CreateKind<'_>, _mode: u16) -> Result<Created<Self::FileSystem>> {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Adds an entry `name` in `dir` for the existing `inode`. The wrapper
    /// has raised its link count already (and drops it again if this
    /// fails), so an `O_TMPFILE` inode getting its first name has a link
    /// count of 1 here. Both `i_rwsem`s are held.
    fn link(
        _dir: &Locked<Self::FileSystem>,
        _name: &[u8],
        _inode: &Locked<Self::FileSystem>,
    ) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Removes the entry `name` of non-directory `inode` from `dir` (the
    /// wrapper drops the link count). Both `i_rwsem`s are held.
    fn unlink(
        _dir: &Locked<Self::FileSystem>,
        _name: &[u8],
        _inode: &Locked<Self::FileSystem>,
    ) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Removes the entry `name` of directory `inode` from `dir` if `inode`
    /// is empty, else `ENOTEMPTY`. Both `i_rwsem`s are held.
    fn rmdir(
        _dir: &Locked<Self::FileSystem>,
        _name: &[u8],
        _inode: &Locked<Self::FileSystem>,
    ) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Moves entry `old_name` of `old_dir` (naming `inode`) to `new_name` in
    /// `new_dir`, replacing `target` if there is one (`ENOTEMPTY` for a
    /// non-empty directory), and re-points a moved directory's `..`. The
    /// wrapper updates link counts and times. The VFS holds both
    /// directories' `i_rwsem` (`old_dir` and `new_dir` may be the same
    /// inode), and those of `inode` and `target` when they are not
    /// directories.
    fn rename(
        _old_dir: &Locked<Self::FileSystem>,
        _old_name: &[u8],
        _inode: &INode<Self::FileSystem>,
        _new_dir: &Locked<Self::FileSystem>,
        _new_name: &[u8],
        _target: Option<&INode<Self::FileSystem>>,
    ) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// As [`Self::rename`], but `old_name` is left naming a new whiteout
    /// instead of being removed (`renameat2` with `RENAME_WHITEOUT`, what
    /// overlayfs uses to hide a lower file): a character device node
    /// numbered [`DevNum::WHITEOUT`] with no permission bits, made as
    /// `create` makes one (of kind `whiteout`, `INodeType::Chr(DevNum::WHITEOUT)`,
    /// mode 0) and returned. The rename and the whiteout are one operation: if either
    /// fails, neither may be visible. Without this, `RENAME_WHITEOUT` is
    /// `EINVAL`.
    fn rename_whiteout(
        _old_dir: &Locked<Self::FileSystem>,
        _old_name: &[u8],
        _inode: &INode<Self::FileSystem>,
        _new_dir: &Locked<Self::FileSystem>,
        _new_name: &[u8],
        _target: Option<&INode<Self::FileSystem>>,
        _whiteout: CreateKind<'_>,
    ) -> Result<Created<Self::FileSystem>> {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Swaps two entries (`renameat2` with `RENAME_EXCHANGE`): `old_name`
    /// of `old_dir` names `inode` and `new_name` of `new_dir` names
    /// `other`; afterwards each names the other inode, and each directory
    /// moved to another parent has its `..` re-pointed. Both exist (the
    /// VFS checked), either may be a directory. The wrapper updates link
    /// counts and times. Without this, `RENAME_EXCHANGE` is `EINVAL`. The
    /// VFS holds both directories' `i_rwsem`, and those of `inode` and
    /// `other` when they are not directories.
    fn exchange(
        _old_dir: &Locked<Self::FileSystem>,
        _old_name: &[u8],
        _inode: &INode<Self::FileSystem>,
        _new_dir: &Locked<Self::FileSystem>,
        _new_name: &[u8],
        _other: &INode<Self::FileSystem>,
    ) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// The reader of a directory: `getdents(2)` through `iterate_shared`.
///
/// Its position ([`Self::pos`]) is the filesystem's cookie for "where to go on
/// from"; `telldir`/`seekdir` hand it back unchanged, so it must stay meaningful
/// while entries are added and removed.
pub struct DirEmitter {
    ctx: *mut b::dir_context,
}

impl DirEmitter {
    /// # Safety
    ///
    /// `ctx` must be the `dir_context` passed to `iterate_shared`, valid and
    /// used by no one else until this value is dropped.
    pub(in crate::kfs) unsafe fn new(ctx: *mut b::dir_context) -> Self {
        Self { ctx }
    }

    /// The position to continue from.
    pub fn pos(&self) -> i64 {
        // SAFETY: `ctx` is valid and ours (type invariant).
        unsafe { (*self.ctx).pos }
    }

    /// Sets the position to continue from after the entry just emitted.
    pub fn set_pos(&mut self, pos: i64) {
        // SAFETY: `ctx` is valid and ours (type invariant).
        unsafe { (*self.ctx).pos = pos };
    }

    /// Emits one entry; `false` means the reader's buffer is full: stop
    /// without advancing the position.
    pub fn emit(&mut self, name: &[u8], ino: u64, dtype: u8) -> bool {
        let Ok(len) = i32::try_from(name.len()) else {
            return false;
        };
        // SAFETY: `ctx` is valid and ours; `name` is valid for `len` bytes for
        // the duration of the call (dir_emit copies it).
        unsafe {
            b::kfs_helper_dir_emit(self.ctx, name.as_ptr().cast(), len, ino, u32::from(dtype))
        }
    }
}

/// Whether `inode` belongs to the super block of `dir`; logs otherwise. An
/// inode of another mount (even of the same filesystem type) must never be
/// spliced into this tree.
fn same_sb<T: FileSystem>(dir: &INode<T>, inode: &INode<T>, what: &str) -> Result {
    if core::ptr::eq(dir.super_block(), inode.super_block()) {
        Ok(())
    } else {
        pr_err!(
            "{}: {} of directory {} returned inode {} of another super block\n",
            dir.super_block().id(),
            what,
            dir.ino(),
            inode.ino()
        );
        Err(EIO)
    }
}

/// The operation tables of directories of filesystem `T`.
pub(in crate::kfs) struct Tables<T: FileSystem>(PhantomData<T>);

impl<T: FileSystem> Tables<T> {
    pub(in crate::kfs) const DIR_FOPS: b::file_operations = b::file_operations {
        llseek: Some(b::generic_file_llseek),
        read: Some(b::generic_read_dir),
        iterate_shared: Some(Self::iterate_shared),
        // Entries live in metadata buffers and the directory's inode:
        // fsync writes both and flushes, so the durable-create pattern
        // (write, fsync the file, fsync its directory) works.
        fsync: Some(super::file::fsync::<T>),
        ..pin_init::zeroed()
    };

    pub(in crate::kfs) const DIR_IOPS: b::inode_operations = b::inode_operations {
        getattr: Some(super::inode::getattr::<T>),
        lookup: Some(Self::lookup),
        create: if T::Dir::HAS_CREATE { Some(Self::create) } else { None },
        mkdir: if T::Dir::HAS_CREATE { Some(Self::mkdir) } else { None },
        symlink: if T::Dir::HAS_CREATE { Some(Self::symlink) } else { None },
        mknod: if T::Dir::HAS_CREATE { Some(Self::mknod) } else { None },
        link: if T::Dir::HAS_LINK { Some(Self::link) } else { None },
        tmpfile: if T::Dir::HAS_TMPFILE { Some(Self::tmpfile) } else { None },
        unlink: if T::Dir::HAS_UNLINK { Some(Self::unlink) } else { None },
        rmdir: if T::Dir::HAS_RMDIR { Some(Self::rmdir) } else { None },
        rename: if T::Dir::HAS_RENAME { Some(Self::rename) } else { None },
        setattr: Some(super::file::Tables::<T>::setattr),
        listxattr: super::xattr::Tables::<T>::LISTXATTR,
        get_inode_acl: super::xattr::Tables::<T>::GET_INODE_ACL,
        set_acl: super::xattr::Tables::<T>::SET_ACL,
        fileattr_get: Some(super::file::Tables::<T>::fileattr_get),
        fileattr_set: if T::HAS_SET_FLAGS { Some(super::file::Tables::<T>::fileattr_set) } else { None },
        ..pin_init::zeroed()
    };

    /// # Safety
    ///
    /// Called by the VFS (`iterate_dir`) with an open directory of a `T`
    /// filesystem, its `i_rwsem` held shared, and the reader's context.
    unsafe extern "C" fn iterate_shared(file: *mut b::file, ctx: *mut b::dir_context) -> kernel::ffi::c_int {
        let _nofs = NoFs::enter();
        from_result(|| {
            // SAFETY: `file` is open, so `f_inode` is a referenced inode of
            // type `T`.
            let dir = unsafe { INode::<T>::from_raw((*file).f_inode) };
            // SAFETY: `ctx` is the reader's context, ours for this call.
            let mut emitter = unsafe { DirEmitter::new(ctx) };
            T::Dir::read_dir(dir, &mut emitter).hook()?;
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
        let _nofs = NoFs::enter();
        // SAFETY: `dir` is a referenced directory inode of type `T`; the
        // dentry's name is stable during lookup.
        let (dir_ref, name) = unsafe { (INode::<T>::from_raw(dir), dentry_name(dentry)) };
        let inode = match T::Dir::lookup(dir_ref, name).hook() {
            Ok(Some(inode)) => {
                if let Err(e) = same_sb(dir_ref, &inode, "lookup") {
                    return e.to_ptr();
                }
                ARef::into_raw(inode).as_ptr().cast::<b::inode>()
            }
            Ok(None) => core::ptr::null_mut(),
            Err(e) => return e.to_ptr(),
        };
        // SAFETY: `dentry` is valid; `d_splice_alias` takes over our inode
        // reference (or a NULL inode: a negative dentry), and refuses
        // (`ELOOP`) a directory that would become its own ancestor.
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
        let _nofs = NoFs::enter();
        // SAFETY: per the caller.
        let (dir, name) = unsafe { (Locked::<T>::from_raw(dir), dentry_name(dentry)) };
        super::fs_type::writable(dir.super_block())?;
        let is_dir = matches!(typ, INodeType::Dir);
        let inode = T::Dir::create(dir, name, CreateKind::new(typ, Some(name)), mode).hook()?.into_inner();
        if is_dir {
            // SAFETY: `i_rwsem` of `dir` held.
            unsafe { b::inc_nlink(dir.as_ptr()) };
        }
        dir.touch_mtime_ctime();
        dir.mark_dirty();
        // SAFETY: a negative dentry; `d_instantiate` takes our reference to
        // the inode `init_created` made on this super block.
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
    /// Called by the VFS (`vfs_mknod`) as for `create`, with the type bits
    /// of a special file in `mode` (regular files go through `create`).
    unsafe extern "C" fn mknod(
        _idmap: *mut b::mnt_idmap,
        dir: *mut b::inode,
        dentry: *mut b::dentry,
        mode: b::umode_t,
        dev: b::dev_t,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            let typ = INodeType::special(u32::from(mode), DevNum::from_raw(dev)).ok_or(EINVAL)?;
            // SAFETY: per the caller.
            unsafe { Self::create_common(dir, dentry, typ, mode) }?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFS (`vfs_tmpfile`) with a referenced `T` directory
    /// (its `i_rwsem` not held) and a `file` being opened whose path is a
    /// new negative dentry in it.
    unsafe extern "C" fn tmpfile(
        _idmap: *mut b::mnt_idmap,
        dir: *mut b::inode,
        file: *mut b::file,
        mode: b::umode_t,
    ) -> kernel::ffi::c_int {
        let _nofs = NoFs::enter();
        from_result(|| {
            // SAFETY: a referenced directory of `T` (caller guarantee).
            let dir = unsafe { INode::<T>::from_raw(dir) };
            super::fs_type::writable(dir.super_block())?;
            let inode = T::Dir::tmpfile(dir, CreateKind::new(INodeType::Reg, None), mode).hook()?.into_inner();
            // SAFETY: the file's dentry is negative and ours to instantiate;
            // `d_tmpfile` drops the link count `init_created` set to 0 and
            // takes our reference to the inode.
            unsafe { b::d_tmpfile(file, ARef::into_raw(inode).as_ptr().cast()) };
            // SAFETY: the file's path is set and its dentry positive now;
            // `finish_open` runs the inode's own `open`.
            kernel::error::to_result(unsafe { b::finish_open(file, b::kfs_helper_file_dentry(file), None) })?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFS (`vfs_link`) with a positive `old` dentry of a `T`
    /// non-directory on the same super block as `dir` (`vfs_link` refuses
    /// `EXDEV` otherwise), the `T` directory `dir` (its `i_rwsem` held
    /// exclusive, and the source inode's too) and a negative `dentry`.
    unsafe extern "C" fn link(
        old: *mut b::dentry,
        dir: *mut b::inode,
        dentry: *mut b::dentry,
    ) -> kernel::ffi::c_int {
        let _nofs = NoFs::enter();
        from_result(|| {
            // SAFETY: per the caller.
            let (dir, name, inode) = unsafe {
                (
                    Locked::<T>::from_raw(dir),
                    dentry_name(dentry),
                    Locked::<T>::from_raw(b::kfs_helper_d_inode(old)),
                )
            };
            super::fs_type::writable(dir.super_block())?;
            // Raised first, as ext4 does: an `O_TMPFILE` inode (`I_LINKABLE`,
            // `vfs_link` checked) goes from 0 to 1 before its entry exists.
            // SAFETY: the inode's `i_rwsem` is held.
            unsafe { b::inc_nlink(inode.as_ptr()) };
            if let Err(e) = T::Dir::link(dir, name, inode).hook() {
                // SAFETY: as above; raised just now.
                unsafe { b::drop_nlink(inode.as_ptr()) };
                return Err(e);
            }
            inode.touch_ctime();
            inode.mark_dirty();
            dir.touch_mtime_ctime();
            dir.mark_dirty();
            let inode: ARef<INode<T>> = ARef::from(&**inode);
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
        let _nofs = NoFs::enter();
        // SAFETY: per the caller.
        let (dir, name, inode) = unsafe {
            (
                Locked::<T>::from_raw(dir),
                dentry_name(dentry),
                Locked::<T>::from_raw(b::kfs_helper_d_inode(dentry)),
            )
        };
        super::fs_type::writable(dir.super_block())?;
        if rmdir {
            // The parent counts this directory's `..`.
            links_at_least(dir, 3, "rmdir")?;
            links_at_least(inode, 2, "rmdir")?;
            T::Dir::rmdir(dir, name, inode).hook()?;
            // SAFETY: both `i_rwsem`s are held.
            unsafe {
                b::clear_nlink(inode.as_ptr());
                b::drop_nlink(dir.as_ptr());
            }
        } else {
            links_at_least(inode, 1, "unlink")?;
            T::Dir::unlink(dir, name, inode).hook()?;
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
    /// `RENAME_NOREPLACE`, positive (always positive with
    /// `RENAME_EXCHANGE`); every inode involved is referenced by its dentry.
    unsafe extern "C" fn rename(
        _idmap: *mut b::mnt_idmap,
        old_dir: *mut b::inode,
        old_dentry: *mut b::dentry,
        new_dir: *mut b::inode,
        new_dentry: *mut b::dentry,
        flags: kernel::ffi::c_uint,
    ) -> kernel::ffi::c_int {
        let _nofs = NoFs::enter();
        from_result(|| {
            let exchange = flags & b::RENAME_EXCHANGE != 0;
            let supported = b::RENAME_NOREPLACE
                | if T::Dir::HAS_EXCHANGE { b::RENAME_EXCHANGE } else { 0 }
                | if T::Dir::HAS_RENAME_WHITEOUT { b::RENAME_WHITEOUT } else { 0 };
            if flags & !supported != 0 {
                return Err(EINVAL);
            }
            // SAFETY: per the caller.
            let (od, on, inode, nd, nn) = unsafe {
                (
                    Locked::<T>::from_raw(old_dir),
                    dentry_name(old_dentry),
                    INode::<T>::from_raw(b::kfs_helper_d_inode(old_dentry)),
                    Locked::<T>::from_raw(new_dir),
                    dentry_name(new_dentry),
                )
            };
            // SAFETY: as above; NULL for a negative dentry.
            let target = unsafe { b::kfs_helper_d_inode(new_dentry) };
            // SAFETY: a positive target is a referenced `T` inode.
            let target = (!target.is_null()).then(|| unsafe { INode::<T>::from_raw(target) });
            super::fs_type::writable(od.super_block())?;
            let is_dir = inode.is_dir();
            // A directory's parent counts its `..`; a replaced target
            // loses a link (a directory two).
            if is_dir {
                links_at_least(od, 3, "rename")?;
            }
            if let Some(t) = target {
                links_at_least(t, if t.is_dir() { 2 } else { 1 }, "rename")?;
                if t.is_dir() {
                    links_at_least(nd, 3, "rename")?;
                }
            }
            if exchange {
                // The VFS checked that both exist.
                let other = target.ok_or(ENOENT)?;
                T::Dir::exchange(od, on, inode, nd, nn, other).hook()?;
                let other_dir = other.is_dir();
                // SAFETY: every inode involved is locked by the VFS.
                unsafe {
                    // A directory that changes parent takes its `..` link
                    // along (the VFS checked `s_max_links`).
                    if !core::ptr::eq(od.as_ptr(), nd.as_ptr()) && is_dir != other_dir {
                        let (gains, loses) = if is_dir { (nd, od) } else { (od, nd) };
                        b::inc_nlink(gains.as_ptr());
                        b::drop_nlink(loses.as_ptr());
                    }
                    b::simple_rename_timestamp(old_dir, old_dentry, new_dir, new_dentry);
                }
                inode.mark_dirty();
                other.mark_dirty();
                od.mark_dirty();
                nd.mark_dirty();
                return Ok(0);
            }
            let whiteout = if flags & b::RENAME_WHITEOUT != 0 {
                let w = T::Dir::rename_whiteout(od, on, inode, nd, nn, target, CreateKind::new(INodeType::Chr(DevNum::WHITEOUT), Some(on))).hook()?;
                let a = w.attrs();
                if u32::from(a.mode) != b::S_IFCHR | u32::from(b::KFS_CONST_WHITEOUT_MODE)
                    || a.rdev != DevNum::WHITEOUT
                {
                    // A filesystem bug, not a reason to undo the rename.
                    pr_err!("{}: rename_whiteout made inode {} of mode {:o}, not a whiteout\n", od.super_block().id(), w.ino(), a.mode);
                }
                Some(w)
            } else {
                T::Dir::rename(od, on, inode, nd, nn, target).hook()?;
                None
            };
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
            // The whiteout keeps its link (the entry `old_name`); no dentry
            // names it until a lookup finds it (the VFS moves `old_dentry`
            // to the new name).
            drop(whiteout.map(Created::into_inner));
            Ok(0)
        })
    }
}

/// `EUCLEAN` (with a line in dmesg) unless `inode` has at least `min`
/// links. Link counts come from the disk: a crafted or damaged image can
/// hold one too low for the change at hand, which `drop_nlink` would warn
/// about and wrap below 0 (and an inode at 0 links while an entry names it
/// is freed at eviction).
fn links_at_least<T: FileSystem>(inode: &INode<T>, min: u32, op: &str) -> Result {
    let n = inode.nlink();
    if n < min {
        pr_err!("{}: inode {}: link count {}, {} needs at least {}: corrupt\n",
            inode.super_block().id(), inode.ino(), n, op, min);
        if T::HAS_CORRUPTION_FOUND {
            T::corruption_found(inode.super_block());
        }
        return Err(EUCLEAN);
    }
    Ok(())
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
    let name = unsafe { b::kfs_helper_dentry_name(dentry, &mut len) };
    // SAFETY: `d_name` holds `len` bytes at `name`.
    unsafe { core::slice::from_raw_parts(name, len as usize) }
}
