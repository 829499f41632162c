// SPDX-License-Identifier: GPL-2.0

//! Extended attributes: the `xattr_handler`s of a filesystem and its
//! `listxattr`.
//!
//! C header: [`include/linux/xattr.h`](srctree/include/linux/xattr.h).
//!
//! A filesystem implements [`XattrOperations`] once for every inode type;
//! the wrapper installs one handler per namespace (`user.`, `trusted.`,
//! `security.`) in `s_xattr` and `listxattr` in every inode operations
//! table. The VFS has checked the caller's permission before any of these
//! runs (`xattr_permission`: `trusted.` needs `CAP_SYS_ADMIN`, `user.` is
//! for regular files and directories only), and strips the prefix: the
//! filesystem sees a namespace and the name after the prefix.
//!
//! The buffer protocol of `getxattr(2)` and `listxattr(2)` (size 0 asks
//! for the size; a value larger than the buffer is `ERANGE`) is kept by
//! [`XattrValue`] and [`XattrList`], not by the filesystem. Listing skips
//! `trusted.` names for callers without `CAP_SYS_ADMIN`, as the VFS's own
//! `xattr_handler_can_list` would.

use crate::kfs::HookResult;
use super::{FileSystem, INode, Locked, NoFs};
use crate::kfs::bindings as b;
use core::marker::PhantomData;

/// `struct posix_acl` as the C operation tables name it (`kernel::bindings`
/// has it as an opaque stub; ours is the full definition of the same type).
type KAcl = kernel::bindings::posix_acl;
use kernel::{
    error::{from_result, to_result},
    prelude::*,
};

/// An attribute namespace: what the full name starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XattrNamespace {
    /// `user.`
    User,
    /// `trusted.`
    Trusted,
    /// `security.`
    Security,
    /// `system.posix_acl_access` (no name of its own): the inode's access
    /// ACL, which the wrapper reads and writes through
    /// [`XattrOperations::get`] and [`XattrOperations::set`] when the
    /// filesystem has POSIX ACLs (see [`XattrOperations::POSIX_ACL`]).
    PosixAclAccess,
    /// `system.posix_acl_default`: a directory's default ACL, likewise.
    PosixAclDefault,
}

impl XattrNamespace {
    const ALL: [Self; 3] = [Self::User, Self::Trusted, Self::Security];

    /// The prefix of full names, with its dot.
    pub fn prefix(self) -> &'static [u8] {
        match self {
            Self::User => b"user.",
            Self::Trusted => b"trusted.",
            Self::Security => b"security.",
            Self::PosixAclAccess => b"system.posix_acl_access",
            Self::PosixAclDefault => b"system.posix_acl_default",
        }
    }

    const fn c_prefix(self) -> &'static CStr {
        match self {
            Self::User => c"user.",
            Self::Trusted => c"trusted.",
            Self::Security => c"security.",
            Self::PosixAclAccess => c"system.posix_acl_access",
            Self::PosixAclDefault => c"system.posix_acl_default",
        }
    }

    fn from_flags(f: i32) -> Option<Self> {
        Self::ALL.get(usize::try_from(f).ok()?).copied()
    }

    const fn flags(self) -> i32 {
        match self {
            Self::User => 0,
            Self::Trusted => 1,
            Self::Security => 2,
            Self::PosixAclAccess => 3,
            Self::PosixAclDefault => 4,
        }
    }

    /// The namespace of an ACL type (`ACL_TYPE_ACCESS`, `ACL_TYPE_DEFAULT`).
    fn of_acl_type(t: kernel::ffi::c_int) -> Option<Self> {
        match u32::try_from(t).ok()? {
            b::ACL_TYPE_ACCESS => Some(Self::PosixAclAccess),
            b::ACL_TYPE_DEFAULT => Some(Self::PosixAclDefault),
            _ => None,
        }
    }
}

/// How `setxattr` wants an existing or missing attribute treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetMode {
    /// Create or replace.
    Any,
    /// Only create (`XATTR_CREATE`): `EEXIST` if it exists.
    Create,
    /// Only replace (`XATTR_REPLACE`, and every removal): `ENODATA` if it
    /// does not exist.
    Replace,
}

/// Where a value read by [`XattrOperations::get`] goes.
pub struct XattrValue<'a> {
    buf: Option<&'a mut [u8]>,
    len: Option<usize>,
}

impl XattrValue<'_> {
    /// Answers with `value`: copied to the caller's buffer, or only its
    /// size counted when the caller asked for the size. `ERANGE` when the
    /// buffer is too small (`getxattr(2)`).
    pub fn put(&mut self, value: &[u8]) -> Result {
        match self.buf.as_deref_mut() {
            None => {}
            Some(buf) => buf.get_mut(..value.len()).ok_or(ERANGE)?.copy_from_slice(value),
        }
        self.len = Some(value.len());
        Ok(())
    }
}

/// Where [`XattrOperations::list`] puts names.
pub struct XattrList<'a> {
    buf: Option<&'a mut [u8]>,
    len: usize,
    trusted: bool,
}

impl XattrList<'_> {
    /// Adds the attribute `name` of namespace `ns` (an empty name for the
    /// ACL namespaces). `ERANGE` when the caller's buffer is too small
    /// (`listxattr(2)`); a `trusted.` name is skipped for a caller without
    /// `CAP_SYS_ADMIN`.
    pub fn push(&mut self, ns: XattrNamespace, name: &[u8]) -> Result {
        if ns == XattrNamespace::Trusted && !self.trusted {
            return Ok(());
        }
        let p = ns.prefix();
        let n = p.len() + name.len() + 1;
        let end = self.len.checked_add(n).ok_or(ERANGE)?;
        if let Some(buf) = self.buf.as_deref_mut() {
            let dst = buf.get_mut(self.len..end).ok_or(ERANGE)?;
            dst[..p.len()].copy_from_slice(p);
            dst[p.len()..n - 1].copy_from_slice(name);
            dst[n - 1] = 0;
        }
        self.len = end;
        Ok(())
    }
}

/// The extended attributes of a filesystem's inodes. A filesystem without
/// them implements none of the entries: then `s_xattr` and `listxattr`
/// stay NULL and the VFS answers `EOPNOTSUPP`. One with them implements
/// all three.
#[vtable]
pub trait XattrOperations: Sized + 'static {
    /// The filesystem.
    type FileSystem: FileSystem;

    /// POSIX ACLs, stored as the attributes of the two ACL namespaces in
    /// the kernel's `posix_acl_xattr` format. With this, the wrapper
    /// installs `get_inode_acl` and `set_acl` (the VFS then routes the
    /// `system.posix_acl_*` names there, and checks permissions with the
    /// ACLs), applies a new inode's inherited ACLs and mode
    /// (`posix_acl_create`, in [`super::NewINode::init_created`]) and
    /// keeps the access ACL in step with `chmod` (`posix_acl_chmod`). A
    /// mount enables them with [`super::NewSuperBlock::enable_posix_acl`]
    /// (`SB_POSIXACL`).
    const POSIX_ACL: bool = false;

    /// Reads attribute `name` of namespace `ns` into `out`
    /// ([`XattrValue::put`]); `ENODATA` if there is none. Called without
    /// `i_rwsem`: the filesystem serialises with [`Self::set`] itself.
    fn get(_inode: &INode<Self::FileSystem>, _ns: XattrNamespace, _name: &[u8], _out: &mut XattrValue<'_>) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Sets (`Some`) or removes (`None`, with [`SetMode::Replace`])
    /// attribute `name` of namespace `ns`, with `i_rwsem` held exclusive;
    /// `ENOSPC` when it does not fit. The wrapper updates ctime and marks
    /// the inode dirty after `Ok`.
    fn set(
        _inode: &Locked<Self::FileSystem>,
        _ns: XattrNamespace,
        _name: &[u8],
        _value: Option<&[u8]>,
        _mode: SetMode,
    ) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Adds the name of every attribute of `inode` to `out`.
    fn list(_inode: &INode<Self::FileSystem>, _out: &mut XattrList<'_>) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// The caller's buffer of a `getxattr`/`listxattr` (`None` for a size
/// query: `size` 0 or no buffer).
///
/// # Safety
///
/// `buffer` is NULL or points at `size` bytes writable, and not otherwise
/// used, for `'a`.
unsafe fn caller_buffer<'a>(buffer: *mut u8, size: usize) -> Option<&'a mut [u8]> {
    if size == 0 || buffer.is_null() {
        return None;
    }
    // SAFETY: per the caller.
    Some(unsafe { core::slice::from_raw_parts_mut(buffer, size) })
}

/// The handlers and `listxattr` of filesystem `T`'s attributes.
pub(in crate::kfs) struct Tables<T: FileSystem>(PhantomData<T>);

impl<T: FileSystem> Tables<T> {
    const fn handler(ns: XattrNamespace) -> b::xattr_handler {
        b::xattr_handler {
            name: core::ptr::null(),
            prefix: ns.c_prefix().as_ptr().cast(),
            flags: ns.flags(),
            list: None,
            get: Some(Self::get),
            set: Some(Self::set),
        }
    }

    const USER: b::xattr_handler = Self::handler(XattrNamespace::User);
    const TRUSTED: b::xattr_handler = Self::handler(XattrNamespace::Trusted);
    const SECURITY: b::xattr_handler = Self::handler(XattrNamespace::Security);

    /// `s_xattr`: the handlers, NULL-terminated.
    const HANDLERS: [*const b::xattr_handler; 4] =
        [&Self::USER, &Self::TRUSTED, &Self::SECURITY, core::ptr::null()];

    /// The value of `s_xattr` for filesystem `T`: NULL when it has no
    /// extended attributes.
    pub(in crate::kfs) fn handlers() -> *const *const b::xattr_handler {
        const { assert!(<T::Xattr as XattrOperations>::HAS_GET == <T::Xattr as XattrOperations>::HAS_SET) };
        const { assert!(<T::Xattr as XattrOperations>::HAS_GET == <T::Xattr as XattrOperations>::HAS_LIST) };
        if <T::Xattr as XattrOperations>::HAS_GET {
            const { &Self::HANDLERS }.as_ptr()
        } else {
            core::ptr::null()
        }
    }

    /// # Safety
    ///
    /// Called by `__vfs_getxattr` with one of [`Self::HANDLERS`], an inode
    /// of `T` that the caller references, the name after the prefix (a C
    /// string) and a buffer of `size` bytes (or NULL when `size` is 0).
    unsafe extern "C" fn get(
        handler: *const b::xattr_handler,
        _dentry: *mut b::dentry,
        inode: *mut b::inode,
        name: *const kernel::ffi::c_char,
        buffer: *mut kernel::ffi::c_void,
        size: usize,
    ) -> kernel::ffi::c_int {
        let _nofs = NoFs::enter();
        from_result(|| {
            // SAFETY: `handler` is one of ours (caller).
            let ns = XattrNamespace::from_flags(unsafe { (*handler).flags }).ok_or(EINVAL)?;
            // SAFETY: a referenced inode of `T` (caller).
            let inode = unsafe { INode::<T>::from_raw(inode) };
            // SAFETY: a NUL-terminated name, valid during the call.
            let name = unsafe { CStr::from_char_ptr(name) }.to_bytes();
            // SAFETY: `size` writable bytes at `buffer` during the call.
            let buf = unsafe { caller_buffer(buffer.cast(), size) };
            let mut out = XattrValue { buf, len: None };
            T::Xattr::get(inode, ns, name, &mut out).hook()?;
            let len = out.len.ok_or(ENODATA)?;
            i32::try_from(len).map_err(|_| E2BIG)
        })
    }

    /// # Safety
    ///
    /// Called by `__vfs_setxattr` or `__vfs_removexattr` with one of
    /// [`Self::HANDLERS`], an inode of `T` whose `i_rwsem` is held
    /// exclusive, the name after the prefix (a C string) and `size` bytes
    /// at `value` (NULL for a removal).
    unsafe extern "C" fn set(
        handler: *const b::xattr_handler,
        _idmap: *mut b::mnt_idmap,
        _dentry: *mut b::dentry,
        inode: *mut b::inode,
        name: *const kernel::ffi::c_char,
        value: *const kernel::ffi::c_void,
        size: usize,
        flags: kernel::ffi::c_int,
    ) -> kernel::ffi::c_int {
        let _nofs = NoFs::enter();
        from_result(|| {
            // SAFETY: `handler` is one of ours (caller).
            let ns = XattrNamespace::from_flags(unsafe { (*handler).flags }).ok_or(EINVAL)?;
            // SAFETY: an inode of `T` with `i_rwsem` held exclusive (caller).
            let inode = unsafe { Locked::<T>::from_raw(inode) };
            super::fs_type::writable(inode.super_block())?;
            // SAFETY: a NUL-terminated name, valid during the call.
            let name = unsafe { CStr::from_char_ptr(name) }.to_bytes();
            let value = if value.is_null() {
                None
            } else if size == 0 {
                Some(&[][..])
            } else {
                // SAFETY: `size` readable bytes at `value` during the call.
                Some(unsafe { core::slice::from_raw_parts(value.cast::<u8>(), size) })
            };
            let flags = flags as u32;
            let mode = if value.is_none() || flags & b::XATTR_REPLACE != 0 {
                SetMode::Replace
            } else if flags & b::XATTR_CREATE != 0 {
                SetMode::Create
            } else {
                SetMode::Any
            };
            T::Xattr::set(inode, ns, name, value, mode).hook()?;
            // SAFETY: a referenced inode, `i_rwsem` held.
            unsafe { b::inode_set_ctime_current(inode.as_ptr()) };
            inode.mark_dirty();
            Ok(0)
        })
    }

    /// `listxattr` of every inode type of `T` (NULL without attributes).
    pub(in crate::kfs) const LISTXATTR: Option<
        unsafe extern "C" fn(*mut b::dentry, *mut kernel::ffi::c_char, usize) -> isize,
    > = if <T::Xattr as XattrOperations>::HAS_GET { Some(Self::listxattr) } else { None };

    /// # Safety
    ///
    /// Called by `vfs_listxattr` with a positive dentry of a `T` inode and
    /// a buffer of `size` bytes (NULL when `size` is 0).
    unsafe extern "C" fn listxattr(dentry: *mut b::dentry, buffer: *mut kernel::ffi::c_char, size: usize) -> isize {
        let _nofs = NoFs::enter();
        // SAFETY: a positive dentry of a `T` inode, which it references.
        let inode = unsafe { INode::<T>::from_raw(b::kfs_helper_d_inode(dentry)) };
        // SAFETY: `size` writable bytes at `buffer` during the call.
        let buf = unsafe { caller_buffer(buffer.cast(), size) };
        // SAFETY: `capable` only looks at the current task's credentials.
        let trusted = unsafe { b::capable(b::KFS_CAP_SYS_ADMIN) };
        let mut out = XattrList { buf, len: 0, trusted };
        match T::Xattr::list(inode, &mut out).hook() {
            Ok(()) => isize::try_from(out.len).unwrap_or(isize::MAX),
            Err(e) => e.to_errno() as isize,
        }
    }

    /// `get_inode_acl` of every inode type of `T` with POSIX ACLs.
    pub(in crate::kfs) const GET_INODE_ACL: Option<
        unsafe extern "C" fn(*mut b::inode, kernel::ffi::c_int, bool) -> *mut KAcl,
    > = if <T::Xattr as XattrOperations>::POSIX_ACL { Some(Self::get_inode_acl) } else { None };

    /// `set_acl` of every inode type of `T` with POSIX ACLs.
    pub(in crate::kfs) const SET_ACL: Option<
        unsafe extern "C" fn(*mut b::mnt_idmap, *mut b::dentry, *mut KAcl, kernel::ffi::c_int) -> kernel::ffi::c_int,
    > = if <T::Xattr as XattrOperations>::POSIX_ACL { Some(Self::set_acl) } else { None };

    /// The stored ACL of namespace `ns` in the `posix_acl_xattr` format,
    /// `None` if there is none.
    fn read_acl(inode: &INode<T>, ns: XattrNamespace) -> Result<Option<KVec<u8>>> {
        // The value may grow between the size query and the read (a
        // `set_acl` holds `i_rwsem`, which readers do not take): retry on
        // `ERANGE`.
        for _ in 0..4 {
            let mut probe = XattrValue { buf: None, len: None };
            match T::Xattr::get(inode, ns, b"", &mut probe).hook() {
                Ok(()) => {}
                Err(e) if e == ENODATA || e == EOPNOTSUPP => return Ok(None),
                Err(e) => return Err(e),
            }
            let len = probe.len.ok_or(ENODATA)?;
            let mut v = KVec::from_elem(0u8, len, GFP_KERNEL)?;
            let mut out = XattrValue { buf: Some(&mut v[..]), len: None };
            let res = T::Xattr::get(inode, ns, b"", &mut out).hook();
            let got = out.len.unwrap_or(0);
            match res {
                Ok(()) => {
                    v.truncate(got);
                    return Ok(Some(v));
                }
                Err(e) if e == ERANGE => continue,
                Err(e) if e == ENODATA => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Err(EAGAIN)
    }

    /// # Safety
    ///
    /// Called by the VFS (`__get_acl`, which caches the result) with a
    /// referenced inode of `T` and an ACL type.
    unsafe extern "C" fn get_inode_acl(inode: *mut b::inode, typ: kernel::ffi::c_int, rcu: bool) -> *mut KAcl {
        if rcu {
            // Reading may sleep: the VFS retries outside RCU.
            return ECHILD.to_ptr();
        }
        let _nofs = NoFs::enter();
        let Some(ns) = XattrNamespace::of_acl_type(typ) else {
            return EINVAL.to_ptr();
        };
        // SAFETY: a referenced inode of `T` (caller).
        let inode = unsafe { INode::<T>::from_raw(inode) };
        match Self::read_acl(inode, ns) {
            Ok(None) => core::ptr::null_mut(),
            // SAFETY: `v` holds `v.len()` readable bytes; the parser checks
            // them and returns a new ACL (ours to return) or an error.
            Ok(Some(v)) => unsafe { b::posix_acl_from_xattr(&raw mut b::init_user_ns, v.as_ptr().cast(), v.len()) }.cast(),
            Err(e) => e.to_ptr(),
        }
    }

    /// Stores `acl` (NULL: none) as the ACL of namespace `ns` of `inode`
    /// and caches it in the inode.
    ///
    /// # Safety
    ///
    /// `acl` is NULL or a valid ACL that stays referenced during the call;
    /// `typ` is the ACL type of `ns`.
    unsafe fn store_acl(inode: &Locked<T>, ns: XattrNamespace, typ: kernel::ffi::c_int, acl: *mut b::posix_acl) -> Result {
        if acl.is_null() {
            match T::Xattr::set(inode, ns, b"", None, SetMode::Replace).hook() {
                Ok(()) => {}
                Err(e) if e == ENODATA => {}
                Err(e) => return Err(e),
            }
        } else {
            let mut size = 0usize;
            // SAFETY: a valid ACL (caller); the result is a new buffer of
            // `size` bytes, ours to free.
            let buf = unsafe { b::posix_acl_to_xattr(&raw mut b::init_user_ns, acl, &mut size, kernel::bindings::GFP_KERNEL) };
            if buf.is_null() {
                return Err(ENOMEM);
            }
            // SAFETY: `size` bytes at `buf`, freed below, not before.
            let value = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), size) };
            let res = T::Xattr::set(inode, ns, b"", Some(value), SetMode::Any).hook();
            // SAFETY: allocated by `posix_acl_to_xattr` with kmalloc.
            unsafe { kernel::bindings::kfree(buf) };
            res?;
        }
        // SAFETY: a referenced inode; `set_cached_acl` takes its own
        // reference to `acl` (or caches "none").
        unsafe { b::set_cached_acl(inode.as_ptr(), typ, acl) };
        Ok(())
    }

    /// # Safety
    ///
    /// Called by the VFS (`vfs_set_acl`, `posix_acl_chmod`) with a positive
    /// dentry of a `T` inode whose `i_rwsem` is held exclusive, an ACL it
    /// references (or NULL to remove it) and an ACL type.
    unsafe extern "C" fn set_acl(
        idmap: *mut b::mnt_idmap,
        dentry: *mut b::dentry,
        acl: *mut KAcl,
        typ: kernel::ffi::c_int,
    ) -> kernel::ffi::c_int {
        let acl = acl.cast::<b::posix_acl>();
        let _nofs = NoFs::enter();
        from_result(|| {
            let ns = XattrNamespace::of_acl_type(typ).ok_or(EINVAL)?;
            // SAFETY: a positive dentry of a `T` inode, `i_rwsem` held
            // exclusive (caller).
            let inode = unsafe { Locked::<T>::from_raw(b::kfs_helper_d_inode(dentry)) };
            super::fs_type::writable(inode.super_block())?;
            if ns == XattrNamespace::PosixAclDefault && !inode.is_dir() {
                return if acl.is_null() { Ok(0) } else { Err(EACCES) };
            }
            let mut acl = acl;
            // SAFETY: the inode is referenced and locked; `i_mode` changes
            // only under `i_rwsem`.
            let old_mode = unsafe { (*inode.as_ptr()).i_mode };
            let mut mode = old_mode;
            if ns == XattrNamespace::PosixAclAccess && !acl.is_null() {
                // SAFETY: as above; it may set `acl` to NULL (the mode says
                // it all), never releasing the caller's reference.
                to_result(unsafe { b::posix_acl_update_mode(idmap, inode.as_ptr(), &mut mode, &mut acl) })?;
            }
            // SAFETY: `acl` is NULL or the caller's, referenced during the call.
            unsafe { Self::store_acl(inode, ns, typ, acl) }?;
            // SAFETY: `i_rwsem` held.
            unsafe {
                if mode != old_mode {
                    (*inode.as_ptr()).i_mode = mode;
                }
                b::inode_set_ctime_current(inode.as_ptr());
            }
            inode.mark_dirty();
            Ok(0)
        })
    }

    /// Whether the super block of `inode` has POSIX ACLs on.
    ///
    /// # Safety
    ///
    /// `inode` is a valid inode.
    pub(in crate::kfs) unsafe fn acl_on(inode: *const b::inode) -> bool {
        // SAFETY: `i_sb` of a valid inode is valid; `s_flags` is read once.
        <T::Xattr as XattrOperations>::POSIX_ACL
            && unsafe { core::ptr::read_volatile(&raw const (*(*inode).i_sb).s_flags) } & b::KFS_CONST_SB_POSIXACL != 0
    }

    /// Gives the new inode `inode` of directory `dir` its inherited ACLs
    /// and the mode they imply (`posix_acl_create`), before the inode is
    /// visible. Returns the ACLs to store once it is
    /// ([`Self::store_created`]).
    ///
    /// # Safety
    ///
    /// `inode` is `I_NEW` and ours alone, its `i_mode` set; `dir` is a
    /// referenced `T` directory.
    pub(in crate::kfs) unsafe fn create_acls(dir: *mut b::inode, inode: *mut b::inode) -> Result<NewAcls> {
        let mut acls = NewAcls { default: core::ptr::null_mut(), access: core::ptr::null_mut() };
        // SAFETY: per the caller.
        if unsafe { Self::acl_on(dir) } {
            // SAFETY: per the caller; `posix_acl_create` reads the
            // directory's default ACL and updates the new inode's mode.
            to_result(unsafe { b::posix_acl_create(dir, &raw mut (*inode).i_mode, &mut acls.default, &mut acls.access) })?;
        }
        Ok(acls)
    }

    /// Stores the inherited ACLs of a new inode (see
    /// [`Self::create_acls`]).
    pub(in crate::kfs) fn store_created(inode: &Locked<T>, acls: &NewAcls) -> Result {
        if !acls.access.is_null() {
            // SAFETY: a reference `acls` owns.
            unsafe { Self::store_acl(inode, XattrNamespace::PosixAclAccess, b::ACL_TYPE_ACCESS as i32, acls.access) }?;
        }
        if !acls.default.is_null() {
            // SAFETY: as above.
            unsafe { Self::store_acl(inode, XattrNamespace::PosixAclDefault, b::ACL_TYPE_DEFAULT as i32, acls.default) }?;
        }
        Ok(())
    }
}

impl<T: FileSystem> Tables<T> {
    /// Whether the filesystem stores extended attributes (then it stores
    /// the security modules' labels of new inodes too).
    pub(in crate::kfs) const HAS_XATTRS: bool = <T::Xattr as XattrOperations>::HAS_SET;

    /// Asks the security modules for the labels of the new inode `inode`,
    /// named `name` in `dir` (`None`: an `O_TMPFILE` inode), and stores
    /// them as `security.*` attributes. Nothing without extended
    /// attributes, or when no module labels it.
    pub(in crate::kfs) fn init_security(inode: &Locked<T>, dir: &INode<T>, name: Option<&[u8]>) -> Result {
        if !Self::HAS_XATTRS {
            return Ok(());
        }
        let (ptr, len) = match name {
            Some(n) => (n.as_ptr(), u32::try_from(n.len()).map_err(|_| ENAMETOOLONG)?),
            None => (core::ptr::null(), 0),
        };
        // SAFETY: both inodes are referenced, `inode`'s `i_rwsem` is held
        // (type invariant of `Locked`), which `store_labels` relies on;
        // `ptr` is NULL or `len` readable bytes that outlive the call.
        to_result(unsafe { b::kfs_helper_init_security(inode.as_ptr(), dir.as_ptr(), ptr, len, Some(Self::store_labels)) })
    }

    /// Stores the labels a security module gave a new inode.
    ///
    /// # Safety
    ///
    /// Called by `security_inode_init_security` from [`Self::init_security`]
    /// only: `inode` is a `T` inode whose `i_rwsem` the calling task holds,
    /// and `xattrs` an array of valid entries ending with a NULL name.
    unsafe extern "C" fn store_labels(
        inode: *mut b::inode,
        xattrs: *const b::xattr,
        _fs_data: *mut kernel::ffi::c_void,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: per the caller.
            let inode = unsafe { Locked::<T>::from_raw(inode) };
            let mut x = xattrs;
            loop {
                // SAFETY: `x` is within the array: its end is the entry with
                // a NULL name, where the loop stops (caller guarantee).
                let e = unsafe { &*x };
                if e.name.is_null() {
                    return Ok(0);
                }
                // SAFETY: a NUL-terminated name (the suffix after
                // `security.`), valid during the call.
                let name = unsafe { CStr::from_char_ptr(e.name) }.to_bytes();
                let value: &[u8] = if e.value.is_null() || e.value_len == 0 {
                    &[]
                } else {
                    // SAFETY: `value_len` bytes at `value`, the module's
                    // allocation, valid during the call.
                    unsafe { core::slice::from_raw_parts(e.value.cast::<u8>(), e.value_len) }
                };
                T::Xattr::set(inode, XattrNamespace::Security, name, Some(value), SetMode::Any).hook()?;
                // SAFETY: not past the terminating entry (checked above).
                x = unsafe { x.add(1) };
            }
        })
    }
}

/// The ACLs `posix_acl_create` gave a new inode: references released on
/// drop.
pub(in crate::kfs) struct NewAcls {
    default: *mut b::posix_acl,
    access: *mut b::posix_acl,
}

impl NewAcls {
    /// Whether there is anything to store.
    pub(in crate::kfs) fn is_empty(&self) -> bool {
        self.default.is_null() && self.access.is_null()
    }
}

impl Drop for NewAcls {
    fn drop(&mut self) {
        // SAFETY: each is NULL or a reference we own.
        unsafe {
            b::kfs_helper_posix_acl_release(self.default);
            b::kfs_helper_posix_acl_release(self.access);
        }
    }
}
