// SPDX-License-Identifier: GPL-2.0

//! Mapping file ranges for iomap, one type per purpose: reads, reporting
//! and writeback see the extent map as it is ([`ReadMap`], [`ReportMap`],
//! [`WritebackMap`]); writes and write faults allocate blocks for holes and
//! convert unwritten extents ([`WriteMap`]), so dirty page cache is always
//! backed by written extents when writeback comes.
//!
//! Every change of a file's map bumps its sequence number, which each
//! mapping carries as its validity cookie: a buffered write (iomap checks
//! with the folio locked) or writeback holding a mapping from before a
//! change asks again.

#![forbid(unsafe_code)]

use crate::format::extent::{lookup, Extent, Mapping as Found, MAX_EXTENT_LEN};
use crate::inode::update_blocks;
use crate::kfs::iomap::{map::Kind, Flags, Mapping, ReadOps, ReportOps, WriteOps, WritebackOps};
use crate::kfs::vfs::{INode, INodeView};
use crate::MapFs;
use kernel::prelude::*;

/// Reads: the map as it is.
pub(crate) struct ReadMap;
/// Buffered writes, zeroing and write faults: allocates.
pub(crate) struct WriteMap;
/// `SEEK_HOLE`/`SEEK_DATA` and `FIEMAP`: the map as it is.
pub(crate) struct ReportMap;
/// Writeback: the map as it is (the write path allocated every block).
pub(crate) struct WritebackMap;

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

/// Maps file blocks from `fb` on, at most `want` of them, for writing.
fn for_write(inode: &INode<MapFs>, fb: u64, want: u64) -> Result<Mapping> {
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
            // Written from now on; the blocks the write covers only in part
            // are zeroed by iomap (new blocks), and `end` converts back
            // whatever a short write did not reach.
            let n = len.min(want);
            m.edit(|l| l.mark_written(fb, n))?;
            Mapping::mapped(offset, n << bits, disk_block << bits).new_blocks().with_fs_flag()
        }
        Found::Hole { len, goal } => {
            let n = len.min(want);
            let (start, got) = d.alloc_blocks(sb, goal, n)?;
            let ext = Extent { file_block: fb, disk_block: start, len: got as u32, unwritten: false };
            if let Err(e) = m.edit(|l| l.insert(ext, |_| {})) {
                let _ = d.free_blocks(sb, start, got);
                return Err(e);
            }
            m.blocks += got;
            update_blocks(inode, &m);
            Mapping::mapped(offset, got << bits, start << bits).new_blocks()
        }
    };
    let map = map.with_cookie(m.seq);
    drop(m);
    inode.mark_dirty();
    Ok(map)
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
}

#[vtable]
impl WriteOps for WriteMap {
    type FileSystem = MapFs;

    fn begin(inode: &INode<MapFs>, pos: u64, len: u64, flags: Flags) -> Result<Mapping> {
        if !flags.contains(Flags::WRITE) {
            // Zeroing: holes and unwritten ranges already read as zeros.
            return current(inode, pos);
        }
        let bits = inode.block_bits();
        let fb = pos >> bits;
        let last = (pos + len.max(1) - 1) >> bits;
        for_write(inode, fb, last - fb + 1)
    }

    fn end(inode: &INode<MapFs>, pos: u64, _len: u64, written: u64, flags: Flags, map: &Mapping) -> Result {
        if !flags.contains(Flags::WRITE) || !map.is_new() {
            return Ok(());
        }
        // Give back the new blocks the write did not reach: a block it
        // wrote in part is kept (its folio is up to date and dirty).
        let bits = inode.block_bits();
        let mask = (1u64 << bits) - 1;
        let from = if written == 0 { pos >> bits } else { (pos + written + mask) >> bits };
        let map_first = map.offset() >> bits;
        let map_end = (map.offset() + map.length()) >> bits;
        let from = from.max(map_first);
        if from >= map_end {
            return Ok(());
        }
        let Kind::Mapped { addr } = map.kind() else {
            return Ok(());
        };
        if map.fs_flag() {
            // Converted from unwritten in `begin`: unwritten again.
            let ext = Extent {
                file_block: from,
                disk_block: (addr >> bits) + (from - map_first),
                len: (map_end - from) as u32,
                unwritten: true,
            };
            inode.data().map.lock().edit(|l| l.insert(ext, |_| {}))?;
            inode.mark_dirty();
            Ok(())
        } else {
            crate::inode::unmap(inode, from, map_end - from)
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
                    let (start, got) = d.alloc_blocks(sb, goal, n)?;
                    let ext = Extent { file_block: fb, disk_block: start, len: got as u32, unwritten: true };
                    if let Err(e) = m.edit(|l| l.insert(ext, |_| {})) {
                        let _ = d.free_blocks(sb, start, got);
                        return Err(e);
                    }
                    m.blocks += got;
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
