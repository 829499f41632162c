//! The on-disk extent tree.
//!
//! A file's extents live in a B+tree-like structure whose root node is the
//! inode's 156-byte data area. Every node is a 12-byte header followed by
//! 16-byte entries:
//!
//! ```text
//! header:      0 u16 magic "XT"   2 u16 entries   4 u16 max   6 u16 depth   8 u32 reserved (0)
//! leaf entry:  0 u32 file block   4 u32 length | 0x8000_0000 if unwritten   8 u64 disk block
//! index entry: 0 u32 first file block of the child   4 u32 reserved (0)   8 u64 child disk block
//! ```
//!
//! `depth` is 0 for a leaf and counts up towards the root. The root holds at
//! most [`ROOT_CAPACITY`] (9) entries; a tree block holds
//! `(block_size - 16) / 16` entries and ends with a 4-byte CRC32C of
//! `uuid ‖ le64(ino) ‖ le64(disk_block) ‖ bytes 0..block_size-4`.
//! Extents are sorted and non-overlapping across the whole tree; every
//! entry of a child lies in `[key, next key)` of its index entry. The
//! depth is at most [`MAX_DEPTH`].
//!
//! The [`walk`] decoder reads tree blocks through a caller callback into
//! caller scratch space (no allocation, no recursion). The [`encode`]
//! encoder packs a sorted extent list into a fresh tree, using tree blocks
//! whose disk numbers the caller allocated ([`plan`] says how many).

use super::crc32c::meta_csum;
use super::extent::{check_list, Extent, MAX_FILE_BLOCKS};
use super::inode::INODE_DATA_SIZE;
use super::layout::Geometry;
use super::le::*;

/// Node magic, the bytes `"XT"`.
pub const TREE_MAGIC: u16 = u16::from_le_bytes(*b"XT");
/// Size of a node header.
pub const NODE_HEADER_SIZE: usize = 12;
/// Size of a leaf or index entry.
pub const ENTRY_SIZE: usize = 16;
/// Checksum tail of a tree block.
pub const NODE_TAIL: usize = 4;
/// Entries in the root node (inside the inode).
pub const ROOT_CAPACITY: u16 = ((INODE_DATA_SIZE - NODE_HEADER_SIZE) / ENTRY_SIZE) as u16;
/// Maximum tree depth (root at depth `MAX_DEPTH`, leaves at 0).
pub const MAX_DEPTH: u16 = 5;
/// Unwritten flag in a leaf entry's length field.
pub const UNWRITTEN_FLAG: u32 = 0x8000_0000;

const LEVELS: usize = MAX_DEPTH as usize + 1;

/// Entries in a tree block of `block_size` bytes.
pub fn node_capacity(block_size: u32) -> u16 {
    let n = (block_size as usize).saturating_sub(NODE_HEADER_SIZE + NODE_TAIL) / ENTRY_SIZE;
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// Extent tree errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeError {
    /// A buffer is too small for the node.
    TooShort,
    /// Bad node magic (value found).
    BadMagic(u16),
    /// The `max` field is not the node's capacity.
    BadMax(u16),
    /// More entries than `max`.
    TooManyEntries(u16),
    /// A non-root node with no entries.
    EmptyNode,
    /// Depth too large, or not one less than the parent's.
    BadDepth(u16),
    /// Index keys not increasing or outside the parent's key range.
    KeyOrder,
    /// An extent is empty, too long or past the maximum file block.
    BadExtent,
    /// Extents overlap or are out of order.
    ExtentOrder,
    /// A child block or extent lies outside the data area.
    OutOfRange,
    /// Tree block checksum mismatch.
    BadChecksum {
        /// Stored value.
        stored: u32,
        /// Computed value.
        computed: u32,
    },
    /// The scratch buffer is too small (bytes needed).
    ScratchTooSmall(usize),
    /// Too many extents for a tree of [`MAX_DEPTH`].
    TooManyExtents,
    /// The number of tree blocks passed is not the planned number (needed).
    WrongBlockCount(usize),
}

impl core::fmt::Display for TreeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooShort => write!(f, "node buffer too short"),
            Self::BadMagic(m) => write!(f, "bad node magic {:#06x}", m),
            Self::BadMax(m) => write!(f, "bad node capacity {}", m),
            Self::TooManyEntries(n) => write!(f, "{} entries exceed the capacity", n),
            Self::EmptyNode => write!(f, "empty node"),
            Self::BadDepth(d) => write!(f, "bad depth {}", d),
            Self::KeyOrder => write!(f, "index keys out of order"),
            Self::BadExtent => write!(f, "invalid extent"),
            Self::ExtentOrder => write!(f, "extents overlap or are out of order"),
            Self::OutOfRange => write!(f, "block outside the data area"),
            Self::BadChecksum { stored, computed } => {
                write!(
                    f,
                    "bad checksum (stored {:#010x}, computed {:#010x})",
                    stored, computed
                )
            }
            Self::ScratchTooSmall(n) => write!(f, "scratch buffer needs {} bytes", n),
            Self::TooManyExtents => write!(f, "too many extents"),
            Self::WrongBlockCount(n) => write!(f, "tree needs {} blocks", n),
        }
    }
}

/// A decoded node header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeHeader {
    /// Number of entries in use.
    pub entries: u16,
    /// Capacity.
    pub max: u16,
    /// Depth (0 = leaf).
    pub depth: u16,
}

/// An index entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// First file block the child covers.
    pub file_block: u64,
    /// Disk block of the child node.
    pub child: u64,
}

/// Which kind of node a buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// The root, in the inode data area.
    Root,
    /// A tree block of the given block size.
    Block(u32),
}

impl NodeKind {
    fn capacity(self) -> u16 {
        match self {
            Self::Root => ROOT_CAPACITY,
            Self::Block(bs) => node_capacity(bs),
        }
    }
}

/// Decodes a node header (magic checked, nothing else).
pub fn decode_header(node: &[u8]) -> Result<NodeHeader, TreeError> {
    let magic = get_u16(node, 0).ok_or(TreeError::TooShort)?;
    if magic != TREE_MAGIC {
        return Err(TreeError::BadMagic(magic));
    }
    Ok(NodeHeader {
        entries: get_u16(node, 2).ok_or(TreeError::TooShort)?,
        max: get_u16(node, 4).ok_or(TreeError::TooShort)?,
        depth: get_u16(node, 6).ok_or(TreeError::TooShort)?,
    })
}

/// Decodes and checks a node header: magic, `max` equal to the capacity of
/// `kind`, entries within `max` (and non-zero for tree blocks), depth at
/// most [`MAX_DEPTH`] and equal to `expected_depth` if given.
pub fn check_header(
    node: &[u8],
    kind: NodeKind,
    expected_depth: Option<u16>,
) -> Result<NodeHeader, TreeError> {
    let h = decode_header(node)?;
    let cap = kind.capacity();
    if h.max != cap {
        return Err(TreeError::BadMax(h.max));
    }
    if h.entries > h.max {
        return Err(TreeError::TooManyEntries(h.entries));
    }
    if h.depth > MAX_DEPTH || expected_depth.is_some_and(|d| d != h.depth) {
        return Err(TreeError::BadDepth(h.depth));
    }
    if h.entries == 0 && matches!(kind, NodeKind::Block(_)) {
        return Err(TreeError::EmptyNode);
    }
    let need = NODE_HEADER_SIZE + usize::from(h.max) * ENTRY_SIZE;
    if node.len() < need {
        return Err(TreeError::TooShort);
    }
    Ok(h)
}

fn entry_off(i: usize) -> Option<usize> {
    i.checked_mul(ENTRY_SIZE)?.checked_add(NODE_HEADER_SIZE)
}

/// Leaf entry `i` of `node` (not validated).
pub fn leaf_entry(node: &[u8], i: usize) -> Option<Extent> {
    let o = entry_off(i)?;
    let fb = get_u32(node, o)?;
    let len = get_u32(node, o.checked_add(4)?)?;
    let disk = get_u64(node, o.checked_add(8)?)?;
    Some(Extent {
        file_block: u64::from(fb),
        disk_block: disk,
        len: len & !UNWRITTEN_FLAG,
        unwritten: len & UNWRITTEN_FLAG != 0,
    })
}

/// Index entry `i` of `node` (not validated).
pub fn index_entry(node: &[u8], i: usize) -> Option<IndexEntry> {
    let o = entry_off(i)?;
    Some(IndexEntry {
        file_block: u64::from(get_u32(node, o)?),
        child: get_u64(node, o.checked_add(8)?)?,
    })
}

pub(crate) fn put_header(node: &mut [u8], h: NodeHeader) {
    put_u16(node, 0, TREE_MAGIC);
    put_u16(node, 2, h.entries);
    put_u16(node, 4, h.max);
    put_u16(node, 6, h.depth);
    put_u32(node, 8, 0);
}

pub(crate) fn put_leaf_entry(node: &mut [u8], i: usize, e: &Extent) -> bool {
    let Some(o) = entry_off(i) else { return false };
    let len = e.len | if e.unwritten { UNWRITTEN_FLAG } else { 0 };
    let fb = u32::try_from(e.file_block).unwrap_or(u32::MAX);
    put_u32(node, o, fb) && put_u32(node, o + 4, len) && put_u64(node, o + 8, e.disk_block)
}

pub(crate) fn put_index_entry(node: &mut [u8], i: usize, key: u64, child: u64) -> bool {
    let Some(o) = entry_off(i) else { return false };
    let key = u32::try_from(key).unwrap_or(u32::MAX);
    put_u32(node, o, key) && put_u32(node, o + 4, 0) && put_u64(node, o + 8, child)
}

/// Initialises an empty root (depth 0, no extents) in an inode data area.
pub fn init_root(root: &mut [u8]) -> Result<(), TreeError> {
    let r = root.get_mut(..INODE_DATA_SIZE).ok_or(TreeError::TooShort)?;
    r.fill(0);
    put_header(
        r,
        NodeHeader {
            entries: 0,
            max: ROOT_CAPACITY,
            depth: 0,
        },
    );
    Ok(())
}

/// Depth of the tree whose root is in `root` (validated header). The walk
/// needs `depth * block_size` bytes of scratch.
pub fn root_depth(root: &[u8]) -> Result<u16, TreeError> {
    Ok(check_header(root, NodeKind::Root, None)?.depth)
}

/// Checksum of tree block `block` of inode `ino` stored at `disk_block`.
pub fn block_csum(seed: u32, ino: u32, disk_block: u64, block: &[u8]) -> Result<u32, TreeError> {
    let n = block
        .len()
        .checked_sub(NODE_TAIL)
        .ok_or(TreeError::TooShort)?;
    let body = block.get(..n).ok_or(TreeError::TooShort)?;
    Ok(meta_csum(
        seed,
        Some(u64::from(ino)),
        Some(disk_block),
        body,
    ))
}

/// Verifies a tree block's checksum.
pub fn verify_block_csum(
    seed: u32,
    ino: u32,
    disk_block: u64,
    block: &[u8],
) -> Result<(), TreeError> {
    let computed = block_csum(seed, ino, disk_block, block)?;
    let n = block
        .len()
        .checked_sub(NODE_TAIL)
        .ok_or(TreeError::TooShort)?;
    let stored = get_u32(block, n).ok_or(TreeError::TooShort)?;
    if stored == computed {
        Ok(())
    } else {
        Err(TreeError::BadChecksum { stored, computed })
    }
}

/// Recomputes and stores a tree block's checksum.
pub fn set_block_csum(
    seed: u32,
    ino: u32,
    disk_block: u64,
    block: &mut [u8],
) -> Result<(), TreeError> {
    let c = block_csum(seed, ino, disk_block, block)?;
    let n = block
        .len()
        .checked_sub(NODE_TAIL)
        .ok_or(TreeError::TooShort)?;
    if put_u32(block, n, c) {
        Ok(())
    } else {
        Err(TreeError::TooShort)
    }
}

/// Whose tree: the filesystem geometry (block size and data area), the
/// inode number and the checksum seed.
#[derive(Clone, Copy, Debug)]
pub struct TreeCtx<'a> {
    /// Filesystem geometry.
    pub geo: &'a Geometry,
    /// Inode number of the file.
    pub ino: u32,
    /// Checksum seed ([`super::crc32c::fs_seed`]).
    pub seed: u32,
}

/// Something the walk found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeItem {
    /// A tree block (reported before the entries below it).
    Node {
        /// Its disk block.
        disk_block: u64,
        /// Its depth (0 = leaf).
        depth: u16,
        /// Whether its checksum verified (always true in strict mode).
        csum_ok: bool,
    },
    /// An extent, in increasing file-block order.
    Extent(Extent),
}

/// Errors of [`walk`] and [`encode`]: the caller's I/O error or a format
/// error with the tree block it was found in (`None`: the root).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalkError<E> {
    /// The read, visit or write callback failed.
    Io(E),
    /// The tree is invalid.
    Corrupt {
        /// Disk block of the bad node, `None` for the root.
        block: Option<u64>,
        /// What is wrong.
        error: TreeError,
    },
}

fn corrupt<E>(block: Option<u64>, error: TreeError) -> WalkError<E> {
    WalkError::Corrupt { block, error }
}

/// Per-level cursor of the walk.
#[derive(Clone, Copy, Default)]
struct Cursor {
    next: usize,
    count: usize,
    lo: u64,
    hi: u64,
    block: Option<u64>,
}

/// A leaf node being emitted by [`walk`].
struct Leaf<'b> {
    node: &'b [u8],
    n: usize,
    lo: u64,
    hi: u64,
    block: Option<u64>,
}

fn emit_leaf<E>(
    leaf: &Leaf<'_>,
    data: &super::layout::Region,
    prev_end: &mut u64,
    visit: &mut impl FnMut(TreeItem) -> Result<(), E>,
) -> Result<(), WalkError<E>> {
    for i in 0..leaf.n {
        let e = leaf_entry(leaf.node, i).ok_or(corrupt(leaf.block, TreeError::TooShort))?;
        if !e.is_valid() {
            return Err(corrupt(leaf.block, TreeError::BadExtent));
        }
        if e.file_block < *prev_end || e.file_block < leaf.lo || e.end() > leaf.hi {
            return Err(corrupt(leaf.block, TreeError::ExtentOrder));
        }
        if e.disk_block < data.start || e.disk_end() > data.end() {
            return Err(corrupt(leaf.block, TreeError::OutOfRange));
        }
        *prev_end = e.end();
        visit(TreeItem::Extent(e)).map_err(WalkError::Io)?;
    }
    Ok(())
}

/// Walks the extent tree of inode `ctx.ino` whose root is `root` (the inode
/// data area), reporting every tree block and every extent to `visit` in order.
///
/// Tree blocks are read with `read(disk_block, buf)` into `scratch`, which
/// must hold `depth * block_size` bytes (see [`root_depth`]). Checks
/// everything: headers, depths, key ordering, extents valid, sorted,
/// non-overlapping and inside the data area of `ctx.geo`, child blocks inside
/// the data area, and (if `strict`) block checksums; without `strict` a bad
/// checksum is reported through [`TreeItem::Node::csum_ok`] instead.
/// Stops at the first error. Uses no recursion.
pub fn walk<E>(
    ctx: &TreeCtx<'_>,
    root: &[u8],
    strict: bool,
    scratch: &mut [u8],
    mut read: impl FnMut(u64, &mut [u8]) -> Result<(), E>,
    mut visit: impl FnMut(TreeItem) -> Result<(), E>,
) -> Result<(), WalkError<E>> {
    let (geo, ino, seed) = (ctx.geo, ctx.ino, ctx.seed);
    let bs = geo.block_size() as usize;
    let data = geo.data();
    let h = check_header(root, NodeKind::Root, None).map_err(|e| corrupt(None, e))?;
    let depth = usize::from(h.depth);
    let needed = depth.saturating_mul(bs);
    if scratch.len() < needed {
        return Err(corrupt(None, TreeError::ScratchTooSmall(needed)));
    }
    let mut prev_end = 0u64;
    if depth == 0 {
        let leaf = Leaf {
            node: root,
            n: usize::from(h.entries),
            lo: 0,
            hi: MAX_FILE_BLOCKS,
            block: None,
        };
        return emit_leaf(&leaf, &data, &mut prev_end, &mut visit);
    }
    let mut cur = [Cursor::default(); LEVELS];
    if let Some(c) = cur.get_mut(depth) {
        *c = Cursor {
            next: 0,
            count: usize::from(h.entries),
            lo: 0,
            hi: MAX_FILE_BLOCKS,
            block: None,
        };
    }
    let mut level = depth;
    while let Some(c) = cur.get(level).copied() {
        if c.next >= c.count {
            if level >= depth {
                break;
            }
            level += 1;
            continue;
        }
        // Read the index entry at this level and the next key.
        let (entry, next_key) = {
            let node: &[u8] = if level == depth {
                root
            } else {
                scratch.get(bs * level..bs * (level + 1)).unwrap_or(&[])
            };
            let e = index_entry(node, c.next).ok_or(corrupt(c.block, TreeError::TooShort))?;
            let nk = if c.next + 1 < c.count {
                index_entry(node, c.next + 1)
                    .ok_or(corrupt(c.block, TreeError::TooShort))?
                    .file_block
            } else {
                c.hi
            };
            (e, nk)
        };
        if entry.file_block < c.lo || entry.file_block >= next_key || next_key > c.hi {
            return Err(corrupt(c.block, TreeError::KeyOrder));
        }
        if let Some(cm) = cur.get_mut(level) {
            cm.next += 1;
        }
        if !data.contains(entry.child) {
            return Err(corrupt(c.block, TreeError::OutOfRange));
        }
        let child_depth = level - 1;
        let buf = scratch
            .get_mut(bs * child_depth..bs * level)
            .ok_or(corrupt(None, TreeError::TooShort))?;
        read(entry.child, buf).map_err(WalkError::Io)?;
        let ch = check_header(
            buf,
            NodeKind::Block(geo.block_size()),
            u16::try_from(child_depth).ok(),
        )
        .map_err(|e| corrupt(Some(entry.child), e))?;
        let csum_ok = match verify_block_csum(seed, ino, entry.child, buf) {
            Ok(()) => true,
            Err(e) if strict => return Err(corrupt(Some(entry.child), e)),
            Err(_) => false,
        };
        visit(TreeItem::Node {
            disk_block: entry.child,
            depth: ch.depth,
            csum_ok,
        })
        .map_err(WalkError::Io)?;
        if child_depth == 0 {
            let leaf = Leaf {
                node: buf,
                n: usize::from(ch.entries),
                lo: entry.file_block,
                hi: next_key,
                block: Some(entry.child),
            };
            emit_leaf(&leaf, &data, &mut prev_end, &mut visit)?;
        } else {
            if let Some(cc) = cur.get_mut(child_depth) {
                *cc = Cursor {
                    next: 0,
                    count: usize::from(ch.entries),
                    lo: entry.file_block,
                    hi: next_key,
                    block: Some(entry.child),
                };
            }
            level = child_depth;
        }
    }
    Ok(())
}

/// The shape of the tree [`encode`] builds for a number of extents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreePlan {
    /// Depth of the root.
    pub depth: u16,
    /// Number of tree blocks (nodes other than the root).
    pub blocks: usize,
    /// Entries per tree block.
    pub node_capacity: usize,
    /// Number of nodes at each depth (index 0 = leaves; the root is not
    /// counted).
    pub nodes: [usize; LEVELS],
}

fn div_ceil(a: usize, b: usize) -> usize {
    a.checked_div(b)
        .map_or(0, |q| q + usize::from(a.checked_rem(b) != Some(0)))
}

/// How [`encode`] lays out `n_extents` extents for `block_size`: leaves are
/// filled completely from the left, then each index level, until the top
/// level fits in the root.
pub fn plan(n_extents: usize, block_size: u32) -> Result<TreePlan, TreeError> {
    let cap = usize::from(node_capacity(block_size));
    let root = usize::from(ROOT_CAPACITY);
    let mut p = TreePlan {
        depth: 0,
        blocks: 0,
        node_capacity: cap,
        nodes: [0; LEVELS],
    };
    if n_extents <= root {
        return Ok(p);
    }
    if cap < 2 {
        return Err(TreeError::TooShort);
    }
    let mut count = n_extents;
    for level in 0..usize::from(MAX_DEPTH) {
        count = div_ceil(count, cap);
        if let Some(slot) = p.nodes.get_mut(level) {
            *slot = count;
        }
        p.blocks = p.blocks.saturating_add(count);
        if count <= root {
            p.depth = u16::try_from(level + 1).unwrap_or(MAX_DEPTH);
            return Ok(p);
        }
    }
    Err(TreeError::TooManyExtents)
}

impl TreePlan {
    /// Index into the caller's block list of node `j` at depth `level`:
    /// blocks are numbered top-down, level by level, left to right (the
    /// root's children first, leaves last).
    pub fn block_index(&self, level: usize, j: usize) -> usize {
        let above: usize = (level + 1..usize::from(self.depth))
            .map(|l| self.nodes.get(l).copied().unwrap_or(0))
            .sum();
        above.saturating_add(j)
    }

    /// Number of extents one node at `level` covers when full.
    fn span(&self, level: usize) -> usize {
        let mut s = self.node_capacity;
        for _ in 0..level {
            s = s.saturating_mul(self.node_capacity);
        }
        s
    }
}

/// Encodes `extents` (sorted, valid: see [`check_list`]) as the extent
/// tree of inode `ctx.ino` (only the block size of `ctx.geo` is used).
///
/// `blocks` are the disk blocks for the tree blocks, exactly
/// `plan(extents.len(), block_size).blocks` of them, in the order of
/// [`TreePlan::block_index`]. The root is written into `root` (the inode's
/// data area, at least 156 bytes); each tree block is assembled in
/// `scratch` (at least `block_size` bytes) with its checksum and passed to
/// `write(disk_block, bytes)`.
pub fn encode<E>(
    ctx: &TreeCtx<'_>,
    extents: &[Extent],
    blocks: &[u64],
    root: &mut [u8],
    scratch: &mut [u8],
    mut write: impl FnMut(u64, &[u8]) -> Result<(), E>,
) -> Result<(), WalkError<E>> {
    let (block_size, ino, seed) = (ctx.geo.block_size(), ctx.ino, ctx.seed);
    check_list(extents).map_err(|_| corrupt(None, TreeError::ExtentOrder))?;
    let p = plan(extents.len(), block_size).map_err(|e| corrupt(None, e))?;
    if blocks.len() != p.blocks {
        return Err(corrupt(None, TreeError::WrongBlockCount(p.blocks)));
    }
    let root = root
        .get_mut(..INODE_DATA_SIZE)
        .ok_or(corrupt(None, TreeError::TooShort))?;
    let bs = block_size as usize;
    let depth = usize::from(p.depth);
    let cap = p.node_capacity;
    let key_of = |level: usize, j: usize| -> u64 {
        let first = j.saturating_mul(p.span(level));
        extents.get(first).map_or(0, |e| e.file_block)
    };
    // Children of a node at `level` (>= 1) number `j`: nodes of `level - 1`.
    let child_range = |level: usize, j: usize| -> (usize, usize) {
        let total = p.nodes.get(level - 1).copied().unwrap_or(0);
        let lo = j.saturating_mul(cap).min(total);
        (lo, lo.saturating_add(cap).min(total))
    };
    // Root.
    root.fill(0);
    if depth == 0 {
        let n =
            u16::try_from(extents.len()).map_err(|_| corrupt(None, TreeError::TooManyExtents))?;
        put_header(
            root,
            NodeHeader {
                entries: n,
                max: ROOT_CAPACITY,
                depth: 0,
            },
        );
        for (i, e) in extents.iter().enumerate() {
            put_leaf_entry(root, i, e);
        }
        return Ok(());
    }
    let top = p.nodes.get(depth - 1).copied().unwrap_or(0);
    let n = u16::try_from(top).map_err(|_| corrupt(None, TreeError::TooManyExtents))?;
    put_header(
        root,
        NodeHeader {
            entries: n,
            max: ROOT_CAPACITY,
            depth: p.depth,
        },
    );
    for j in 0..top {
        let child = blocks
            .get(p.block_index(depth - 1, j))
            .copied()
            .unwrap_or(0);
        put_index_entry(root, j, key_of(depth - 1, j), child);
    }
    // Tree blocks.
    let buf = scratch
        .get_mut(..bs)
        .ok_or(corrupt(None, TreeError::ScratchTooSmall(bs)))?;
    let max = node_capacity(block_size);
    for level in (0..depth).rev() {
        let count = p.nodes.get(level).copied().unwrap_or(0);
        for j in 0..count {
            buf.fill(0);
            let disk = blocks.get(p.block_index(level, j)).copied().unwrap_or(0);
            let entries = if level == 0 {
                let lo = j.saturating_mul(cap).min(extents.len());
                let hi = lo.saturating_add(cap).min(extents.len());
                for (i, e) in extents.get(lo..hi).unwrap_or(&[]).iter().enumerate() {
                    put_leaf_entry(buf, i, e);
                }
                hi - lo
            } else {
                let (lo, hi) = child_range(level, j);
                for (i, c) in (lo..hi).enumerate() {
                    let child = blocks
                        .get(p.block_index(level - 1, c))
                        .copied()
                        .unwrap_or(0);
                    put_index_entry(buf, i, key_of(level - 1, c), child);
                }
                hi - lo
            };
            let entries = u16::try_from(entries).unwrap_or(0);
            put_header(
                buf,
                NodeHeader {
                    entries,
                    max,
                    depth: u16::try_from(level).unwrap_or(0),
                },
            );
            set_block_csum(seed, ino, disk, buf).map_err(|e| corrupt(Some(disk), e))?;
            write(disk, buf).map_err(WalkError::Io)?;
        }
    }
    Ok(())
}
