// SPDX-License-Identifier: GPL-2.0

//! Mapping file ranges for iomap, one type per purpose, the XFS way:
//!
//! - Buffered writes and write faults ([`WriteMap`]) **delay allocation**:
//!   a hole gets a reservation (its blocks, and the extent tree's growth,
//!   promised in the allocator, so `ENOSPC` comes back from the write or
//!   the fault) and is answered as a delayed allocation; the data waits in
//!   the page cache. Unwritten extents stay unwritten.
//! - Writeback ([`WritebackMap`]) chooses the blocks of a delayed
//!   allocation when its data is written, the whole run at once next to
//!   the file's previous blocks (a file written in small appends, or two
//!   written in turn, stays contiguous), and allocates them **unwritten**.
//! - Blocks become written only when the data written to them is on the
//!   disk: the writeback completion ([`WritebackMap::complete`]) converts
//!   them, in process context, and advances the on-disk size. Until then
//!   every reader (and, after a crash, the disk) sees zeros there, never
//!   what the blocks held before, as on XFS.
//! - Reads and reports ([`ReadMap`], [`ReportMap`]) see the map as it is,
//!   delayed allocations included (`FIEMAP` flags them, `SEEK_DATA` finds
//!   them).
//! - Direct I/O ([`DirectMap`]) allocates at once: a direct write to a hole
//!   gets new unwritten blocks (and one over a delayed allocation, which
//!   only a racing write fault can leave there, turns it into blocks
//!   first), and its completion converts what it wrote and advances the
//!   on-disk size, as the writeback completion does.
//!
//! Every change of a file's map bumps its sequence number, which each
//! mapping carries as its validity cookie: a buffered write (iomap checks
//! with the folio locked) or writeback holding a mapping from before a
//! change asks again.

#![forbid(unsafe_code)]

use crate::format::extent::{Extent, Mapping as Found, MAX_EXTENT_LEN};
use crate::format::reserve::Growth;
use crate::inode::{reserve_tree, reserve_tree_prealloc, trim_tree_reservation, update_blocks, FileMap};
use crate::kfs::iomap::{
    DirectOps, Flags, Mapping, ReadMapping, ReadOps, ReportOps, WriteOps, WritebackMapping, WritebackOps,
};
use crate::kfs::vfs::{INode, INodeView};
use crate::MapFs;
use kernel::{prelude::*, types::ScopeGuard};

/// Reads: the map as it is.
pub(crate) struct ReadMap;
/// Buffered writes, zeroing and write faults: allocates.
pub(crate) struct WriteMap;
/// `SEEK_HOLE`/`SEEK_DATA` and `FIEMAP`: the map as it is.
pub(crate) struct ReportMap;
/// Writeback: the map as it is, delayed allocations turned into blocks.
pub(crate) struct WritebackMap;
/// Direct I/O: reads see the map as it is, writes allocate.
pub(crate) struct DirectMap;

/// What file block `fb` of a map is.
enum At {
    /// Blocks on the disk, from `disk_block`, `len` of them.
    Mapped { disk_block: u64, len: u64, unwritten: bool },
    /// A delayed allocation, `len` blocks from `fb` on.
    Delalloc { len: u64 },
    /// A hole of `len` blocks; `goal`: the disk block that would continue
    /// the previous extent.
    Hole { len: u64, goal: Option<u64> },
}

/// Looks up file block `fb` in the extents and the delayed allocations.
fn at(m: &FileMap, fb: u64) -> At {
    match m.extents.lookup(fb) {
        Found::Mapped { disk_block, len, unwritten } => At::Mapped { disk_block, len, unwritten },
        Found::Hole { len, goal } => match m.delalloc.lookup(fb) {
            Found::Mapped { len: dlen, .. } => At::Delalloc { len: dlen.min(len) },
            Found::Hole { len: dlen, .. } => At::Hole { len: len.min(dlen), goal },
        },
    }
}

/// The mapping of file block `fb` (at byte `fb << bits`) as it is in `m`.
fn mapping_of(m: &FileMap, fb: u64, bits: u32) -> Result<ReadMapping> {
    let offset = fb << bits;
    let map = match at(m, fb) {
        At::Mapped { disk_block, len, unwritten } => {
            let length = len.checked_shl(bits).ok_or(EIO)?;
            let addr = disk_block.checked_shl(bits).ok_or(EIO)?;
            if unwritten {
                ReadMapping::unwritten(offset, length, addr)
            } else {
                ReadMapping::mapped(offset, length, addr)
            }
        }
        At::Delalloc { len, .. } => ReadMapping::delalloc(offset, len.checked_shl(bits).ok_or(EIO)?),
        At::Hole { len, .. } => ReadMapping::hole(offset, len.saturating_mul(1 << bits)),
    };
    Ok(map.with_cookie(m.seq))
}

/// The mapping of file block `fb` for writeback: its blocks, or a hole.
/// `EIO` for a delayed allocation, which the caller allocates first.
fn blocks_of(m: &FileMap, fb: u64, bits: u32) -> Result<WritebackMapping> {
    WritebackMapping::try_from(mapping_of(m, fb, bits)?)
}

/// The current mapping at byte `pos`, without changing anything.
fn current(inode: &INodeView<MapFs>, pos: u64) -> Result<ReadMapping> {
    let bits = inode.block_bits();
    mapping_of(&inode.data().map.lock(), pos >> bits, bits)
}

/// Chooses the blocks of the delayed allocation that holds file block
/// `fb`: from the start of its run (next to the file's previous blocks,
/// so that the run continues them) until `fb` is covered, as large a
/// contiguous piece as the allocator finds each time, allocated as
/// **unwritten** blocks out of the run's reservation (so this cannot fail
/// for lack of space). The tree's growth was reserved with the run.
/// Returns the mapping of `fb` afterwards; the caller marks the inode
/// dirty once it has dropped the map lock.
fn allocate_delalloc(inode: &INodeView<MapFs>, m: &mut FileMap, fb: u64) -> Result<WritebackMapping> {
    let sb = inode.super_block();
    let d = sb.data();
    let run = m.delalloc.iter_from(fb).next().copied().filter(|e| e.file_block <= fb).ok_or(EIO)?;
    let mut cur = run.file_block;
    while cur <= fb {
        let goal = match m.extents.lookup(cur) {
            Found::Hole { goal, .. } => goal,
            Found::Mapped { .. } => return Err(EIO),
        };
        let want = (run.end() - cur).min(u64::from(MAX_EXTENT_LEN));
        let (start, got) = d.alloc_reserved_run(sb, goal, want)?;
        // Promised again unless the extent map takes them.
        let undo = ScopeGuard::new(|| {
            let _ = d.free_to_reserved(sb, start, got);
        });
        // Converted when the I/O completes: handed out, out of the run's
        // reservation (its blocks counted thrice, see `reserve.rs`). First,
        // so that a failure below leaves them handed out at worst, which
        // only reserves more.
        m.hand_out(sb, inode.ino(), cur, got)?;
        let ext = Extent { file_block: cur, disk_block: start, len: got as u32, unwritten: true };
        if let Err(e) = m.edit(sb, inode.ino(), |l| l.insert(ext, |_| {})) {
            let _ = m.settle(sb, inode.ino(), cur, got);
            return Err(e);
        }
        if let Err(e) = m.edit_delalloc(sb, inode.ino(), |l| l.remove(cur, got, |_| {})) {
            let _ = m.edit(sb, inode.ino(), |l| l.remove(cur, got, |_| {}));
            let _ = m.settle(sb, inode.ino(), cur, got);
            return Err(e);
        }
        undo.dismiss();
        m.delalloc_blocks = m.delalloc_blocks.saturating_sub(got);
        m.add_blocks(got);
        cur += got;
    }
    update_blocks(inode, m);
    blocks_of(m, fb, inode.block_bits())
}

/// How a write maps a hole.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Alloc {
    /// Reserve and answer with a delayed allocation (buffered writes and
    /// write faults).
    Delayed,
    /// Allocate unwritten blocks now (direct writes).
    Now,
}

/// Maps file blocks from `fb` on, at most `want` of them, for writing: a
/// written extent as it is, an unwritten one as unwritten, a hole as a new
/// delayed allocation or as new unwritten blocks (`how`). The extent
/// tree's worst-case growth is reserved first (conversions split extents),
/// so `ENOSPC` comes back here, from the write or the fault, never from
/// writeback.
///
/// `nowait` (an `IOCB_NOWAIT` write): a hole is `EAGAIN` instead, as
/// allocating may wait.
fn for_write(inode: &INode<MapFs>, fb: u64, want: u64, nowait: bool, how: Alloc) -> Result<Mapping> {
    let bits = inode.block_bits();
    let sb = inode.super_block();
    let d = sb.data();
    let want = want.clamp(1, u64::from(MAX_EXTENT_LEN));
    let mut m = inode.data().map.lock();
    let offset = fb << bits;
    let map = match at(&m, fb) {
        At::Mapped { disk_block, len, unwritten: false } => {
            return Ok(Mapping::mapped(offset, len << bits, disk_block << bits).with_cookie(m.seq));
        }
        At::Mapped { disk_block, len, unwritten: true } => {
            // Only the blocks this write covers: the completion converts
            // them.
            let n = len.min(want);
            reserve_tree_prealloc(inode, &mut m, Growth::handout(n))?;
            m.hand_out(sb, inode.ino(), fb, n)?;
            return Ok(Mapping::unwritten(offset, n << bits, disk_block << bits).with_cookie(m.seq));
        }
        At::Delalloc { len, .. } if how == Alloc::Delayed => {
            return Ok(Mapping::delalloc(offset, len << bits).with_cookie(m.seq));
        }
        At::Delalloc { .. } => {
            // A direct write where a write fault reserved space after the
            // direct write flushed the range: give that reservation its
            // blocks now (the dirty folio goes to them later).
            let map = allocate_delalloc(inode, &mut m, fb)?;
            drop(m);
            inode.mark_dirty();
            return Ok(map.into());
        }
        At::Hole { .. } if nowait => return Err(EAGAIN),
        At::Hole { len, .. } if how == Alloc::Delayed => {
            let n = len.min(want);
            reserve_tree(inode, &mut m, Growth::delalloc(n))?;
            let got = d.reserve_some(n)?;
            let ext = Extent { file_block: fb, disk_block: fb, len: got as u32, unwritten: false };
            if let Err(e) = m.edit_delalloc(sb, inode.ino(), |l| l.insert(ext, |_| {})) {
                d.unreserve(got);
                return Err(e);
            }
            m.delalloc_blocks += got;
            update_blocks(inode, &m);
            return Ok(Mapping::delalloc(offset, got << bits).new_blocks().with_cookie(m.seq));
        }
        At::Hole { len, goal } => {
            let n = len.min(want);
            reserve_tree(inode, &mut m, Growth::direct(n))?;
            let (start, got) = d.alloc_blocks(sb, goal, n)?;
            // Given back unless the extent map takes them.
            let undo = ScopeGuard::new(|| {
                let _ = d.free_blocks(sb, start, got);
            });
            // Handed out first, as in `allocate_delalloc`.
            m.hand_out(sb, inode.ino(), fb, got)?;
            let ext = Extent { file_block: fb, disk_block: start, len: got as u32, unwritten: true };
            if let Err(e) = m.edit(sb, inode.ino(), |l| l.insert(ext, |_| {})) {
                let _ = m.settle(sb, inode.ino(), fb, got);
                return Err(e);
            }
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
fn for_write_bytes(inode: &INode<MapFs>, pos: u64, len: u64, flags: Flags, how: Alloc) -> Result<Mapping> {
    let bits = inode.block_bits();
    let fb = pos >> bits;
    let last = pos.saturating_add(len.max(1) - 1) >> bits;
    for_write(inode, fb, last - fb + 1, flags.contains(Flags::NOWAIT), how)
}

/// The mapping at byte `pos` for zeroing (zero range, truncate page, and
/// growing a file over the gap past its old EOF). Holes and unwritten
/// ranges already read as zeros and are answered as they are (iomap
/// writes back dirty data over an unwritten range and asks again rather
/// than zero it in the page cache, so no block is handed out here: see
/// [`FileMap::handed_out`]); written
/// blocks up to the EOF block are zeroed in the page cache. Written blocks
/// wholly past the EOF block (a crash after a write's extents reached the
/// disk but before its size did leaves them, and fsck accepts them) become
/// **unwritten** instead: iomap never zeroes folios past EOF (they would
/// not be written back), and the file about to grow over them must read
/// zeros there, also after a crash: the conversion is on stable storage
/// before this returns, so no size written later covers the old content
/// (the tree's leaves and the inode are separate blocks). The tree's
/// growth for the split is reserved first. Only a file left so by a crash
/// or a crafted image takes this path.
fn for_zeroing(inode: &INode<MapFs>, pos: u64) -> Result<Mapping> {
    let bits = inode.block_bits();
    let fb = pos >> bits;
    let size = u64::try_from(inode.size()).map_err(|_| EIO)?;
    let eof_block = size.div_ceil(1 << bits);
    let mut m = inode.data().map.lock();
    let (disk_block, len) = match at(&m, fb) {
        At::Mapped { disk_block, len, unwritten: false } if fb >= eof_block => (disk_block, len),
        // Anything else as it is (the wrapper stops an answer at the EOF
        // block).
        _ => return mapping_of(&m, fb, bits).map(Mapping::from),
    };
    let sb = inode.super_block();
    sb.data().check_writable()?;
    reserve_tree(inode, &mut m, Growth::split())?;
    let ext = Extent { file_block: fb, disk_block, len: len as u32, unwritten: true };
    m.edit(sb, inode.ino(), |l| l.insert(ext, |_| {}))?;
    let map = mapping_of(&m, fb, bits)?;
    drop(m);
    crate::inode::write_inode(inode)?;
    sb.sync_device()?;
    Ok(map.into())
}

/// Gives back the delayed allocations among file blocks `first .. first +
/// count` that a write reserved and did not use. Only those: blocks that
/// writeback chose meanwhile stay (a folio there may be under writeback
/// right now, its I/O going to them), as iomap's punch contract asks.
fn release_delalloc(inode: &INodeView<MapFs>, first: u64, count: u64) -> Result {
    let mut m = inode.data().map.lock();
    if m.drop_delalloc(inode.super_block(), inode.ino(), first, count)? != 0 {
        update_blocks(inode, &m);
    }
    Ok(())
}

#[vtable]
impl ReadOps for ReadMap {
    type FileSystem = MapFs;

    fn begin(inode: &INode<MapFs>, pos: u64, _len: u64) -> Result<ReadMapping> {
        current(inode, pos)
    }
}

#[vtable]
impl ReportOps for ReportMap {
    type FileSystem = MapFs;

    fn begin(inode: &INode<MapFs>, pos: u64, _len: u64) -> Result<ReadMapping> {
        current(inode, pos)
    }
}

#[vtable]
impl WritebackOps for WritebackMap {
    type FileSystem = MapFs;

    fn map(inode: &INodeView<MapFs>, pos: u64, _len: u64) -> Result<WritebackMapping> {
        // Read-only after a corruption: nothing more reaches the disk.
        inode.super_block().data().check_writable()?;
        let bits = inode.block_bits();
        let fb = pos >> bits;
        let mut m = inode.data().map.lock();
        if !matches!(at(&m, fb), At::Delalloc { .. }) {
            return blocks_of(&m, fb, bits);
        }
        let map = allocate_delalloc(inode, &mut m, fb)?;
        drop(m);
        inode.mark_dirty();
        Ok(map)
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
            let sb = inode.super_block();
            m.edit(sb, inode.ino(), |l| l.mark_written(first, last - first))?;
            // Converted: their worst case is behind them. Should the list
            // fail to shrink (no memory), the blocks stay handed out, which
            // only reserves more: the completion itself succeeded.
            let _ = m.settle(sb, inode.ino(), first, last - first);
            trim_tree_reservation(inode, &mut m);
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
            return current(inode, pos).map(Mapping::from);
        }
        if flags.contains(Flags::NOWAIT) {
            // Only an overwrite of written blocks goes ahead without
            // waiting.
            let map = Mapping::from(current(inode, pos)?);
            return match map.kind() {
                crate::kfs::iomap::map::Kind::Mapped { .. } => Ok(map),
                _ => Err(EAGAIN),
            };
        }
        inode.super_block().data().check_writable()?;
        for_write_bytes(inode, pos, len, flags, Alloc::Now)
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
            return for_zeroing(inode, pos);
        }
        inode.super_block().data().check_writable()?;
        for_write_bytes(inode, pos, len, flags, Alloc::Delayed)
    }

    fn release_new(inode: &INodeView<MapFs>, offset: u64, len: u64) {
        // Only blocks wholly inside the range: a block it cuts holds dirty
        // data on its other side (iomap punches up to dirty folios).
        let bits = inode.block_bits();
        let first = offset.saturating_add((1 << bits) - 1) >> bits;
        let end = offset.saturating_add(len) >> bits;
        if end <= first {
            return;
        }
        if let Err(e) = release_delalloc(inode, first, end - first) {
            fs_err!(inode.super_block(), "inode {}: giving back blocks {}+{} failed: error {}\n",
                inode.ino(), first, end - first, e.to_errno());
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
            match at(&m, fb) {
                // A delayed allocation has its reservation: writeback
                // allocates it.
                At::Mapped { len, .. } | At::Delalloc { len, .. } => fb += len,
                At::Hole { len, goal } => {
                    let n = len.min(end - fb).min(u64::from(MAX_EXTENT_LEN));
                    reserve_tree(inode, &mut m, Growth::new_extent(n))?;
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
