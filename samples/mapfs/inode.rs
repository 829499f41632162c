// SPDX-License-Identifier: GPL-2.0

//! Inodes: reading them from the inode table, and what mapfs keeps per inode.

#![forbid(unsafe_code)]

use crate::format::{
    extent::Extent,
    inode::{FileType, Inode, Timestamp},
    layout::INODE_SIZE,
    symlink,
    tree::{self, TreeCtx, TreeItem, WalkError},
};
use crate::super_block::MapFs;
use crate::kfs::vfs::{INode, INodeParams, INodeType, Lookup, SuperBlock, Timespec};
use kernel::{new_mutex, prelude::*, sync::aref::ARef, sync::Mutex};

/// The in-memory extent map of a file or directory.
#[derive(Default)]
pub(crate) struct FileMap {
    /// Sorted, non-overlapping extents.
    pub(crate) extents: KVec<Extent>,
}

/// What mapfs keeps per inode.
#[pin_data]
pub(crate) struct MapfsInode {
    /// The extent map. Innermost lock: taken inside `iomap_begin` and by
    /// directory code, never held across a call that may take folio locks or
    /// fault in user memory.
    #[pin]
    pub(crate) map: Mutex<FileMap>,
}

impl MapfsInode {
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            map <- new_mutex!(FileMap::default(), "mapfs_inode_map"),
        }? Error)
    }
}

fn ts(t: Timestamp) -> Timespec {
    Timespec { sec: t.sec, nsec: t.nsec }
}

/// A corrupt on-disk structure: logged with what and where, `EUCLEAN` to the
/// caller (what ext4 and XFS return as `EFSCORRUPTED`).
pub(crate) fn corrupt(ino: u64, what: core::fmt::Arguments<'_>) -> Error {
    pr_err!("inode {}: {}\n", ino, what);
    EUCLEAN
}

/// Reads a block into `out` (exactly one block long).
fn read_into(sb: &SuperBlock<MapFs>, block: u64, out: &mut [u8]) -> Result {
    let buf = sb.read_block(block)?;
    let guard = buf.lock();
    let src = guard.data();
    if src.len() != out.len() {
        return Err(EIO);
    }
    out.copy_from_slice(src);
    Ok(())
}

/// Returns inode `ino`, from the inode cache or read from disk.
pub(crate) fn iget(sb: &SuperBlock<MapFs>, ino: u32) -> Result<ARef<INode<MapFs>>> {
    let new = match sb.get_inode(u64::from(ino))? {
        Lookup::Cached(inode) => return Ok(inode),
        Lookup::New(new) => new,
    };
    let d = sb.data();
    let ino64 = u64::from(ino);
    let (block, off) = d
        .geo
        .inode_location(ino)
        .ok_or_else(|| corrupt(ino64, format_args!("inode number out of range")))?;
    let raw = {
        let buf = sb.read_block(block)?;
        let guard = buf.lock();
        let bytes = guard.data().get(off..off + INODE_SIZE).ok_or(EIO)?;
        Inode::decode(bytes, d.seed, ino)
            .map_err(|e| corrupt(ino64, format_args!("bad inode: {}", e)))?
    };
    if raw.is_free() {
        return Err(corrupt(ino64, format_args!("a directory entry refers to a free inode")));
    }
    let bs = d.geo.block_size();
    let ft = raw
        .validate(bs)
        .map_err(|e| corrupt(ino64, format_args!("invalid inode: {}", e)))?;
    let mut extents = KVec::new();
    if raw.has_extents() {
        load_extents(sb, ino, &raw, &mut extents)?;
    }
    let mut target = KVec::new();
    let typ = match ft {
        FileType::Regular => INodeType::Reg,
        FileType::Directory => INodeType::Dir,
        FileType::Symlink => {
            read_symlink(sb, &raw, &extents, &mut target)?;
            INodeType::Symlink(&target)
        }
        _ => return Err(corrupt(ino64, format_args!("special files are not supported"))),
    };
    new.data().map.lock().extents = extents;
    new.init(INodeParams {
        typ,
        mode: raw.mode & 0o7777,
        uid: raw.uid,
        gid: raw.gid,
        nlink: raw.nlink,
        size: i64::try_from(raw.size).map_err(|_| EUCLEAN)?,
        blocks: raw.blocks.saturating_mul(u64::from(bs / 512)),
        atime: ts(raw.atime),
        mtime: ts(raw.mtime),
        ctime: ts(raw.ctime),
    })
}

/// Walks the extent tree of `raw` into `out`.
fn load_extents(sb: &SuperBlock<MapFs>, ino: u32, raw: &Inode, out: &mut KVec<Extent>) -> Result {
    let d = sb.data();
    let bs = d.geo.block_size() as usize;
    let depth = tree::root_depth(&raw.data)
        .map_err(|e| corrupt(ino.into(), format_args!("extent tree root: {}", e)))?;
    let mut scratch = KVec::from_elem(0u8, bs * usize::from(depth), GFP_KERNEL)?;
    let ctx = TreeCtx { geo: &d.geo, ino, seed: d.seed };
    let res = tree::walk(
        &ctx,
        &raw.data,
        true,
        &mut scratch,
        |block, buf| read_into(sb, block, buf),
        |item| {
            if let TreeItem::Extent(e) = item {
                out.push(e, GFP_KERNEL)?;
            }
            Ok(())
        },
    );
    match res {
        Ok(()) => Ok(()),
        Err(WalkError::Io(e)) => Err(e),
        Err(WalkError::Corrupt { block, error }) => Err(corrupt(ino.into(),
            format_args!("extent tree block {:?}: {}", block, error),
        )),
    }
}

/// Reads a symlink's target into `out`.
fn read_symlink(sb: &SuperBlock<MapFs>, raw: &Inode, extents: &[Extent], out: &mut KVec<u8>) -> Result {
    if let Ok(t) = symlink::inline_target(raw) {
        out.extend_from_slice(t, GFP_KERNEL)?;
        return Ok(());
    }
    let len = usize::try_from(raw.size).map_err(|_| EUCLEAN)?;
    let first = extents.first().filter(|e| e.file_block == 0 && !e.unwritten).ok_or(EUCLEAN)?;
    let buf = sb.read_block(first.disk_block)?;
    let guard = buf.lock();
    out.extend_from_slice(guard.data().get(..len).ok_or(EUCLEAN)?, GFP_KERNEL)?;
    Ok(())
}
