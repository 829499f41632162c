// SPDX-License-Identifier: GPL-2.0

//! Extended attributes: kept per inode in memory as one list of entries
//! ([`FileMap::xattrs`]), read by `iget`, written by `write_inode` (the
//! in-inode part into the inode's extension, the rest into its xattr
//! block). Only filesystems made with 512-byte inodes (feature
//! `INCOMPAT_XATTR`) have them; on others every call is `EOPNOTSUPP`.
//! POSIX ACLs are two of these attributes (namespaces 4 and 5), which the
//! wrappers read and write here and turn into the kernel's ACLs.
//!
//! A change allocates the xattr block when the list outgrows the inode
//! (`ENOSPC` if there is no free block, or if the list outgrows the block
//! too; `E2BIG` for one attribute larger than the block) and gives it back once the list fits in the inode again; the
//! block is freed only after the inode no longer pointing at it is in the
//! buffers.

#![forbid(unsafe_code)]

use crate::format::xattr::{self as fx, InodeExt, Namespace};
use crate::inode::{corrupt, update_blocks, FileMap};
use crate::kfs::vfs::{INode, Locked, SetMode, SuperBlock, XattrList, XattrNamespace, XattrOperations, XattrValue};
use crate::MapFs;
use kernel::prelude::*;

/// The extended attributes of mapfs inodes.
pub(crate) struct Xattr;

fn ns(n: XattrNamespace) -> Namespace {
    match n {
        XattrNamespace::User => Namespace::User,
        XattrNamespace::Trusted => Namespace::Trusted,
        XattrNamespace::Security => Namespace::Security,
        XattrNamespace::PosixAclAccess => Namespace::AclAccess,
        XattrNamespace::PosixAclDefault => Namespace::AclDefault,
    }
}

fn vfs_ns(n: Namespace) -> XattrNamespace {
    match n {
        Namespace::User => XattrNamespace::User,
        Namespace::Trusted => XattrNamespace::Trusted,
        Namespace::Security => XattrNamespace::Security,
        Namespace::AclAccess => XattrNamespace::PosixAclAccess,
        Namespace::AclDefault => XattrNamespace::PosixAclDefault,
    }
}

/// Reads the attributes of inode `ino` whose extension is `ext`: the
/// in-inode entries and, if it has one, the xattr block's (which must lie
/// in the data area, name `ino` as its owner and verify). The whole list
/// is checked (no name twice). The caller checks that the block is not
/// claimed twice and is in use in the bitmap.
pub(crate) fn load(sb: &SuperBlock<MapFs>, ino: u32, ext: &InodeExt) -> Result<KVec<u8>> {
    let d = sb.data();
    let mut list = KVec::new();
    list.extend_from_slice(ext.entries(), GFP_KERNEL)?;
    if ext.block != 0 {
        if !d.geo.data().contains(ext.block) {
            return Err(corrupt(sb, ino.into(), format_args!("xattr block {} outside the data area", ext.block)));
        }
        let buf = sb.read_block(ext.block)?;
        let guard = buf.lock()?;
        let entries = fx::decode_block(guard.data(), d.seed, ino, ext.block)
            .map_err(|e| corrupt(sb, ino.into(), format_args!("xattr block {}: {}", ext.block, e)))?;
        list.extend_from_slice(entries, GFP_KERNEL)?;
    }
    fx::check_list(&list).map_err(|e| corrupt(sb, ino.into(), format_args!("extended attributes: {}", e)))?;
    Ok(list)
}

/// The extension of inode `ino` for the attributes of `m`; writes the
/// xattr block into the buffers when they changed. Called by
/// `write_inode` with the map locked.
pub(crate) fn store(sb: &SuperBlock<MapFs>, ino: u32, m: &mut FileMap) -> Result<InodeExt> {
    let d = sb.data();
    let cut = fx::split(&m.xattrs);
    let inline = m.xattrs.get(..cut).ok_or(EINVAL)?;
    let ext = InodeExt::new(inline, m.xattr_block).map_err(|_| EINVAL)?;
    if m.xattr_dirty && m.xattr_block != 0 {
        let rest = m.xattrs.get(cut..).ok_or(EINVAL)?;
        let buf = sb.new_block(m.xattr_block)?;
        let mut g = buf.lock()?;
        fx::encode_block(g.data_mut(), d.seed, ino, m.xattr_block, rest).map_err(|e| {
            fs_err!(sb, "inode {}: cannot encode the xattr block: {:?}\n", ino, e);
            EINVAL
        })?;
        g.mark_dirty();
    }
    m.xattr_dirty = false;
    Ok(ext)
}

fn enabled(inode: &INode<MapFs>) -> Result {
    if inode.super_block().data().geo.has_xattrs() {
        Ok(())
    } else {
        Err(EOPNOTSUPP)
    }
}

#[vtable]
impl XattrOperations for Xattr {
    type FileSystem = MapFs;

    // Stored as the two ACL namespaces; enabled per mount by
    // `fill_super` when the filesystem has the xattr feature.
    const POSIX_ACL: bool = true;

    fn get(inode: &INode<MapFs>, n: XattrNamespace, name: &[u8], out: &mut XattrValue<'_>) -> Result {
        enabled(inode)?;
        let m = inode.data().map.lock();
        match fx::find(&m.xattrs, ns(n), name) {
            Ok(Some((_, e))) => out.put(e.value),
            Ok(None) => Err(ENODATA),
            // `iget` checked the list and `set` writes only good ones.
            Err(_) => Err(EUCLEAN),
        }
    }

    fn set(inode: &Locked<MapFs>, n: XattrNamespace, name: &[u8], value: Option<&[u8]>, mode: SetMode) -> Result {
        enabled(inode)?;
        let sb = inode.super_block();
        let d = sb.data();
        d.check_writable()?;
        let n = ns(n);
        if !fx::valid_name(n, name) {
            return Err(if name.is_empty() { EINVAL } else { ERANGE });
        }
        // One attribute larger than the block can ever be: E2BIG (the
        // value is too large), not ENOSPC (the others take the room).
        let entry = fx::ENTRY_HEADER + name.len() + value.map_or(0, |v| v.len());
        if entry > fx::EXT_AREA_SIZE.max(fx::block_area_size(d.geo.block_size())) {
            return Err(E2BIG);
        }
        let mut m = inode.data().map.lock();
        let exists = fx::find(&m.xattrs, n, name).map_err(|_| EUCLEAN)?.is_some();
        match mode {
            SetMode::Create if exists => return Err(EEXIST),
            SetMode::Replace if !exists => return Err(ENODATA),
            _ => {}
        }
        let cap = m.xattrs.len() + fx::ENTRY_HEADER + name.len() + value.map_or(0, |v| v.len());
        let mut list = KVec::from_elem(0u8, cap, GFP_KERNEL)?;
        let len = fx::set(&m.xattrs, n, name, value, &mut list).map_err(|e| match e {
            fx::XattrError::NoSpace => ENOSPC,
            _ => EINVAL,
        })?;
        list.truncate(len);
        let need_block = fx::placement(&list, d.geo.block_size()).map_err(|_| ENOSPC)?;
        if need_block && m.xattr_block == 0 {
            let b = match m.xattr_freed.take() {
                Some(b) => b,
                None => d.alloc_blocks(sb, m.extents.first().map(|e| e.disk_block), 1)?.0,
            };
            m.xattr_block = b;
            m.add_blocks(1);
        } else if !need_block && m.xattr_block != 0 {
            m.xattr_freed = Some(core::mem::take(&mut m.xattr_block));
            m.sub_blocks(sb, inode.ino(), 1)?;
        }
        m.xattrs = list;
        m.xattr_dirty = true;
        update_blocks(inode, &m);
        Ok(())
    }

    fn list(inode: &INode<MapFs>, out: &mut XattrList<'_>) -> Result {
        if !inode.super_block().data().geo.has_xattrs() {
            return Ok(());
        }
        let m = inode.data().map.lock();
        for r in fx::entries(&m.xattrs) {
            let (_, e) = r.map_err(|_| EUCLEAN)?;
            out.push(vfs_ns(e.ns), e.name)?;
        }
        Ok(())
    }
}
