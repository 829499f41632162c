// SPDX-License-Identifier: GPL-2.0

//! Mapping file ranges for iomap, one type per purpose: reads, reporting
//! and writeback see the extent map as it is ([`ReadMap`], [`ReportMap`],
//! [`WritebackMap`]); writes and write faults allocate **unwritten** blocks
//! for holes and leave unwritten extents unwritten ([`WriteMap`]). Blocks
//! become written only when the data written to them is on the disk: the
//! writeback completion ([`WritebackMap::complete`]) converts them, in
//! process context, and advances the on-disk size. Until then every reader
//! (and, after a crash, the disk) sees zeros there, never what the blocks
//! held before, as on XFS.
//!
//! Direct I/O ([`DirectMap`]) maps the same way: a direct write to a hole
//! gets new unwritten blocks, and its completion converts what it wrote
//! and advances the on-disk size, as the writeback completion does.
//!
//! Every change of a file's map bumps its sequence number, which each
//! mapping carries as its validity cookie: a buffered write (iomap checks
//! with the folio locked) or writeback holding a mapping from before a
//! change asks again.

#![forbid(unsafe_code)]

use crate::format::extent::{lookup, Extent, Mapping as Found, MAX_EXTENT_LEN};
use crate::inode::{reserve_tree, update_blocks};
use crate::kfs::iomap::{DirectOps, Flags, Mapping, ReadOps, ReportOps, WriteOps, WritebackOps};
use crate::kfs::vfs::{INode, INodeView};
use crate::MapFs;
use kernel::{prelude::*, types::ScopeGuard};

/// Reads: the map as it is.
pub(crate) struct ReadMap;
/// Buffered writes, zeroing and write faults: allocates.
pub(crate) struct WriteMap;
/// `SEEK_HOLE`/`SEEK_DATA` and `FIEMAP`: the map as it is.
pub(crate) struct ReportMap;
/// Writeback: the map as it is (the write path allocated every block).
pub(crate) struct WritebackMap;
/// Direct I/O: reads see the map as it is, writes allocate.
pub(crate) struct DirectMap;

/// The current mapping at byte `pos`, without changing anything.
fn current(inode: &INodeView<MapFs>, pos: u64) -> Result<Mapping> {
    let fb = pos >> inode.block_bits();
    let bits = inode.block_bits();
    let m = inode.data().map.lock();
    let offset = fb << bits;
    let map = match lookup(&m.extents, fb) {
        Found::Mapped { disk_block, len, unwritten } => {
            let length = len.checked_shl(bits).ok_or(EIO)?;
            let addr = disk_block.checked_shl(bits).ok_or(EIO)?;
            if unwritten {
                Mapping::unwritten(offset, length, addr)
            } else {
                Mapping::mapped(offset, length, addr)
            }
        }
        Found::Hole { len, .. } => Mapping::hole(offset, len.saturating_mul(1 << bits)),
    };
    Ok(map.with_cookie(m.seq))
}

/// Maps file blocks from `fb` on, at most `want` of them, for writing: a
/// written extent as it is, an unwritten one as unwritten, a hole to new
/// unwritten blocks. The extent tree's worst-case growth is reserved first
/// (conversions split extents), so `ENOSPC` comes back here, from the
/// write or the fault, never from writeback.
///
/// `nowait` (an `IOCB_NOWAIT` write): a hole is `EAGAIN` instead, as
/// allocating may wait.
fn for_write(inode: &INode<MapFs>, fb: u64, want: u64, nowait: bool) -> Result<Mapping> {
    let bits = inode.block_bits();
    let sb = inode.super_block();
    let d = sb.data();
    let want = want.clamp(1, u64::from(MAX_EXTENT_LEN));
    let mut m = inode.data().map.lock();
    let offset = fb << bits;
    let map = match lookup(&m.extents, fb) {
        Found::Mapped { disk_block, len, unwritten: false } => {
            return Ok(Mapping::mapped(offset, len << bits, disk_block << bits).with_cookie(m.seq));
        }
        Found::Mapped { disk_block, len, unwritten: true } => {
            reserve_tree(inode, &mut m, 0)?;
            return Ok(Mapping::unwritten(offset, len << bits, disk_block << bits).with_cookie(m.seq));
        }
        Found::Hole { .. } if nowait => return Err(EAGAIN),
        Found::Hole { len, goal } => {
            let n = len.min(want);
            reserve_tree(inode, &mut m, n)?;
            let (start, got) = d.alloc_blocks(sb, goal, n)?;
            // Given back unless the extent map takes them.
            let undo = ScopeGuard::new(|| {
                let _ = d.free_blocks(sb, start, got);
            });
            let ext = Extent { file_block: fb, disk_block: start, len: got as u32, unwritten: true };
            m.edit(inode.super_block(), inode.ino(), |l| l.insert(ext, |_| {}))?;
            undo.dismiss();
            m.add_blocks(got);
            update_blocks(inode, &m);
            Mapping::unwritten(offset, got << bits, start << bits).new_blocks()
        }
    };
    let map = map.with_cookie(m.seq);
    drop(m);
    inode.mark_dirty();
    Ok(map)
}

/// [`for_write`] for the blocks of bytes `pos .. pos + len`.
fn for_write_bytes(inode: &INode<MapFs>, pos: u64, len: u64, flags: Flags) -> Result<Mapping> {
    let bits = inode.block_bits();
    let fb = pos >> bits;
    let last = pos.saturating_add(len.max(1) - 1) >> bits;
    for_write(inode, fb, last - fb + 1, flags.contains(Flags::NOWAIT))
}

/// Frees the unwritten blocks among file blocks `first .. first + count`
/// (written ones stay: writeback completed there meanwhile).
fn free_unwritten(inode: &INodeView<MapFs>, first: u64, count: u64) -> Result {
    let sb = inode.super_block();
    let d = sb.data();
    let end = first.saturating_add(count);
    let mut m = inode.data().map.lock();
    let mut fb = first;
    let mut changed = false;
    while fb < end {
        match lookup(&m.extents, fb) {
            Found::Mapped { disk_block, len, unwritten } => {
                let n = len.min(end - fb);
                if unwritten {
                    m.edit(inode.super_block(), inode.ino(), |l| l.remove(fb, n, |_| {}))?;
                    d.free_blocks(sb, disk_block, n)?;
                    m.sub_blocks(inode.super_block(), inode.ino(), n)?;
                    changed = true;
                }
                fb += n;
            }
            Found::Hole { len, .. } => fb = fb.saturating_add(len.max(1)),
        }
    }
    if changed {
        update_blocks(inode, &m);
        drop(m);
        inode.mark_dirty();
    }
    Ok(())
}

#[vtable]
impl ReadOps for ReadMap {
    type FileSystem = MapFs;

    fn begin(inode: &INode<MapFs>, pos: u64, _len: u64) -> Result<Mapping> {
        current(inode, pos)
    }
}

#[vtable]
impl ReportOps for ReportMap {
    type FileSystem = MapFs;

    fn begin(inode: &INode<MapFs>, pos: u64, _len: u64) -> Result<Mapping> {
        current(inode, pos)
    }
}

#[vtable]
impl WritebackOps for WritebackMap {
    type FileSystem = MapFs;

    fn map(inode: &INodeView<MapFs>, pos: u64, _len: u64) -> Result<Mapping> {
        current(inode, pos)
    }

    fn valid(inode: &INodeView<MapFs>, cookie: u64) -> bool {
        inode.data().map.lock().seq == cookie
    }

    fn needs_completion(inode: &INodeView<MapFs>, offset: u64, len: u64, unwritten: bool) -> bool {
        unwritten || offset.saturating_add(len) > inode.data().map.lock().disk_size
    }

    fn complete(inode: &INodeView<MapFs>, offset: u64, len: u64, error: Option<Error>) -> Result {
        if error.is_some() {
            // The blocks stay unwritten (they read as zeros); iomap
            // reports the error to the next fsync.
            return Ok(());
        }
        let size = u64::try_from(inode.size()).unwrap_or(0);
        written(inode, offset, len, size)
    }
}

/// The data of `offset .. offset + len` is on the disk: its unwritten
/// blocks become written, and the on-disk size advances to the end of the
/// range, but not past `limit`.
fn written(inode: &INodeView<MapFs>, offset: u64, len: u64, limit: u64) -> Result {
    let bits = inode.block_bits();
    let first = offset >> bits;
    let end = offset.checked_add(len).ok_or(EIO)?;
    let last = end.checked_add((1 << bits) - 1).ok_or(EIO)? >> bits;
    {
        let mut m = inode.data().map.lock();
        if last > first {
            m.edit(inode.super_block(), inode.ino(), |l| l.mark_written(first, last - first))?;
        }
        let reached = end.min(limit);
        if reached > m.disk_size {
            m.disk_size = reached;
        }
    }
    inode.mark_dirty();
    Ok(())
}

#[vtable]
impl DirectOps for DirectMap {
    type FileSystem = MapFs;

    fn begin(inode: &INode<MapFs>, pos: u64, len: u64, flags: Flags) -> Result<Mapping> {
        if !flags.contains(Flags::WRITE) {
            return current(inode, pos);
        }
        if flags.contains(Flags::NOWAIT) {
            // Only an overwrite of written blocks goes ahead without
            // waiting.
            let map = current(inode, pos)?;
            return match map.kind() {
                crate::kfs::iomap::map::Kind::Mapped { .. } => Ok(map),
                _ => Err(EAGAIN),
            };
        }
        for_write_bytes(inode, pos, len, flags)
    }

    fn write_done(inode: &INode<MapFs>, offset: u64, len: u64, _unwritten: bool) -> Result {
        // The wrapper sets `i_size` to the end of an extending write after
        // this: the on-disk size may go there.
        written(inode, offset, len, u64::MAX)
    }
}

#[vtable]
impl WriteOps for WriteMap {
    type FileSystem = MapFs;

    fn begin(inode: &INode<MapFs>, pos: u64, len: u64, flags: Flags) -> Result<Mapping> {
        if !flags.contains(Flags::WRITE) {
            // Zeroing: holes and unwritten ranges already read as zeros.
            return current(inode, pos);
        }
        for_write_bytes(inode, pos, len, flags)
    }

    fn release_new(inode: &INodeView<MapFs>, offset: u64, len: u64) {
        let bits = inode.block_bits();
        let first = offset >> bits;
        let end = (offset + len + (1 << bits) - 1) >> bits;
        if let Err(e) = free_unwritten(inode, first, end - first) {
            pr_err!("{}: inode {}: giving back blocks {}+{} failed: error {}\n",
                inode.super_block().id(), inode.ino(), first, end - first, e.to_errno());
        }
    }

    fn valid(inode: &INode<MapFs>, cookie: u64) -> bool {
        inode.data().map.lock().seq == cookie
    }
}

/// Maps the holes among file blocks `first .. first + count` to new
/// unwritten blocks (fallocate).
pub(crate) fn preallocate(inode: &INode<MapFs>, first: u64, count: u64) -> Result {
    let sb = inode.super_block();
    let d = sb.data();
    let end = first.checked_add(count).ok_or(EFBIG)?;
    if end > crate::format::extent::MAX_FILE_BLOCKS {
        return Err(EFBIG);
    }
    let mut fb = first;
    let mut changed = false;
    let res = (|| -> Result {
        while fb < end {
            let mut m = inode.data().map.lock();
            match lookup(&m.extents, fb) {
                Found::Mapped { len, .. } => fb += len,
                Found::Hole { len, goal } => {
                    let n = len.min(end - fb).min(u64::from(MAX_EXTENT_LEN));
                    reserve_tree(inode, &mut m, n)?;
                    let (start, got) = d.alloc_blocks(sb, goal, n)?;
                    let undo = ScopeGuard::new(|| {
                        let _ = d.free_blocks(sb, start, got);
                    });
                    let ext = Extent { file_block: fb, disk_block: start, len: got as u32, unwritten: true };
                    m.edit(inode.super_block(), inode.ino(), |l| l.insert(ext, |_| {}))?;
                    undo.dismiss();
                    m.add_blocks(got);
                    update_blocks(inode, &m);
                    changed = true;
                    fb += got;
                }
            }
        }
        Ok(())
    })();
    if changed {
        inode.mark_dirty();
    }
    res
}
