// SPDX-License-Identifier: GPL-2.0

//! Block and inode allocation.
//!
//! Both bitmaps live in memory for the whole mount (their data bytes laid
//! end to end, so bit `i` of the filesystem is bit `i` of the copy) under
//! one mutex, with the super block's counters. Every change is written
//! through at once to the bitmap blocks in the device's page cache (bits and
//! checksum, buffer marked dirty), so writeback and `sync_fs` only ever see
//! consistent blocks. The counters reach the on-disk super block in
//! `sync_fs` and at unmount ([`Alloc::write_super`]).
//!
//! Lock order: an inode's map lock, then this one, then buffer locks.

#![forbid(unsafe_code)]

use crate::format::{
    bitmap,
    layout::{bits_per_bitmap_block, Geometry, Region},
    reserve,
    super_block::{Superblock, STATE_CLEAN},
};
use crate::kfs::vfs::{now_seconds, Buffer, SuperBlock};
use crate::MapFs;
use kernel::{alloc::KVVec, prelude::*};

/// Whether a reservation may take the pool ([`Alloc::reserve`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pool {
    /// Leave it: every reservation but the one below.
    Keep,
    /// The tree growth of a write or fault into preallocated (unwritten)
    /// space, which a fallocate promised would not fail for lack of space.
    MayUse,
}

/// The allocation state of a mounted, writable mapfs.
pub(crate) struct Alloc {
    blocks: KVVec<u8>,
    inodes: KVVec<u8>,
    /// The super block as it will be written.
    pub(crate) sb: Superblock,
    goal: u64,
    inode_goal: u64,
    next_generation: u32,
    /// Free blocks promised to inodes (extent-tree growth a later
    /// `write_inode` will need): not available to [`Self::alloc_blocks`].
    reserved: u64,
    /// Free blocks kept back for the tree growth of writes into
    /// preallocated space ([`reserve::pool_blocks`]): only
    /// [`Self::reserve`] with [`Pool::MayUse`] may promise them. Not a count of
    /// specific blocks: a floor under what everyone else can take, so
    /// blocks freed refill it before anything else can have them.
    pool: u64,
    /// The orphan list (inodes unlinked while open) in memory, the head
    /// last: entry `i` points at entry `i - 1` on disk, the first at
    /// nothing. `sb.orphan_head` is the last entry.
    orphans: KVec<u32>,
}

/// Loads the bitmap of `region` (`nbits` bits) into one flat copy.
fn load_bitmap<'a>(
    read: &impl Fn(u64) -> Result<Buffer<'a>>,
    geo: &Geometry,
    seed: u32,
    region: &Region,
    what: &str,
    id: &str,
) -> Result<KVVec<u8>> {
    let per = (bits_per_bitmap_block(geo.block_size()) / 8) as usize;
    let mut out = KVVec::with_capacity(per * region.len as usize, GFP_KERNEL)?;
    for k in 0..region.len {
        let disk = region.start + k;
        let buf = read(disk)?;
        let guard = buf.lock()?;
        bitmap::verify_block_csum(seed, disk, guard.data()).map_err(|e| {
            pr_err!("{}: {} bitmap block {}: {}\n", id, what, disk, crate::kfs::fmt::Shown(e));
            EUCLEAN
        })?;
        let bits = bitmap::block_bits(guard.data())?;
        out.extend_from_slice(bits, GFP_KERNEL)?;
    }
    Ok(out)
}

impl Alloc {
    /// Reads both bitmaps with `read` (block number to buffer); the free
    /// counts come from them.
    pub(crate) fn load<'a>(
        read: impl Fn(u64) -> Result<Buffer<'a>>,
        geo: &Geometry,
        seed: u32,
        disk: &Superblock,
        id: &str,
    ) -> Result<Self> {
        let blocks = load_bitmap(&read, geo, seed, &geo.block_bitmap, "block", id)?;
        let inodes = load_bitmap(&read, geo, seed, &geo.inode_bitmap, "inode", id)?;
        let mut sbv = *disk;
        sbv.free_blocks = bitmap::count_free(&blocks, geo.block_count);
        sbv.free_inodes = bitmap::count_free(&inodes, u64::from(geo.inode_count)) as u32;
        Ok(Self {
            blocks,
            inodes,
            sb: sbv,
            goal: geo.data_start,
            inode_goal: 1,
            next_generation: crate::kfs::vfs::random_u32(),
            reserved: 0,
            pool: reserve::pool_blocks(geo.data().len),
            orphans: KVec::new(),
        })
    }

    /// Writes bits `start .. start + len` of a bitmap through to its blocks.
    fn write_through(
        sb: &SuperBlock<MapFs>,
        seed: u32,
        bits: &[u8],
        region: &Region,
        start: u64,
        len: u64,
    ) -> Result {
        if len == 0 {
            return Ok(());
        }
        let per = bits_per_bitmap_block(sb.block_size());
        let bytes = (per / 8) as usize;
        for k in start / per..=(start + len - 1) / per {
            let disk = region.start + k;
            let src = bits.get(k as usize * bytes..(k as usize + 1) * bytes).ok_or(EIO)?;
            let buf = sb.read_block(disk)?;
            let mut guard = buf.lock()?;
            let data = guard.data_mut();
            bitmap::block_bits_mut(data)?.copy_from_slice(src);
            bitmap::set_block_csum(seed, disk, data)?;
            guard.mark_dirty();
        }
        Ok(())
    }

    /// Whether the bitmap marks every block of `start .. start + len` in
    /// use (false for a range outside it).
    pub(crate) fn blocks_in_use(&self, start: u64, len: u64) -> bool {
        bitmap::all_set(&self.blocks, start, len).unwrap_or(false)
    }

    /// Whether the bitmap marks inode `ino` in use.
    pub(crate) fn inode_in_use(&self, ino: u32) -> bool {
        bitmap::all_set(&self.inodes, u64::from(ino), 1).unwrap_or(false)
    }

    /// Free blocks not promised to anyone, less the pool: what ordinary
    /// allocations and reservations can have (and what `statfs` shows).
    pub(crate) fn available(&self) -> u64 {
        self.sb.free_blocks.saturating_sub(self.reserved).saturating_sub(self.pool)
    }

    /// Promises `n` free blocks (see [`Self::alloc_reserved`]); `ENOSPC`
    /// when fewer are available, the pool counted only with
    /// [`Pool::MayUse`].
    pub(crate) fn reserve(&mut self, n: u64, pool: Pool) -> Result {
        let free = match pool {
            Pool::Keep => self.available(),
            Pool::MayUse => self.sb.free_blocks.saturating_sub(self.reserved),
        };
        if free < n {
            return Err(ENOSPC);
        }
        self.reserved += n;
        Ok(())
    }

    /// Promises up to `max` free blocks, as many as are available:
    /// how many, `ENOSPC` when none is.
    pub(crate) fn reserve_some(&mut self, max: u64) -> Result<u64> {
        let n = max.min(self.available());
        if n == 0 {
            return Err(ENOSPC);
        }
        self.reserved += n;
        Ok(n)
    }

    /// Takes back a promise of `n` blocks.
    pub(crate) fn unreserve(&mut self, n: u64) {
        self.reserved = self.reserved.saturating_sub(n);
    }

    /// Allocates up to `max` contiguous blocks, the first at or after `goal`
    /// if possible: `(first block, count)`, `ENOSPC` when none is
    /// available (reserved blocks are not).
    pub(crate) fn alloc_blocks(
        &mut self,
        sb: &SuperBlock<MapFs>,
        geo: &Geometry,
        seed: u32,
        goal: Option<u64>,
        max: u64,
    ) -> Result<(u64, u64)> {
        let max = max.min(self.available());
        if max == 0 {
            return Err(ENOSPC);
        }
        self.alloc_any(sb, geo, seed, goal, max)
    }

    /// Allocates up to `max` contiguous blocks out of reserved ones (a
    /// promise made with [`Self::reserve`] for at least `max`), the first
    /// at or after `goal` if possible: `(first block, count)`. It cannot
    /// fail for lack of space: the free blocks are at least the reserved
    /// ones.
    pub(crate) fn alloc_reserved(
        &mut self,
        sb: &SuperBlock<MapFs>,
        geo: &Geometry,
        seed: u32,
        goal: Option<u64>,
        max: u64,
    ) -> Result<(u64, u64)> {
        let (b, n) = self.alloc_any(sb, geo, seed, goal, max.min(self.reserved).max(1))?;
        self.reserved = self.reserved.saturating_sub(n);
        Ok((b, n))
    }

    /// Undoes [`Self::alloc_reserved`]: frees blocks `start .. start +
    /// len` and promises them again, at once (no one can take them in
    /// between).
    pub(crate) fn free_to_reserved(
        &mut self,
        sb: &SuperBlock<MapFs>,
        geo: &Geometry,
        seed: u32,
        start: u64,
        len: u64,
    ) -> Result {
        self.free_blocks(sb, geo, seed, start, len)?;
        self.reserved += len;
        Ok(())
    }

    fn alloc_any(
        &mut self,
        sb: &SuperBlock<MapFs>,
        geo: &Geometry,
        seed: u32,
        goal: Option<u64>,
        max: u64,
    ) -> Result<(u64, u64)> {
        let goal = goal.filter(|g| *g >= geo.data_start && *g < geo.block_count).unwrap_or(self.goal);
        let (start, len) =
            bitmap::find_free_run(&self.blocks, geo.block_count, goal, max).ok_or(ENOSPC)?;
        if start < geo.data_start {
            // Metadata regions are always marked in use: a free bit there
            // means the bitmap is corrupt.
            fs_err!(sb, "block bitmap: metadata block {} marked free\n", start);
            crate::super_block::fs_error(sb);
            return Err(EUCLEAN);
        }
        bitmap::set_bits(&mut self.blocks, start, len)?;
        Self::write_through(sb, seed, &self.blocks, &geo.block_bitmap, start, len)?;
        self.sb.free_blocks = self.sb.free_blocks.saturating_sub(len);
        self.goal = start + len;
        Ok((start, len))
    }

    /// Frees blocks `start .. start + len`.
    pub(crate) fn free_blocks(
        &mut self,
        sb: &SuperBlock<MapFs>,
        geo: &Geometry,
        seed: u32,
        start: u64,
        len: u64,
    ) -> Result {
        if start < geo.data_start || start.checked_add(len).is_none_or(|e| e > geo.block_count) {
            fs_err!(sb, "freeing blocks {}+{} outside the data area\n", start, len);
            crate::super_block::fs_error(sb);
            return Err(EUCLEAN);
        }
        if !bitmap::all_set(&self.blocks, start, len).unwrap_or(false) {
            fs_err!(sb, "freeing blocks {}+{}: some are already free\n", start, len);
            crate::super_block::fs_error(sb);
            return Err(EUCLEAN);
        }
        bitmap::clear_bits(&mut self.blocks, start, len)?;
        Self::write_through(sb, seed, &self.blocks, &geo.block_bitmap, start, len)?;
        self.sb.free_blocks += len;
        Ok(())
    }

    /// Allocates an inode number and a generation for it.
    pub(crate) fn alloc_inode(&mut self, sb: &SuperBlock<MapFs>, geo: &Geometry, seed: u32) -> Result<(u32, u32)> {
        let nbits = u64::from(geo.inode_count);
        let (ino, _) = bitmap::find_free_run(&self.inodes, nbits, self.inode_goal, 1).ok_or(ENOSPC)?;
        if ino == 0 {
            return Err(EUCLEAN);
        }
        bitmap::set_bits(&mut self.inodes, ino, 1)?;
        Self::write_through(sb, seed, &self.inodes, &geo.inode_bitmap, ino, 1)?;
        self.sb.free_inodes = self.sb.free_inodes.saturating_sub(1);
        self.inode_goal = ino + 1;
        self.next_generation = self.next_generation.wrapping_add(1);
        Ok((ino as u32, self.next_generation))
    }

    /// Marks inode number `ino`, free in the bitmap, in use: its slot
    /// is in use and an entry names it (a create whose bitmap block never
    /// reached the disk), at a mount recovering the namespace.
    pub(crate) fn claim_inode(&mut self, sb: &SuperBlock<MapFs>, geo: &Geometry, seed: u32, ino: u32) -> Result {
        let ino = u64::from(ino);
        if ino == 0 || ino >= u64::from(geo.inode_count) {
            return Err(EUCLEAN);
        }
        if bitmap::all_set(&self.inodes, ino, 1).unwrap_or(false) {
            return Ok(());
        }
        bitmap::set_bits(&mut self.inodes, ino, 1)?;
        Self::write_through(sb, seed, &self.inodes, &geo.inode_bitmap, ino, 1)?;
        self.sb.free_inodes = self.sb.free_inodes.saturating_sub(1);
        Ok(())
    }

    /// Frees inode number `ino`.
    pub(crate) fn free_inode(&mut self, sb: &SuperBlock<MapFs>, geo: &Geometry, seed: u32, ino: u32) -> Result {
        let ino = u64::from(ino);
        if ino == 0 || !bitmap::all_set(&self.inodes, ino, 1).unwrap_or(false) {
            fs_err!(sb, "freeing inode {}: not in use\n", ino);
            crate::super_block::fs_error(sb);
            return Err(EUCLEAN);
        }
        bitmap::clear_bits(&mut self.inodes, ino, 1)?;
        Self::write_through(sb, seed, &self.inodes, &geo.inode_bitmap, ino, 1)?;
        self.sb.free_inodes += 1;
        Ok(())
    }

    /// Sets the orphan list as found on disk, `chain` in list order from
    /// the head (the valid part of it: an entry past a bad one is dropped,
    /// and the super block then points at the head of what is kept).
    pub(crate) fn set_orphans(&mut self, chain: &[u32]) -> Result {
        self.orphans.clear();
        for ino in chain.iter().rev() {
            self.orphans.push(*ino, GFP_KERNEL)?;
        }
        self.sb.orphan_head = chain.first().copied().unwrap_or(0);
        Ok(())
    }

    /// Puts `ino` at the head of the orphan list: on disk, its slot points
    /// at the old head (written by its `write_inode`: see
    /// [`Self::orphan_next`]) and the super block at it.
    pub(crate) fn orphan_add(&mut self, ino: u32) -> Result {
        if self.orphans.contains(&ino) {
            return Ok(());
        }
        self.orphans.push(ino, GFP_KERNEL)?;
        self.sb.orphan_head = ino;
        Ok(())
    }

    /// Whether `ino` is on the orphan list.
    pub(crate) fn is_orphan(&self, ino: u32) -> bool {
        self.orphans.contains(&ino)
    }

    /// The inode that `ino`'s slot points at on the orphan list (0 at the
    /// end, or when `ino` is not on it).
    pub(crate) fn orphan_next(&self, ino: u32) -> u32 {
        match self.orphans.iter().position(|&o| o == ino) {
            Some(i) if i > 0 => self.orphans.get(i - 1).copied().unwrap_or(0),
            _ => 0,
        }
    }

    /// Takes `ino` off the orphan list. Returns the inode whose slot must
    /// now point elsewhere, and where: `(predecessor, new next)`; `None`
    /// when `ino` was the head (the super block changes) or not listed.
    pub(crate) fn orphan_remove(&mut self, ino: u32) -> Option<(u32, u32)> {
        let i = self.orphans.iter().position(|&o| o == ino)?;
        self.orphans.remove(i).ok()?;
        let next = if i > 0 { self.orphans.get(i - 1).copied().unwrap_or(0) } else { 0 };
        match self.orphans.get(i) {
            Some(&pred) => Some((pred, next)),
            None => {
                self.sb.orphan_head = self.orphans.last().copied().unwrap_or(0);
                None
            }
        }
    }

    /// Writes the super block (counters, times, `clean` state) to block 0,
    /// read with `read`.
    pub(crate) fn write_super<'a>(&mut self, read: impl Fn(u64) -> Result<Buffer<'a>>, clean: bool) -> Result {
        if clean {
            self.sb.state |= STATE_CLEAN;
        } else {
            self.sb.state &= !STATE_CLEAN;
        }
        self.sb.write_time = now_seconds();
        // Block 0 in filesystem blocks holds the super block in its first
        // 1024 bytes, whatever the block size.
        let buf = read(0)?;
        let mut guard = buf.lock()?;
        let dst = guard.data_mut().get_mut(..crate::format::layout::SUPERBLOCK_SIZE).ok_or(EIO)?;
        self.sb.encode(dst)?;
        guard.mark_dirty();
        Ok(())
    }
}
