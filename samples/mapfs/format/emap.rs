//! A file's extent map in memory, kept as the leaves of its on-disk tree.
//!
//! [`ExtentMap`] holds a file's extents in leaves of at most
//! [`tree::node_capacity`] entries, each the in-memory copy of one leaf
//! block of the on-disk tree ([`super::tree`]), with a sorted array of leaf
//! headers (first file block, disk block, dirty bit) over them:
//!
//! - a lookup is two binary searches, O(log n);
//! - an edit runs the [`ExtentList`] operation on the one or two leaves its
//!   range touches (plus the extents on either side, which it may merge
//!   with), O(leaf size); a leaf that overflows splits and one that runs
//!   low is merged with a neighbour, which moves the leaf headers after it
//!   (one header per leaf: n / capacity of them, a 1/255 of the extents at
//!   4 KiB blocks). Collapse and insert range move every extent after the
//!   range, as they must (their file blocks change);
//! - an insert that only continues the extent before it (an append, a
//!   sequential write or write fault, one block at a time) lengthens that
//!   extent in place: two binary searches, nothing moved;
//! - [`ExtentMap::encode`] writes back only the leaves an edit touched and
//!   the index nodes above a leaf that was added, removed or whose first
//!   key changed: one changed extent in a file of a million rewrites one
//!   leaf block and the root, not four thousand blocks.
//!
//! Storage is the caller's growable arrays ([`Array`], a `KVVec` in the
//! kernel): every edit takes what memory it may need before it changes
//! anything, so running out of memory ([`MapError::NoMemory`]) leaves the
//! map as it was.

use super::extent::{lookup as lookup_in, DiskRange, Extent, ExtentError, ExtentList, Mapping, MAX_FILE_BLOCKS};
use super::inode::INODE_DATA_SIZE;
use super::tree::{self, NodeHeader, TreeCtx, TreeError, WalkError, MAX_DEPTH, ROOT_CAPACITY};

/// Entries every leaf keeps free beyond its capacity: the most one
/// [`ExtentList`] operation adds.
const SLACK: usize = 3;
/// Levels of the tree, leaves (0) to the root's children.
const LEVELS: usize = MAX_DEPTH as usize + 1;

/// Out of memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoMemory;

/// Errors of [`ExtentMap`] edits. On either, the map is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// Memory for the result could not be had.
    NoMemory,
    /// The edit is invalid (see [`ExtentError`]).
    Extent(ExtentError),
}

impl From<NoMemory> for MapError {
    fn from(_: NoMemory) -> Self {
        Self::NoMemory
    }
}

impl From<ExtentError> for MapError {
    fn from(e: ExtentError) -> Self {
        Self::Extent(e)
    }
}

/// A growable array of `T` whose growth may fail (a `KVVec` in the kernel).
pub trait Array<T: Copy>: Default {
    /// The elements.
    fn items(&self) -> &[T];
    /// The elements, writable.
    fn items_mut(&mut self) -> &mut [T];
    /// Makes room for `additional` more elements without reallocating.
    fn try_reserve(&mut self, additional: usize) -> Result<(), NoMemory>;
    /// Appends `x` (after [`Array::try_reserve`], never fails).
    fn try_push(&mut self, x: T) -> Result<(), NoMemory>;
    /// Grows to `n` elements, filling with `fill`, or shrinks to `n`.
    fn try_resize(&mut self, n: usize, fill: T) -> Result<(), NoMemory>;
    /// Shrinks to `n` elements (no-op if shorter).
    fn shorten(&mut self, n: usize);
}

/// A family of [`Array`]s, one per element type.
pub trait Arrays {
    /// The array of `T`.
    type Of<T: Copy>: Array<T>;
}

fn insert_at<T: Copy, V: Array<T>>(v: &mut V, i: usize, x: T) -> Result<(), NoMemory> {
    v.try_push(x)?;
    if let Some(s) = v.items_mut().get_mut(i..) {
        s.rotate_right(1);
    }
    Ok(())
}

fn remove_at<T: Copy, V: Array<T>>(v: &mut V, i: usize) -> Option<T> {
    let n = v.items().len();
    let x = v.items().get(i).copied()?;
    if let Some(s) = v.items_mut().get_mut(i..) {
        s.rotate_left(1);
    }
    v.shorten(n - 1);
    Some(x)
}

fn pop<T: Copy, V: Array<T>>(v: &mut V) -> Option<T> {
    let n = v.items().len();
    let x = v.items().last().copied()?;
    v.shorten(n - 1);
    Some(x)
}

/// Copies `s` into `d`, which callers size alike: element by element,
/// so that no length-mismatch panic path is left behind. `copy_from_slice`
/// has one, and when rustc does not inline it, the kernel's objtool (7.3)
/// does not know rustc 1.95's name for that panic and warns that the copy
/// "falls through to next function", which fails the module's build.
fn copy_extents(d: &mut [Extent], s: &[Extent]) {
    for (d, s) in d.iter_mut().zip(s) {
        *d = *s;
    }
}

fn div_ceil(a: usize, b: usize) -> usize {
    a.checked_div(b).map_or(0, |q| q + usize::from(a.checked_rem(b) != Some(0)))
}

/// One leaf: its extents are `arena[slot * stride ..][..len]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Leaf {
    /// File block of its first extent (leaves are never empty).
    first: u64,
    /// Its place in the arena.
    slot: u32,
    /// Number of extents.
    len: u32,
    /// Its tree block on disk (0: none yet; block 0 is the superblock).
    disk: u64,
    /// Changed since [`ExtentMap::encode`] last wrote it.
    dirty: bool,
    /// Its entry in the index (first key, disk block) changed since then.
    key_dirty: bool,
}

/// The shape of the index above the leaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Shape {
    /// Depth of the root (0: the extents fit in the root).
    depth: usize,
    /// Nodes per level: `nodes[0]` leaves, then index levels; the root's
    /// children are `nodes[depth - 1]`.
    nodes: [usize; LEVELS],
}

impl Shape {
    /// Index nodes (tree blocks above the leaves).
    fn index_blocks(&self) -> usize {
        self.nodes.iter().take(self.depth).skip(1).sum()
    }

    /// Offset in the index block list of the first node of `level` (>= 1):
    /// level 1 first, then level 2, ...
    fn offset(&self, level: usize) -> usize {
        self.nodes.iter().take(level).skip(1).sum()
    }
}

/// A file's extents in memory, as the leaves of its on-disk tree (see the
/// module documentation).
pub struct ExtentMap<A: Arrays> {
    /// Extents per leaf (the tree's node capacity; 0: not set yet).
    cap: usize,
    /// Leaf storage: slots of `cap + SLACK` extents.
    arena: A::Of<Extent>,
    /// Slots in use: `0..used_slots`.
    used_slots: usize,
    /// The leaves, in file block order.
    leaves: A::Of<Leaf>,
    /// Where edits spanning leaves are worked out.
    scratch: A::Of<Extent>,
    /// Disk blocks of the index nodes, level 1 first (see [`Shape::offset`]).
    index: A::Of<u64>,
    /// Tree blocks owned and not in use (a removed leaf's, say): used
    /// before new ones; what [`ExtentMap::encode`] leaves over goes back
    /// with [`ExtentMap::take_spare`].
    spare: A::Of<u64>,
    /// Number of extents.
    count: usize,
    /// Tree blocks owned: leaves' on disk, index nodes', spare ones (kept
    /// as they come and go, so that [`Self::tree_blocks`], asked on every
    /// write, does not walk the leaves).
    owned: usize,
    /// The first leaf added or removed since the index was written: the
    /// index nodes from there on are written again (their entries moved).
    /// `Some(0)` after a load (the on-disk index may be shaped
    /// differently). A leaf whose key or block changed in place has
    /// [`Leaf::key_dirty`] instead: only the nodes above it are written.
    index_from: Option<usize>,
    /// The shape the index was last written in.
    shape: Shape,
    /// Changed since the last [`ExtentMap::encode`].
    dirty: bool,
}

impl<A: Arrays> Default for ExtentMap<A> {
    fn default() -> Self {
        Self {
            cap: 0,
            arena: Default::default(),
            used_slots: 0,
            leaves: Default::default(),
            scratch: Default::default(),
            index: Default::default(),
            spare: Default::default(),
            count: 0,
            owned: 0,
            index_from: Some(0),
            shape: Shape::default(),
            dirty: false,
        }
    }
}

impl<A: Arrays> ExtentMap<A> {
    /// Sets the leaf capacity from the block size (once: later calls
    /// change nothing). Edits before it fail with `BadRange`.
    pub fn set_block_size(&mut self, block_size: u32) {
        if self.cap == 0 {
            self.cap = usize::from(tree::node_capacity(block_size));
        }
    }

    fn stride(&self) -> usize {
        self.cap + SLACK
    }

    /// Number of extents.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are no extents.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether the map changed since it was last encoded (or loaded).
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Bytes of memory the map holds (its arrays' lengths).
    pub fn footprint(&self) -> usize {
        use core::mem::size_of_val;
        size_of_val(self.arena.items())
            + size_of_val(self.scratch.items())
            + size_of_val(self.leaves.items())
            + size_of_val(self.index.items())
            + size_of_val(self.spare.items())
    }

    /// Number of leaves (for tests and statistics).
    pub fn leaf_count(&self) -> usize {
        self.leaves.items().len()
    }

    fn leaf_slice(&self, l: &Leaf) -> &[Extent] {
        let start = (l.slot as usize).saturating_mul(self.stride());
        self.arena.items().get(start..start.saturating_add(l.len as usize)).unwrap_or(&[])
    }

    /// The storage of `slot`: a full stride, except for the only leaf of
    /// a small file, whose slot grows with it (see [`Self::reserve`]).
    fn slot_mut(&mut self, slot: u32) -> &mut [Extent] {
        let stride = self.stride();
        let start = (slot as usize).saturating_mul(stride);
        let end = start.saturating_add(stride).min(self.arena.items().len());
        self.arena.items_mut().get_mut(start..end).unwrap_or(&mut [])
    }

    /// Every extent, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Extent> + '_ {
        self.leaves.items().iter().flat_map(move |l| self.leaf_slice(l).iter())
    }

    /// The extents that end after file block `fb`, in order.
    pub fn iter_from(&self, fb: u64) -> impl Iterator<Item = &Extent> + '_ {
        let leaves = self.leaves.items();
        let i = leaves.partition_point(|l| l.first <= fb).saturating_sub(1);
        let skip = leaves.get(i).map_or(0, |l| self.leaf_slice(l).partition_point(|e| e.end() <= fb));
        leaves.get(i..).unwrap_or(&[]).iter().flat_map(move |l| self.leaf_slice(l).iter()).skip(skip)
    }

    /// The first extent.
    pub fn first(&self) -> Option<Extent> {
        self.leaves.items().first().and_then(|l| self.leaf_slice(l).first().copied())
    }

    /// The last extent.
    pub fn last(&self) -> Option<Extent> {
        self.leaves.items().last().and_then(|l| self.leaf_slice(l).last().copied())
    }

    /// Looks up file block `fb` (as [`super::extent::lookup`] does in a
    /// flat list).
    pub fn lookup(&self, fb: u64) -> Mapping {
        let leaves = self.leaves.items();
        let i = leaves.partition_point(|l| l.first <= fb).saturating_sub(1);
        let Some(l) = leaves.get(i) else {
            return Mapping::Hole { len: MAX_FILE_BLOCKS.saturating_sub(fb), goal: None };
        };
        match lookup_in(self.leaf_slice(l), fb) {
            Mapping::Hole { len, goal } => {
                let until = fb.saturating_add(len);
                let len = match leaves.get(i + 1) {
                    Some(next) if next.first < until => next.first.saturating_sub(fb),
                    _ => len,
                };
                Mapping::Hole { len, goal }
            }
            m => m,
        }
    }

    /// Maps `ext` (see [`ExtentList::insert`]).
    pub fn insert(&mut self, ext: Extent, displaced: impl FnMut(DiskRange)) -> Result<(), MapError> {
        if !ext.is_valid() {
            return Err(ExtentError::BadRange.into());
        }
        if self.extend(&ext) {
            return Ok(());
        }
        self.apply(ext.file_block, ext.end(), |l| l.insert(ext, displaced))
    }

    /// The most common insert, done in place: `ext` continues the extent
    /// before it (file and disk blocks, state) into a hole that reaches at
    /// least to its end, and does not merge with the extent after it (an
    /// append, a sequential write or write fault). Nothing is displaced,
    /// no extent or leaf added, no key moved. Whether it applied; when
    /// not, [`Self::apply`] does the general edit, which gives the same
    /// result.
    fn extend(&mut self, ext: &Extent) -> bool {
        if self.cap < SLACK + 1 {
            return false;
        }
        let Some(before) = ext.file_block.checked_sub(1) else { return false };
        let end = ext.end();
        let leaves = self.leaves.items();
        let Some(i) = leaves.partition_point(|l| l.first <= before).checked_sub(1) else { return false };
        // A next leaf from `end` on may hold an extent to merge with: the
        // general path.
        if leaves.get(i + 1).is_some_and(|n| n.first <= end) {
            return false;
        }
        let Some(leaf) = leaves.get(i).copied() else { return false };
        let s = self.leaf_slice(&leaf);
        let k = s.partition_point(|e| e.end() <= ext.file_block);
        let Some(at) = k.checked_sub(1) else { return false };
        if !s.get(at).is_some_and(|p| p.can_merge(ext)) {
            return false;
        }
        if s.get(k).is_some_and(|n| n.file_block < end || ext.can_merge(n)) {
            return false;
        }
        let slot = (leaf.slot as usize).saturating_mul(self.stride()).saturating_add(at);
        let Some(p) = self.arena.items_mut().get_mut(slot) else { return false };
        p.len += ext.len;
        if let Some(l) = self.leaves.items_mut().get_mut(i) {
            l.dirty = true;
        }
        self.dirty = true;
        true
    }

    /// Unmaps file blocks `start .. start + len` (see [`ExtentList::remove`]).
    pub fn remove(&mut self, start: u64, len: u64, freed: impl FnMut(DiskRange)) -> Result<(), MapError> {
        self.apply(start, start.saturating_add(len), |l| l.remove(start, len, freed))
    }

    /// Marks `start .. start + len` written (see [`ExtentList::mark_written`]).
    pub fn mark_written(&mut self, start: u64, len: u64) -> Result<(), MapError> {
        self.apply(start, start.saturating_add(len), |l| l.mark_written(start, len))
    }

    /// Collapse range (see [`ExtentList::shift_down`]): every extent after
    /// the range moves, O(n).
    pub fn shift_down(&mut self, start: u64, len: u64) -> Result<(), MapError> {
        self.apply(start, MAX_FILE_BLOCKS, |l| l.shift_down(start, len))
    }

    /// Insert range (see [`ExtentList::shift_up`]): every extent after
    /// `start` moves, O(n).
    pub fn shift_up(&mut self, start: u64, len: u64) -> Result<(), MapError> {
        self.apply(start, MAX_FILE_BLOCKS, |l| l.shift_up(start, len))
    }

    /// Takes a slot for a new leaf (the arena grows only when none is
    /// left; [`Self::reserve`] made sure one is there).
    fn take_slot(&mut self) -> Option<u32> {
        let need = match self.used_slots {
            0 => SLACK + 1,
            n => (n + 1).saturating_mul(self.stride()),
        };
        if need > self.arena.items().len() {
            return None;
        }
        let s = u32::try_from(self.used_slots).ok()?;
        self.used_slots += 1;
        Some(s)
    }

    /// Gives back the slot of a removed leaf: the last slot in use moves
    /// into it.
    fn release_slot(&mut self, slot: u32) {
        let Some(last) = self.used_slots.checked_sub(1) else { return };
        let last32 = u32::try_from(last).unwrap_or(u32::MAX);
        if slot != last32 {
            let stride = self.stride();
            let (src, dst) = (last * stride, slot as usize * stride);
            if src + stride <= self.arena.items().len() {
                self.arena.items_mut().copy_within(src..src + stride, dst);
            }
            if let Some(l) = self.leaves.items_mut().iter_mut().find(|l| l.slot == last32) {
                l.slot = slot;
            }
        }
        self.used_slots = last;
    }

    /// Takes the memory an edit of a window of `k` leaves may need: room
    /// for `len` extents plus [`SLACK`] in the leaf edited in place, one
    /// more leaf (slot and header) when the edit may split a leaf or add
    /// one (`grows`), and a spare entry for every leaf (removed ones keep
    /// their disk blocks there).
    ///
    /// Slots are `cap + SLACK` extents apart, but while a file has one
    /// leaf its slot (slot 0, at the start of the arena) is only as large
    /// as it needs: a file of a few extents costs a few hundred bytes, not
    /// a whole node's worth (6 KiB at 4 KiB blocks).
    fn reserve(&mut self, k: usize, len: usize, grows: bool) -> Result<(), NoMemory> {
        let stride = self.stride();
        let need = if grows {
            (self.used_slots + 1).saturating_mul(stride)
        } else if self.used_slots > 1 {
            self.used_slots.saturating_mul(stride)
        } else {
            // One small leaf (or none yet): double it, up to a full slot.
            (len + SLACK).max(2 * len).max(8).min(stride)
        };
        let have = self.arena.items().len();
        if need > have {
            // Full slots grow by a quarter at least: amortised O(1) per leaf.
            let n = if need > stride { have.saturating_add((self.used_slots / 4 + 1).saturating_mul(stride)).max(need) } else { need };
            self.arena.try_resize(n, Extent::default())?;
        }
        self.leaves.try_reserve(1)?;
        self.spare.try_reserve(k)?;
        Ok(())
    }

    /// Runs `op` on the leaves that hold file blocks `start .. end` and
    /// the extents on either side of that range.
    fn apply(
        &mut self,
        start: u64,
        end: u64,
        op: impl FnOnce(&mut ExtentList<'_>) -> Result<(), ExtentError>,
    ) -> Result<(), MapError> {
        if self.cap < SLACK + 1 {
            return Err(ExtentError::BadRange.into());
        }
        let nl = self.leaves.items().len();
        let (i0, i1) = if nl == 0 {
            (0, 0)
        } else {
            let leaves = self.leaves.items();
            let i0 = leaves.partition_point(|l| l.first < start).saturating_sub(1);
            let i1 = leaves.partition_point(|l| l.first <= end).saturating_sub(1).max(i0);
            (i0, i1)
        };
        let len = self.leaves.items().get(i0).map_or(0, |l| l.len as usize);
        // In place, a leaf can split only if the edit may take it past
        // capacity; a window of leaves may gain one.
        let grows = nl != 0 && (i0 != i1 || len + SLACK > self.cap);
        self.reserve(i1 + 1 - i0, len, grows)?;
        if nl == 0 {
            // An empty map: one empty leaf to work in.
            let slot = self.take_slot().ok_or(NoMemory)?;
            let res = {
                let buf = self.slot_mut(slot);
                ExtentList::new_trusted(buf, 0).and_then(|mut l| op(&mut l).map(|()| l.len()))
            };
            let n = match res {
                Ok(n) => n,
                Err(e) => {
                    self.release_slot(slot);
                    return Err(e.into());
                }
            };
            if n == 0 {
                self.release_slot(slot);
                return Ok(());
            }
            let leaf = Leaf { first: 0, slot, len: 0, disk: 0, dirty: true, key_dirty: true };
            insert_at(&mut self.leaves, 0, leaf)?;
            self.index_from = Some(0);
            self.dirty = true;
            return self.finish_leaf(0, n);
        }
        if i0 == i1 {
            let Some(leaf) = self.leaves.items().get(i0).copied() else {
                return Err(ExtentError::BadRange.into());
            };
            let n = {
                let buf = self.slot_mut(leaf.slot);
                let mut l = ExtentList::new_trusted(buf, leaf.len as usize)?;
                op(&mut l)?;
                l.len()
            };
            self.dirty = true;
            return self.finish_leaf(i0, n);
        }
        // The range spans leaves: work in the scratch array.
        let window = self.leaves.items().get(i0..=i1).unwrap_or(&[]);
        let total: usize = window.iter().map(|l| l.len as usize).sum();
        self.scratch.try_resize(total + SLACK, Extent::default())?;
        self.gather(i0, i1 + 1 - i0);
        let n = {
            let mut l = ExtentList::new_trusted(self.scratch.items_mut(), total)?;
            op(&mut l)?;
            l.len()
        };
        self.dirty = true;
        let k = i1 + 1 - i0;
        let lo = div_ceil(n, self.cap);
        let hi = div_ceil(n.saturating_mul(2), self.cap).max(lo);
        self.scatter(i0, k, n, k.clamp(lo, hi), false);
        Ok(())
    }

    /// After an edit of leaf `i` left `n` extents in its slot: records
    /// them, splitting a leaf past capacity, removing an empty one and
    /// merging a small one with a neighbour.
    fn finish_leaf(&mut self, i: usize, n: usize) -> Result<(), MapError> {
        let Some(leaf) = self.leaves.items().get(i).copied() else {
            return Err(ExtentError::BadRange.into());
        };
        let first = self.slot_mut(leaf.slot).first().map_or(0, |e| e.file_block);
        self.count = self.count - leaf.len as usize + n;
        if n == 0 {
            self.drop_leaf(i);
            return Ok(());
        }
        if let Some(l) = self.leaves.items_mut().get_mut(i) {
            l.len = u32::try_from(n).unwrap_or(0);
            l.dirty = true;
            if l.first != first {
                l.first = first;
                l.key_dirty = true;
            }
        }
        if n > self.cap {
            // Split in two halves; `reserve` made room for the new leaf.
            // The last leaf keeps a full node: a file written from start
            // to end fills its leaves (as the full encoder would).
            let slot = self.take_slot().ok_or(NoMemory)?;
            let keep = if i + 1 == self.leaves.items().len() { self.cap } else { n / 2 };
            let stride = self.stride();
            let (src, dst) = (leaf.slot as usize * stride + keep, slot as usize * stride);
            self.arena.items_mut().copy_within(src..src + (n - keep), dst);
            let first = self.slot_mut(slot).first().map_or(0, |e| e.file_block);
            let new = Leaf { first, slot, len: u32::try_from(n - keep).unwrap_or(0), disk: 0, dirty: true, key_dirty: true };
            insert_at(&mut self.leaves, i + 1, new)?;
            if let Some(l) = self.leaves.items_mut().get_mut(i) {
                l.len = u32::try_from(keep).unwrap_or(0);
            }
            self.index_from = Some(self.index_from.map_or(i, |p| p.min(i)));
        } else if n < self.cap / 4 && self.leaves.items().len() > 1 {
            // Merge with a neighbour it fits in with (a leaf next to a
            // fuller one stays: sharing would rewrite both for nothing).
            let j = if i + 1 < self.leaves.items().len() { i } else { i - 1 };
            let pair: usize = self.leaves.items().get(j..j + 2).map_or(0, |p| p.iter().map(|l| l.len as usize).sum());
            if pair <= self.cap && self.scratch.try_resize(pair, Extent::default()).is_ok() {
                self.gather(j, 2);
                self.scatter(j, 2, pair, 1, false);
            }
        }
        Ok(())
    }

    /// Copies the extents of leaves `i .. i + k` into the scratch array
    /// (sized for them already).
    fn gather(&mut self, i: usize, k: usize) {
        let stride = self.stride();
        let mut at = 0usize;
        for j in i..i + k {
            let Some(l) = self.leaves.items().get(j).copied() else { break };
            let start = l.slot as usize * stride;
            let n = l.len as usize;
            if let (Some(s), Some(d)) =
                (self.arena.items().get(start..start + n), self.scratch.items_mut().get_mut(at..at + n))
            {
                copy_extents(d, s);
            }
            at += n;
        }
    }

    /// Makes tree block `b`, owned, spare (room for it reserved by the
    /// caller: a failure would lose the block to the map, counted so).
    fn make_spare(&mut self, b: u64) {
        if self.spare.try_push(b).is_err() {
            self.owned = self.owned.saturating_sub(1);
        }
    }

    /// Removes leaf `i` (its disk block becomes spare).
    fn drop_leaf(&mut self, i: usize) {
        if let Some(l) = remove_at(&mut self.leaves, i) {
            if l.disk != 0 {
                // `reserve` made room.
                self.make_spare(l.disk);
            }
            self.release_slot(l.slot);
            self.index_from = Some(self.index_from.map_or(i, |p| p.min(i)));
        }
    }

    /// Replaces leaves `i .. i + k` with `kk` leaves holding the `n`
    /// extents in the scratch array, shared evenly (`packed`: full from
    /// the left). Existing leaves keep their slots and disk blocks; at
    /// most one is added (memory for it reserved).
    fn scatter(&mut self, i: usize, k: usize, n: usize, kk: usize, packed: bool) {
        let old: usize = self.leaves.items().get(i..i + k).map_or(0, |w| w.iter().map(|l| l.len as usize).sum());
        self.count = self.count - old + n;
        for _ in kk..k {
            self.drop_leaf(i + kk);
        }
        for j in k..kk {
            let Some(slot) = self.take_slot() else { break };
            let leaf = Leaf { first: 0, slot, len: 0, disk: 0, dirty: true, key_dirty: true };
            if insert_at(&mut self.leaves, i + j, leaf).is_err() {
                self.release_slot(slot);
                break;
            }
        }
        let kk = kk.min(self.leaves.items().len().saturating_sub(i));
        let stride = self.stride();
        for j in 0..kk {
            let (a, b) = match packed {
                true => (j * self.cap, ((j + 1) * self.cap).min(n)),
                false => (n * j / kk, n * (j + 1) / kk),
            };
            let Some(l) = self.leaves.items().get(i + j).copied() else { break };
            let dst = l.slot as usize * stride;
            if let (Some(s), Some(d)) =
                (self.scratch.items().get(a..b), self.arena.items_mut().get_mut(dst..dst + (b - a)))
            {
                copy_extents(d, s);
            }
            let first = self.scratch.items().get(a).map_or(0, |e| e.file_block);
            if let Some(l) = self.leaves.items_mut().get_mut(i + j) {
                l.len = u32::try_from(b - a).unwrap_or(0);
                l.key_dirty |= l.first != first;
                l.first = first;
                l.dirty = true;
            }
        }
        if kk != k {
            self.index_from = Some(self.index_from.map_or(i, |p| p.min(i)));
        }
    }

    /// Repacks every extent into full leaves (the layout [`tree::plan`]
    /// counts blocks for), all dirty. Used when the leaves as they are
    /// need more tree blocks than the file has and can get.
    pub fn repack(&mut self) -> Result<(), NoMemory> {
        let nl = self.leaves.items().len();
        if nl == 0 || self.cap == 0 {
            return Ok(());
        }
        self.spare.try_reserve(nl)?;
        self.scratch.try_resize(self.count, Extent::default())?;
        self.gather(0, nl);
        let n = self.count;
        // kk - 1 full leaves and the rest (kk <= nl: no leaf is added).
        self.scatter(0, nl, n, div_ceil(n, self.cap), true);
        self.index_from = Some(0);
        self.dirty = true;
        Ok(())
    }

    /// Appends a leaf read from disk: `extents` (sorted, after the ones
    /// appended before: the tree walk checked that) in tree block `disk`
    /// (`None`: the root). Loading leaves the map clean, with an index to
    /// be written anew at the first change.
    pub fn load_leaf(&mut self, disk: Option<u64>, extents: &[Extent]) -> Result<(), MapError> {
        if self.cap < SLACK + 1 || extents.len() > self.cap {
            return Err(ExtentError::BadRange.into());
        }
        if extents.is_empty() {
            return Ok(());
        }
        self.reserve(1, extents.len(), self.used_slots > 0)?;
        let slot = self.take_slot().ok_or(NoMemory)?;
        if let Some(d) = self.slot_mut(slot).get_mut(..extents.len()) {
            copy_extents(d, extents);
        }
        let first = extents.first().map_or(0, |e| e.file_block);
        let leaf = Leaf {
            first,
            slot,
            len: u32::try_from(extents.len()).unwrap_or(0),
            disk: disk.unwrap_or(0),
            dirty: false,
            key_dirty: false,
        };
        let at = self.leaves.items().len();
        insert_at(&mut self.leaves, at, leaf)?;
        self.count += extents.len();
        self.owned += usize::from(leaf.disk != 0);
        Ok(())
    }

    /// Records index node `disk` read from disk (reused when the index is
    /// written anew).
    pub fn load_index_block(&mut self, disk: u64) -> Result<(), NoMemory> {
        self.index.try_reserve(1)?;
        self.index.try_push(disk)?;
        self.owned += 1;
        Ok(())
    }

    /// Tree blocks the map owns: leaves', index nodes' and spare ones.
    /// Edits and [`Self::encode`] only move blocks among these; they come
    /// and go through loading, [`Self::add_spare`], [`Self::take_spare`]
    /// and [`Self::clear`].
    pub fn tree_blocks(&self) -> usize {
        self.owned
    }

    fn shape_now(&self) -> Result<Shape, TreeError> {
        let mut s = Shape::default();
        if self.count <= usize::from(ROOT_CAPACITY) {
            return Ok(s);
        }
        let root = usize::from(ROOT_CAPACITY);
        let mut n = self.leaves.items().len();
        s.nodes[0] = n;
        let mut level = 0;
        while n > root {
            level += 1;
            if level >= usize::from(MAX_DEPTH) || self.cap < 2 {
                return Err(TreeError::TooManyExtents);
            }
            n = div_ceil(n, self.cap);
            s.nodes[level] = n;
        }
        s.depth = level + 1;
        Ok(s)
    }

    /// Tree blocks [`Self::encode`] needs for the leaves as they are.
    pub fn blocks_needed(&self) -> Result<usize, TreeError> {
        let s = self.shape_now()?;
        Ok(if s.depth == 0 { 0 } else { s.nodes[0] + s.index_blocks() })
    }

    /// Gives the map a tree block to use (a new one from the allocator).
    pub fn add_spare(&mut self, disk: u64) -> Result<(), NoMemory> {
        self.spare.try_reserve(1)?;
        self.spare.try_push(disk)?;
        self.owned += 1;
        Ok(())
    }

    /// Takes back a tree block the map does not use (to be freed once the
    /// tree that no longer points at it is written).
    pub fn take_spare(&mut self) -> Option<u64> {
        let b = pop(&mut self.spare)?;
        self.owned = self.owned.saturating_sub(1);
        Some(b)
    }

    /// Empties the map, passing every tree block it owned to `free` (the
    /// extents' blocks are the caller's to free, through [`Self::iter`],
    /// before).
    pub fn clear(&mut self, mut free: impl FnMut(u64)) {
        for l in self.leaves.items().iter().filter(|l| l.disk != 0) {
            free(l.disk);
        }
        for &b in self.index.items().iter().chain(self.spare.items()) {
            free(b);
        }
        self.leaves.shorten(0);
        self.index.shorten(0);
        self.spare.shorten(0);
        self.arena.shorten(0);
        self.scratch.shorten(0);
        self.used_slots = 0;
        self.count = 0;
        self.owned = 0;
        self.index_from = Some(0);
        self.shape = Shape::default();
        self.dirty = true;
    }

    /// Writes the tree of inode `ctx.ino`: the root into `root` (the
    /// inode's data area) and, through `write(disk_block, bytes)`, every
    /// tree block that changed since the last call (assembled in
    /// `scratch`, one block long). The map must own at least
    /// [`Self::blocks_needed`] tree blocks ([`Self::add_spare`]); what it
    /// does not use stays spare. With nine extents or fewer the root holds
    /// them and every tree block becomes spare.
    pub fn encode<E: From<NoMemory>>(
        &mut self,
        ctx: &TreeCtx<'_>,
        root: &mut [u8],
        scratch: &mut [u8],
        mut write: impl FnMut(u64, &[u8]) -> Result<(), E>,
    ) -> Result<(), WalkError<E>> {
        let bad = |e| WalkError::Corrupt { block: None, error: e };
        let root = root.get_mut(..INODE_DATA_SIZE).ok_or(bad(TreeError::TooShort))?;
        let bs = ctx.geo.block_size() as usize;
        let buf = scratch.get_mut(..bs).ok_or(bad(TreeError::ScratchTooSmall(bs)))?;
        let shape = self.shape_now().map_err(bad)?;
        let need = if shape.depth == 0 { 0 } else { shape.nodes[0] + shape.index_blocks() };
        if self.tree_blocks() < need {
            return Err(bad(TreeError::WrongBlockCount(need)));
        }
        let nomem = |_| WalkError::Io(E::from(NoMemory));
        let nl = self.leaves.items().len();
        self.spare.try_reserve(nl + self.index.items().len()).map_err(nomem)?;
        root.fill(0);
        if shape.depth == 0 {
            // Everything in the root; every tree block spare.
            let mut i = 0usize;
            for li in 0..nl {
                let Some(l) = self.leaves.items().get(li).copied() else { break };
                for e in self.leaf_slice(&l) {
                    tree::put_leaf_entry(root, i, e);
                    i += 1;
                }
                if l.disk != 0 {
                    self.make_spare(l.disk);
                }
                if let Some(l) = self.leaves.items_mut().get_mut(li) {
                    l.disk = 0;
                    l.dirty = false;
                }
            }
            while let Some(b) = pop(&mut self.index) {
                self.make_spare(b);
            }
            let h = NodeHeader { entries: u16::try_from(i).unwrap_or(0), max: ROOT_CAPACITY, depth: 0 };
            tree::put_header(root, h);
            self.index_from = Some(0);
            self.shape = shape;
            self.dirty = false;
            return Ok(());
        }
        // Leaves without a block take a spare one.
        for li in 0..nl {
            if self.leaves.items().get(li).is_some_and(|l| l.disk == 0) {
                let b = pop(&mut self.spare).ok_or(bad(TreeError::WrongBlockCount(need)))?;
                if let Some(l) = self.leaves.items_mut().get_mut(li) {
                    l.disk = b;
                    l.dirty = true;
                    l.key_dirty = true;
                }
            }
        }
        // Index nodes: as many blocks as the shape needs.
        let want = shape.index_blocks();
        if shape != self.shape || self.index.items().len() != want {
            self.index_from = Some(0);
        }
        while self.index.items().len() > want {
            if let Some(b) = pop(&mut self.index) {
                self.make_spare(b);
            }
        }
        self.index.try_reserve(want.saturating_sub(self.index.items().len())).map_err(nomem)?;
        while self.index.items().len() < want {
            let b = pop(&mut self.spare).ok_or(bad(TreeError::WrongBlockCount(need)))?;
            if self.index.try_push(b).is_err() {
                // Room was reserved above: never; if it were, the block
                // would be lost to the map, and counted so.
                self.owned = self.owned.saturating_sub(1);
            }
        }
        let max = tree::node_capacity(ctx.geo.block_size());
        // Dirty leaves.
        for li in 0..nl {
            let Some(l) = self.leaves.items().get(li).copied() else { break };
            if !l.dirty {
                continue;
            }
            buf.fill(0);
            for (i, e) in self.leaf_slice(&l).iter().enumerate() {
                tree::put_leaf_entry(buf, i, e);
            }
            let h = NodeHeader { entries: u16::try_from(l.len).unwrap_or(0), max, depth: 0 };
            tree::put_header(buf, h);
            tree::set_block_csum(ctx.seed, ctx.ino, l.disk, buf).map_err(|e| WalkError::Corrupt { block: Some(l.disk), error: e })?;
            write(l.disk, buf).map_err(WalkError::Io)?;
            if let Some(l) = self.leaves.items_mut().get_mut(li) {
                l.dirty = false;
            }
        }
        // Index nodes over a changed key, and all from the first leaf added
        // or removed on.
        let from = self.index_from.unwrap_or(usize::MAX);
        let mut span = 1usize;
        for level in 1..shape.depth {
            span = span.saturating_mul(self.cap);
            for g in 0..shape.nodes[level] {
                let (a, b) = (g.saturating_mul(span), (g + 1).saturating_mul(span).min(nl));
                let changed = g >= from / span || self.leaves.items().get(a..b).is_some_and(|w| w.iter().any(|l| l.key_dirty));
                if !changed {
                    continue;
                }
                {
                    buf.fill(0);
                    let (lo, hi) = (g * self.cap, ((g + 1) * self.cap).min(shape.nodes[level - 1]));
                    for (i, c) in (lo..hi).enumerate() {
                        let (key, child) = self.child(&shape, level - 1, c);
                        tree::put_index_entry(buf, i, key, child);
                    }
                    let h = NodeHeader { entries: u16::try_from(hi - lo).unwrap_or(0), max, depth: level as u16 };
                    tree::put_header(buf, h);
                    let disk = self.index.items().get(shape.offset(level) + g).copied().unwrap_or(0);
                    tree::set_block_csum(ctx.seed, ctx.ino, disk, buf).map_err(|e| WalkError::Corrupt { block: Some(disk), error: e })?;
                    write(disk, buf).map_err(WalkError::Io)?;
                }
            }
        }
        for l in self.leaves.items_mut() {
            l.key_dirty = false;
        }
        // The root over the top level.
        let top = shape.depth - 1;
        for c in 0..shape.nodes[top] {
            let (key, child) = self.child(&shape, top, c);
            tree::put_index_entry(root, c, key, child);
        }
        let h = NodeHeader { entries: u16::try_from(shape.nodes[top]).unwrap_or(0), max: ROOT_CAPACITY, depth: shape.depth as u16 };
        tree::put_header(root, h);
        self.index_from = None;
        self.shape = shape;
        self.dirty = false;
        Ok(())
    }

    /// Key and disk block of node `c` at `level` (0: a leaf).
    fn child(&self, shape: &Shape, level: usize, c: usize) -> (u64, u64) {
        let mut span = 1usize;
        for _ in 0..level {
            span = span.saturating_mul(self.cap);
        }
        let key = self.leaves.items().get(c.saturating_mul(span)).map_or(0, |l| l.first);
        let disk = if level == 0 {
            self.leaves.items().get(c).map_or(0, |l| l.disk)
        } else {
            self.index.items().get(shape.offset(level) + c).copied().unwrap_or(0)
        };
        (key, disk)
    }
}

