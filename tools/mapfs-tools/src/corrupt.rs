//! Structure-aware image corruption, for testing: the checker and the
//! kernel module must cope with any image, and a flipped byte mostly
//! stops at a checksum test. The mutations here change one field of one
//! structure (superblock, backup superblock, inode, extent tree block,
//! directory block or bitmap block), often to an edge value or to a real but wrong block or
//! inode number, and then recompute that structure's checksum, so that
//! the change reaches the filesystem logic behind the checksum test.
//!
//! [`map`] finds the structures of an (undamaged) image, [`damage`] makes
//! one random change from a [`Rng`] seed (a seed always makes the same
//! changes), and the `set_*` functions make one chosen change. The
//! `structured_corruption` test runs fsck on such images; the
//! `mapfs-corrupt` program applies them to image files, for example to
//! mount them with the kernel module.
//!
//! Nothing here panics on a damaged image: what cannot be done is an
//! error.

use mapfs_format::xattr;
use mapfs_format::bitmap;
use mapfs_format::dir;
use mapfs_format::extent::Extent;
use mapfs_format::inode::Inode;
use mapfs_format::layout::INODE_SIZE;
use mapfs_format::super_block::{backup_sb_block, Superblock, SB_CSUM_OFFSET};
use mapfs_format::tree;

use crate::dev::MemDev;
use crate::fs::{map_block, Fs};

/// splitmix64: a small deterministic PRNG (the seed of a corruption run).
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (0 when `n` is 0, without drawing).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

/// Size of the superblock area the superblock functions work on.
const SB_AREA: usize = 1024;

/// Superblock fields (offset, width): every field of the format table,
/// reserved words included (52 is the orphan list head); the UUID and
/// label in 8-byte pieces.
pub const SB_FIELDS: &[(usize, usize)] = &[
    (0, 4),
    (4, 2),
    (6, 2),
    (8, 4),
    (12, 4),
    (16, 4),
    (20, 4),
    (24, 8),
    (32, 8),
    (40, 4),
    (44, 4),
    (48, 4),
    (52, 4),
    (56, 8),
    (64, 8),
    (72, 8),
    (80, 8),
    (88, 8),
    (96, 8),
    (104, 8),
    (112, 8),
    (120, 8),
    (128, 8),
    (160, 8),
    (168, 8),
    (176, 8),
    (184, 8),
    (192, 2),
    (194, 2),
    (196, 4),
    (200, 4),
];

/// The superblock fields a backup superblock must agree on with the
/// primary (the format's static fields: magic, version, inode size,
/// features, block size, block and inode counts, root inode, the regions,
/// data start, UUID, the label's first 8 bytes). The others (free counts,
/// orphan head, times, state) go stale in the backup by design.
pub const SB_STATIC_FIELDS: &[(usize, usize)] = &[
    (0, 4),
    (4, 2),
    (6, 2),
    (8, 4),
    (12, 4),
    (16, 4),
    (20, 4),
    (24, 8),
    (40, 4),
    (48, 4),
    (56, 8),
    (64, 8),
    (72, 8),
    (80, 8),
    (88, 8),
    (96, 8),
    (104, 8),
    (112, 8),
    (120, 8),
    (128, 8),
];

/// Inode fields before the data area (offset, width); 92 is the next
/// inode on the orphan list.
pub const INODE_FIELDS: &[(usize, usize)] = &[
    (0, 2),
    (2, 2),
    (4, 4),
    (8, 4),
    (12, 4),
    (16, 8),
    (24, 8),
    (32, 8),
    (40, 8),
    (48, 8),
    (56, 4),
    (60, 4),
    (64, 4),
    (68, 4),
    (72, 4),
    (76, 4),
    (80, 8),
    (88, 4),
    (92, 4),
];

/// Offset of the inode data area (extent tree root or inline target).
const DATA_OFF: usize = 96;

/// A tree node field (header or entry `k`), relative to the node start.
fn node_field(rng: &mut Rng, entries: usize, cap: usize) -> (usize, usize) {
    const HEADER: &[(usize, usize)] = &[(0, 2), (2, 2), (4, 2), (6, 2), (8, 4)];
    if rng.below(4) == 0 {
        return HEADER[rng.below(HEADER.len() as u64) as usize];
    }
    // Mostly entries in use, sometimes the first unused one.
    let k = rng.below((entries + 1).min(cap).max(1) as u64) as usize;
    let (o, w) = [(0, 4), (4, 4), (8, 8)][rng.below(3) as usize];
    (12 + 16 * k + o, w)
}

/// Where everything is in an undamaged image (see [`map`]).
#[derive(Clone, Debug)]
pub struct Map {
    /// Block size in bytes.
    pub bs: usize,
    /// Checksum seed.
    pub seed: u32,
    /// In-use inodes and the byte offset of each on the device.
    pub inodes: Vec<(u32, usize)>,
    /// (owner, disk block) of every extent tree block.
    pub tree_blocks: Vec<(u32, u64)>,
    /// (directory, disk block) of every directory block.
    pub dir_blocks: Vec<(u32, u64)>,
    /// Bitmap blocks (inode bitmap, then block bitmap).
    pub bitmap_blocks: Vec<u64>,
    /// Values worth writing into a field: geometry and real block and
    /// inode numbers, so a change lands on a plausible wrong value.
    pub near: Vec<u64>,
    /// The backup superblock's block, if the image has one.
    pub backup_sb: Option<u64>,
    /// Inodes with extended attributes: (inode, byte offset of its slot
    /// on the device, its xattr block or 0).
    pub xattrs: Vec<(u32, usize, u64)>,
}

/// Byte range of block `b` on a device of `size` bytes, if it fits.
fn block_range(size: usize, bs: usize, b: u64) -> Option<std::ops::Range<usize>> {
    let s = usize::try_from(b).ok()?.checked_mul(bs)?;
    let e = s.checked_add(bs)?;
    (e <= size).then_some(s..e)
}

/// Finds the structures of the filesystem on `dev` (returned with the
/// map). Fails if the superblock, an in-use inode or an extent tree does
/// not validate, or a structure lies past the end of the device.
pub fn map(dev: MemDev) -> Result<(MemDev, Map), String> {
    let size = dev.data.len();
    let mut fs = Fs::open(dev).map_err(|e| e.to_string())?;
    let sb = fs.sb;
    let mut m = Map {
        bs: fs.bs,
        seed: fs.seed,
        inodes: Vec::new(),
        tree_blocks: Vec::new(),
        dir_blocks: Vec::new(),
        bitmap_blocks: (sb.inode_bitmap.start..sb.inode_bitmap.end())
            .chain(sb.block_bitmap.start..sb.block_bitmap.end())
            .collect(),
        near: vec![
            sb.block_count,
            sb.data_start,
            u64::from(sb.inode_count),
            sb.inode_table.start,
            sb.inode_table.end(),
            sb.block_bitmap.start,
        ],
        backup_sb: backup_sb_block(&sb),
        xattrs: Vec::new(),
    };
    let bs = fs.bs;
    let check_block = |b: u64, what: &str| {
        block_range(size, bs, b)
            .map(|_| ())
            .ok_or_else(|| format!("{what} block {b} is past the end of the device"))
    };
    for &b in &m.bitmap_blocks {
        check_block(b, "bitmap")?;
    }
    for ino in 1..sb.inode_count {
        let raw = fs
            .read_inode_raw(ino)
            .map_err(|e| format!("inode {ino}: {e}"))?;
        if raw[..2] == [0, 0] {
            continue;
        }
        let inode = fs.read_inode(ino).map_err(|e| e.to_string())?;
        let (ext, tree) = fs.read_extents(ino, &inode).map_err(|e| e.to_string())?;
        let start = fs
            .geo
            .inode_location(ino)
            .and_then(|(blk, off)| block_range(size, bs, blk).map(|r| r.start + off))
            .ok_or_else(|| format!("inode {ino} is past the end of the device"))?;
        m.inodes.push((ino, start));
        m.near.push(u64::from(ino));
        if let Some(x) = fs.read_ext(ino).map_err(|e| format!("inode {ino}: {e}"))? {
            let x = x.map_err(|e| format!("inode {ino}: extended attributes: {e}"))?;
            if x.block != 0 {
                check_block(x.block, &format!("inode {ino} xattr"))?;
                m.near.push(x.block);
            }
            if x.block != 0 || !x.entries().is_empty() {
                m.xattrs.push((ino, start, x.block));
            }
        }
        for &b in &tree {
            check_block(b, &format!("inode {ino} tree"))?;
        }
        m.tree_blocks.extend(tree.iter().map(|&b| (ino, b)));
        m.near.extend(tree.iter().copied());
        m.near.extend(ext.iter().map(|e| e.disk_block));
        if inode.mode & 0o170000 == 0o040000 {
            for e in &ext {
                if e.len > 0 {
                    check_block(e.disk_end() - 1, &format!("directory {ino}"))?;
                }
                m.dir_blocks
                    .extend((e.disk_block..e.disk_end()).map(|b| (ino, b)));
            }
        }
    }
    Ok((fs.dev, m))
}

/// An edge value for a field of `width` bytes holding `old`.
fn edge_value(rng: &mut Rng, old: u64, width: usize, near: &[u64]) -> u64 {
    let max = if width >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * width)) - 1
    };
    let v = match rng.below(13) {
        0 => 0,
        1 => 1,
        2 => old.wrapping_add(1),
        3 => old.wrapping_sub(1),
        4 => max,
        5 => max >> 1,
        6 => old ^ (1 << rng.below(8 * width as u64)),
        7 => rng.next(),
        8 => old.wrapping_mul(2),
        9 => old / 2,
        10 | 11 => near
            .get(rng.below(near.len() as u64) as usize)
            .copied()
            .unwrap_or(0)
            .wrapping_add(rng.below(3))
            .wrapping_sub(1),
        _ => old - rng.below(old.saturating_add(1).max(1)).min(old),
    };
    v & max
}

/// The little-endian value of `width` (at most 8) bytes at `off`; the
/// caller checks the range.
fn get_le(buf: &[u8], off: usize, width: usize) -> u64 {
    let mut b = [0u8; 8];
    b[..width].copy_from_slice(&buf[off..off + width]);
    u64::from_le_bytes(b)
}

/// Stores the low `width` (at most 8) bytes of `v` at `off`; the caller
/// checks the range.
fn put_le(buf: &mut [u8], off: usize, width: usize, v: u64) {
    buf[off..off + width].copy_from_slice(&v.to_le_bytes()[..width]);
}

/// Sets one field of `buf` to an edge value; returns a description.
fn mutate_field(rng: &mut Rng, buf: &mut [u8], field: (usize, usize), near: &[u64]) -> String {
    let (off, width) = field;
    let old = get_le(buf, off, width);
    let new = edge_value(rng, old, width, near);
    put_le(buf, off, width, new);
    format!("offset {off} ({width} bytes): {old:#x} -> {new:#x}")
}

/// Block `b` of `dev`, or an error if it is past the end.
fn block_mut(dev: &mut MemDev, bs: usize, b: u64) -> Result<&mut [u8], String> {
    let r = block_range(dev.data.len(), bs, b)
        .ok_or_else(|| format!("block {b} is past the end of the device"))?;
    Ok(&mut dev.data[r])
}

/// The superblock area of `dev`.
fn sb_mut(dev: &mut MemDev) -> Result<&mut [u8], String> {
    dev.data
        .get_mut(..SB_AREA)
        .ok_or_else(|| "the image is smaller than a superblock".to_string())
}

/// Recomputes the superblock checksum.
fn sb_csum(sb: &mut [u8]) -> Result<(), String> {
    let (_, computed) = Superblock::checksums(sb).map_err(|e| format!("superblock: {e}"))?;
    sb[SB_CSUM_OFFSET..SB_CSUM_OFFSET + 4].copy_from_slice(&computed.to_le_bytes());
    Ok(())
}

/// Recomputes the checksum of inode `ino` (256 bytes in `raw`).
fn inode_csum(raw: &mut [u8], seed: u32, ino: u32) -> Result<(), String> {
    let (_, computed) =
        Inode::checksums(raw, seed, ino).map_err(|e| format!("inode {ino}: {e}"))?;
    raw[INODE_SIZE - 4..INODE_SIZE].copy_from_slice(&computed.to_le_bytes());
    Ok(())
}

/// Changes a superblock field (half the time a count or region field)
/// and recomputes the checksum.
pub fn damage_superblock(dev: &mut MemDev, rng: &mut Rng, m: &Map) -> Result<String, String> {
    // Half the time a count or region field: the geometry the checker
    // trusts once the superblock validates.
    let (lo, hi) = if rng.below(2) == 0 {
        (7, 19)
    } else {
        (0, SB_FIELDS.len())
    };
    let field = SB_FIELDS[lo + rng.below((hi - lo) as u64) as usize];
    let sb = sb_mut(dev)?;
    let what = mutate_field(rng, sb, field, &m.near);
    // Validation requires the free counts to be below the totals; keep
    // them so, unless they are the field changed, so that a smaller block
    // or inode count reaches the checker instead of being refused.
    if field.0 != 32 && field.0 != 44 {
        let blocks = get_le(sb, 24, 8);
        let inodes = get_le(sb, 40, 4);
        put_le(sb, 32, 8, get_le(sb, 32, 8).min(blocks));
        put_le(sb, 44, 4, get_le(sb, 44, 4).min(inodes.saturating_sub(1)));
    }
    sb_csum(sb)?;
    Ok(format!("superblock {what}"))
}

/// Changes a static field of the backup superblock (the last block, with
/// `COMPAT_BACKUP_SB`) and recomputes its checksum. The kernel never reads
/// the backup; fsck must notice that it no longer matches the primary
/// before it trusts it to restore a damaged primary.
pub fn damage_backup_sb(dev: &mut MemDev, rng: &mut Rng, m: &Map) -> Result<String, String> {
    let b = m.backup_sb.ok_or("the image has no backup superblock")?;
    let field = SB_STATIC_FIELDS[rng.below(SB_STATIC_FIELDS.len() as u64) as usize];
    let block = block_mut(dev, m.bs, b)?;
    let sb = block
        .get_mut(..SB_AREA)
        .ok_or("the block is smaller than a superblock")?;
    let what = mutate_field(rng, sb, field, &m.near);
    sb_csum(sb)?;
    Ok(format!("backup superblock (block {b}) {what}"))
}

/// Changes a field of an in-use inode (half the time in its extent tree
/// root) and recomputes the checksum.
pub fn damage_inode(dev: &mut MemDev, rng: &mut Rng, m: &Map) -> Result<String, String> {
    let &(ino, start) = m
        .inodes
        .get(rng.below(m.inodes.len() as u64) as usize)
        .ok_or("no inode to damage")?;
    let raw = start
        .checked_add(INODE_SIZE)
        .and_then(|end| dev.data.get_mut(start..end))
        .ok_or_else(|| format!("inode {ino} is past the end of the device"))?;
    let field = if rng.below(2) == 0 {
        INODE_FIELDS[rng.below(INODE_FIELDS.len() as u64) as usize]
    } else {
        let entries = usize::from(u16::from_le_bytes([raw[DATA_OFF + 2], raw[DATA_OFF + 3]]));
        let (o, w) = node_field(rng, entries, usize::from(tree::ROOT_CAPACITY));
        (DATA_OFF + o, w)
    };
    let what = mutate_field(rng, raw, field, &m.near);
    inode_csum(raw, m.seed, ino)?;
    Ok(format!("inode {ino} {what}"))
}

/// Changes a field of an extent tree block and recomputes its checksum.
pub fn damage_tree_block(dev: &mut MemDev, rng: &mut Rng, m: &Map) -> Result<String, String> {
    let &(ino, b) = m
        .tree_blocks
        .get(rng.below(m.tree_blocks.len() as u64) as usize)
        .ok_or("no tree block to damage")?;
    let node = block_mut(dev, m.bs, b)?;
    let entries = usize::from(u16::from_le_bytes([node[2], node[3]]));
    let cap = usize::from(tree::node_capacity(m.bs as u32));
    let field = node_field(rng, entries, cap);
    let what = mutate_field(rng, node, field, &m.near);
    tree::set_block_csum(m.seed, ino, b, node)
        .map_err(|e| format!("inode {ino} tree block {b}: {e}"))?;
    Ok(format!("inode {ino} tree block {b} {what}"))
}

/// Every record of a directory block, unused ones and the tail included.
fn record_offsets(buf: &[u8]) -> Vec<(usize, usize)> {
    let mut v: Vec<(usize, usize)> = dir::records(buf)
        .filter_map(Result::ok)
        .map(|e| (e.offset, e.name.len()))
        .collect();
    v.push((buf.len() - dir::DIR_TAIL_SIZE, 0));
    v
}

/// Changes a record of a directory block (a header field, a name byte,
/// or the name of another entry: duplicates) and recomputes the block
/// checksum.
pub fn damage_dir_block(dev: &mut MemDev, rng: &mut Rng, m: &Map) -> Result<String, String> {
    let &(d, b) = m
        .dir_blocks
        .get(rng.below(m.dir_blocks.len() as u64) as usize)
        .ok_or("no directory block to damage")?;
    // Another live name of the same directory, for duplicate names.
    let other = {
        let &(_, b2) = m
            .dir_blocks
            .iter()
            .filter(|(x, _)| *x == d)
            .nth(rng.below(4) as usize)
            .unwrap_or(&(d, b));
        let blk = block_mut(dev, m.bs, b2)?.to_vec();
        let names: Vec<Vec<u8>> = dir::iter_from(&blk, 0)
            .filter_map(Result::ok)
            .map(|e| e.name.to_vec())
            .collect();
        names
            .get(rng.below(names.len() as u64) as usize)
            .cloned()
            .unwrap_or_default()
    };
    let buf = block_mut(dev, m.bs, b)?;
    if buf.len() < dir::DIR_TAIL_SIZE {
        return Err(format!("directory {d} block {b}: block too small"));
    }
    let recs = record_offsets(buf);
    let (r, name_len) = recs[rng.below(recs.len() as u64) as usize];
    let what = match rng.below(6) {
        // Give the record another entry's name (if it fits): duplicates.
        0 => {
            let rec_len = usize::from(u16::from_le_bytes([buf[r + 4], buf[r + 5]]));
            // (The tail's length is not checked by `records`: after an
            // earlier change it may claim more than the block holds.)
            if !other.is_empty()
                && dir::rec_len_for(other.len()) <= rec_len
                && r + 8 + other.len() <= buf.len()
            {
                buf[r + 6] = other.len() as u8;
                buf[r + 8..r + 8 + other.len()].copy_from_slice(&other);
            }
            format!("record {r} renamed '{}'", String::from_utf8_lossy(&other))
        }
        // A name byte: '/', NUL, '.', or anything.
        1 if name_len > 0 => {
            let i = r + 8 + rng.below(name_len as u64) as usize;
            buf[i] = [b'/', 0, b'.', rng.next() as u8][rng.below(4) as usize];
            format!("record {r} name byte {i}")
        }
        k => {
            let field = [(0, 4), (4, 2), (6, 1), (7, 1), (0, 4)][k as usize % 5];
            let f = (r + field.0, field.1);
            mutate_field(rng, buf, f, &m.near)
        }
    };
    dir::set_csum(buf, m.seed, d).map_err(|e| format!("directory {d} block {b}: {e}"))?;
    Ok(format!("directory {d} block {b} {what}"))
}

/// Changes a bitmap block (a bit, a run of bytes, or a 64-bit word) and
/// recomputes its checksum.
pub fn damage_bitmap_block(dev: &mut MemDev, rng: &mut Rng, m: &Map) -> Result<String, String> {
    let &b = m
        .bitmap_blocks
        .get(rng.below(m.bitmap_blocks.len() as u64) as usize)
        .ok_or("no bitmap block to damage")?;
    let buf = block_mut(dev, m.bs, b)?;
    let n = m.bs.saturating_sub(4);
    if n < 8 {
        return Err(format!("bitmap block {b}: block too small"));
    }
    let what = match rng.below(3) {
        0 => {
            let bit = rng.below(8 * n as u64);
            buf[(bit / 8) as usize] ^= 1 << (bit % 8);
            format!("bit {bit} flipped")
        }
        1 => {
            let off = rng.below(n as u64) as usize;
            let len = (1 + rng.below(64) as usize).min(n - off);
            let v = [0u8, 0xFF][rng.below(2) as usize];
            buf[off..off + len].fill(v);
            format!("bytes {off}..{} set to {v:#x}", off + len)
        }
        _ => {
            let off = rng.below(n as u64 - 7) as usize & !7;
            mutate_field(rng, buf, (off, 8), &m.near)
        }
    };
    bitmap::set_block_csum(m.seed, b, buf).map_err(|e| format!("bitmap block {b}: {e}"))?;
    Ok(format!("bitmap block {b} {what}"))
}

/// A field of an entry of the attribute area `area` (namespace, name
/// length, value length, a name byte, or the byte after the last entry),
/// as (offset in `area`, width).
fn xattr_field(rng: &mut Rng, area: &[u8]) -> (usize, usize) {
    let starts: Vec<(usize, usize)> = xattr::entries(area)
        .filter_map(Result::ok)
        .map(|(at, e)| (at, e.name.len()))
        .collect();
    // The entries of an undamaged image are well formed.
    let end = xattr::check_area(area).unwrap_or(0);
    match starts.get(rng.below(starts.len() as u64 + 1) as usize) {
        Some(&(at, nlen)) => match rng.below(4) {
            0 => (at, 1),
            1 => (at + 1, 1),
            2 => (at + 2, 2),
            _ => (at + 4 + rng.below(nlen.max(1) as u64) as usize, 1),
        },
        None => (end.min(area.len().saturating_sub(1)), 1),
    }
}

/// Changes a field of an inode's extended attributes: in its extension
/// (the xattr block pointer or an entry) or in its xattr block (an
/// entry, or the owner), and recomputes that structure's checksum.
pub fn damage_xattr(dev: &mut MemDev, rng: &mut Rng, m: &Map) -> Result<String, String> {
    let &(ino, start, block) = m
        .xattrs
        .get(rng.below(m.xattrs.len() as u64) as usize)
        .ok_or("no extended attributes to damage")?;
    if block != 0 && rng.below(2) == 0 {
        let buf = block_mut(dev, m.bs, block)?;
        let end = buf.len() - 4;
        let field = if rng.below(5) == 0 {
            (4, 4)
        } else {
            let (o, w) = xattr_field(rng, &buf[xattr::BLOCK_AREA_OFFSET..end]);
            (xattr::BLOCK_AREA_OFFSET + o, w)
        };
        let what = mutate_field(rng, buf, field, &m.near);
        let c = mapfs_format::crc32c::meta_csum(m.seed, Some(u64::from(ino)), Some(block), &buf[..end]);
        buf[end..].copy_from_slice(&c.to_le_bytes());
        return Ok(format!("inode {ino} xattr block {block} {what}"));
    }
    let slot = start
        .checked_add(xattr::EXT_INODE_SIZE)
        .and_then(|end| dev.data.get_mut(start..end))
        .ok_or_else(|| format!("inode {ino} is past the end of the device"))?;
    let field = if rng.below(4) == 0 {
        (xattr::EXT_OFFSET + 8, 8)
    } else {
        let area = &slot[xattr::EXT_AREA_OFFSET..xattr::EXT_CSUM_OFFSET];
        let (o, w) = xattr_field(rng, area);
        (xattr::EXT_AREA_OFFSET + o, w)
    };
    let what = mutate_field(rng, slot, field, &m.near);
    let c = mapfs_format::crc32c::meta_csum(m.seed, Some(u64::from(ino)), None, &slot[xattr::EXT_OFFSET..xattr::EXT_CSUM_OFFSET]);
    slot[xattr::EXT_CSUM_OFFSET..].copy_from_slice(&c.to_le_bytes());
    Ok(format!("inode {ino} extension {what}"))
}

/// One random structured change to `dev` (whose structures `m` lists),
/// drawn from `rng`; returns a description of it. The same `Map` and
/// `Rng` state always make the same change.
pub fn damage(dev: &mut MemDev, rng: &mut Rng, m: &Map) -> Result<String, String> {
    match rng.below(7) {
        0 => damage_superblock(dev, rng, m),
        5 if m.backup_sb.is_some() => damage_backup_sb(dev, rng, m),
        6 if !m.xattrs.is_empty() => damage_xattr(dev, rng, m),
        1 => damage_inode(dev, rng, m),
        2 if !m.tree_blocks.is_empty() => damage_tree_block(dev, rng, m),
        3 => damage_dir_block(dev, rng, m),
        _ => damage_bitmap_block(dev, rng, m),
    }
}

/// Sets the field of `width` bytes at `off` in `buf` to `value`; returns
/// a description. Checks the width (1, 2, 4 or 8), the range and that the
/// value fits.
fn set_field(buf: &mut [u8], off: usize, width: usize, value: u64) -> Result<String, String> {
    check_field(buf.len(), off, width, value)?;
    let old = get_le(buf, off, width);
    put_le(buf, off, width, value);
    Ok(format!(
        "offset {off} ({width} bytes): {old:#x} -> {value:#x}"
    ))
}

/// Whether a field of `width` bytes at `off` holding `value` fits in a
/// structure of `len` bytes (`width` is 1, 2, 4 or 8).
pub fn check_field(len: usize, off: usize, width: usize, value: u64) -> Result<(), String> {
    if ![1, 2, 4, 8].contains(&width) {
        return Err(format!("width {width}: must be 1, 2, 4 or 8"));
    }
    if off.checked_add(width).is_none_or(|end| end > len) {
        return Err(format!(
            "offset {off} + width {width} is past the end of the structure ({len} bytes)"
        ));
    }
    if width < 8 && value >> (8 * width) != 0 {
        return Err(format!(
            "value {value:#x} does not fit in a {width}-byte field"
        ));
    }
    Ok(())
}

/// Whether `off..off + width` overlaps the checksum in the last 4 bytes
/// of a structure of `len` bytes: then the checksum is left as set.
fn hits_csum(len: usize, off: usize, width: usize) -> bool {
    off + width > len - 4
}

const CSUM_KEPT: &str = " (checksum field: not recomputed)";

/// Sets a field in the first 1024 bytes of the superblock and recomputes
/// the checksum (the free counts are not clamped: the result need not
/// validate). A field overlapping the checksum is written as given.
pub fn set_sb_field(
    dev: &mut MemDev,
    off: usize,
    width: usize,
    value: u64,
) -> Result<String, String> {
    let sb = sb_mut(dev)?;
    let what = set_field(sb, off, width, value)?;
    if hits_csum(SB_AREA, off, width) {
        return Ok(format!("superblock {what}{CSUM_KEPT}"));
    }
    sb_csum(sb)?;
    Ok(format!("superblock {what}"))
}

/// Sets a field of inode slot `ino` (in use or not) and recomputes the
/// inode checksum, or, for a field in bytes 256..512 of a 512-byte slot,
/// the extension's (see [`mapfs_format::xattr`]). A field overlapping the
/// checksum is written as given.
pub fn set_inode_field(
    dev: MemDev,
    ino: u32,
    off: usize,
    width: usize,
    value: u64,
) -> Result<(MemDev, String), String> {
    let size = dev.data.len();
    let mut fs = Fs::open(dev).map_err(|e| e.to_string())?;
    check_field(fs.geo.inode_bytes(), off, width, value)?;
    if off < INODE_SIZE && off + width > INODE_SIZE {
        return Err(format!("offset {off} + width {width} crosses the end of the base inode ({INODE_SIZE} bytes)"));
    }
    if off >= INODE_SIZE {
        let (b, o) = fs.geo.inode_location(ino).ok_or_else(|| format!("inode {ino} is out of range"))?;
        let slot = block_range(size, fs.bs, b)
            .and_then(|r| fs.dev.data.get_mut(r.start + o..r.start + o + fs.geo.inode_bytes()))
            .ok_or_else(|| format!("inode {ino} is past the end of the device"))?;
        let what = set_field(slot, off, width, value)?;
        if hits_csum(slot.len(), off, width) {
            return Ok((fs.dev, format!("inode {ino} extension {what}{CSUM_KEPT}")));
        }
        let c = mapfs_format::crc32c::meta_csum(fs.seed, Some(u64::from(ino)), None, &slot[INODE_SIZE..slot.len() - 4]);
        let n = slot.len();
        slot[n - 4..].copy_from_slice(&c.to_le_bytes());
        return Ok((fs.dev, format!("inode {ino} extension {what}")));
    }
    let start = fs.geo.inode_location(ino).ok_or_else(|| {
        format!(
            "inode {ino} is out of range (inode count {})",
            fs.sb.inode_count
        )
    })?;
    let raw = block_range(size, fs.bs, start.0)
        .and_then(|r| {
            fs.dev
                .data
                .get_mut(r.start + start.1..r.start + start.1 + INODE_SIZE)
        })
        .ok_or_else(|| format!("inode {ino} is past the end of the device"))?;
    let what = set_field(raw, off, width, value)?;
    if hits_csum(INODE_SIZE, off, width) {
        return Ok((fs.dev, format!("inode {ino} {what}{CSUM_KEPT}")));
    }
    inode_csum(raw, fs.seed, ino)?;
    Ok((fs.dev, format!("inode {ino} {what}")))
}

/// Sets a field in file block `fb` of directory `d` and recomputes the
/// block checksum. A field overlapping the checksum is written as given.
pub fn set_dir_field(
    dev: MemDev,
    d: u32,
    fb: u64,
    off: usize,
    width: usize,
    value: u64,
) -> Result<(MemDev, String), String> {
    let mut fs = Fs::open(dev).map_err(|e| e.to_string())?;
    let inode = fs.read_inode(d).map_err(|e| e.to_string())?;
    if inode.mode & 0o170000 != 0o040000 {
        return Err(format!("inode {d} is not a directory"));
    }
    let (ext, _) = fs.read_extents(d, &inode).map_err(|e| e.to_string())?;
    let b = map_block(&ext, fb).ok_or_else(|| format!("directory {d} has no block {fb}"))?;
    let (seed, bs) = (fs.seed, fs.bs);
    let buf = block_mut(&mut fs.dev, bs, b)?;
    let what = set_field(buf, off, width, value)?;
    let where_ = format!("directory {d} file block {fb} (block {b})");
    if hits_csum(bs, off, width) {
        return Ok((fs.dev, format!("{where_} {what}{CSUM_KEPT}")));
    }
    dir::set_csum(buf, seed, d).map_err(|e| format!("{where_}: {e}"))?;
    Ok((fs.dev, format!("{where_} {what}")))
}

/// Makes entry `name` of directory `d` name inode `ino` instead (its type
/// code kept), or removes it when `ino` is 0, and recomputes the block
/// checksum; the inodes themselves are not touched. This is the state a
/// crash leaves when a directory block reached the disk and the inode
/// slots of the same change did not.
pub fn set_entry(dev: MemDev, d: u32, name: &[u8], ino: u32) -> Result<(MemDev, String), String> {
    let mut fs = Fs::open(dev).map_err(|e| e.to_string())?;
    let inode = fs.read_inode(d).map_err(|e| e.to_string())?;
    if inode.mode & 0o170000 != 0o040000 {
        return Err(format!("inode {d} is not a directory"));
    }
    let (ext, _) = fs.read_extents(d, &inode).map_err(|e| e.to_string())?;
    let (seed, bs) = (fs.seed, fs.bs);
    let shown = String::from_utf8_lossy(name).into_owned();
    for fb in 0..inode.size / bs as u64 {
        let Some(b) = map_block(&ext, fb) else { continue };
        let buf = block_mut(&mut fs.dev, bs, b)?;
        let found = dir::find(buf, name).map_err(|e| format!("directory {d} block {fb}: {e}"))?;
        let Some(e) = found.map(|e| (e.offset, e.ino, e.file_type)) else { continue };
        let (offset, old, ft) = e;
        let r = if ino == 0 {
            dir::remove(buf, seed, d, offset)
        } else {
            dir::set_entry(buf, seed, d, offset, ino, ft)
        };
        r.map_err(|e| format!("directory {d} block {fb}: {e}"))?;
        let what = if ino == 0 { "removed".to_string() } else { format!("now names inode {ino}") };
        return Ok((fs.dev, format!("directory {d} entry '{shown}' (inode {old}) {what}")));
    }
    Err(format!("directory {d} has no entry '{shown}'"))
}

/// Sets (`value` true) or clears the bit of disk block `block` in the
/// block bitmap and recomputes that bitmap block's checksum.
pub fn set_block_bit(dev: MemDev, block: u64, value: bool) -> Result<(MemDev, String), String> {
    set_bit(dev, false, block, value)
}

/// Sets (`value` true) or clears the bit of inode `ino` in the inode
/// bitmap and recomputes that bitmap block's checksum (the slot is not
/// changed: a crash's half-written create or free).
pub fn set_inode_bit(dev: MemDev, ino: u32, value: bool) -> Result<(MemDev, String), String> {
    set_bit(dev, true, u64::from(ino), value)
}

fn set_bit(dev: MemDev, inode: bool, n: u64, value: bool) -> Result<(MemDev, String), String> {
    let mut fs = Fs::open(dev).map_err(|e| e.to_string())?;
    let (what, count, region) = if inode {
        ("inode", u64::from(fs.sb.inode_count), fs.sb.inode_bitmap)
    } else {
        ("block", fs.sb.block_count, fs.sb.block_bitmap)
    };
    if n >= count {
        return Err(format!("{what} {n} is out of range ({what} count {count})"));
    }
    let (b, bit) = fs
        .geo
        .bitmap_location(&region, n)
        .ok_or_else(|| format!("{what} {n} is past the {what} bitmap"))?;
    let (seed, bs) = (fs.seed, fs.bs);
    let buf = block_mut(&mut fs.dev, bs, b)?;
    let bits = bitmap::block_bits_mut(buf).map_err(|e| format!("bitmap block {b}: {e}"))?;
    let old = bitmap::test_bit(bits, bit)
        .ok_or_else(|| format!("bitmap block {b}: bit {bit} out of range"))?;
    let r = if value {
        bitmap::set_bits(bits, bit, 1)
    } else {
        bitmap::clear_bits(bits, bit, 1)
    };
    r.map_err(|e| format!("bitmap block {b}: {e}"))?;
    bitmap::set_block_csum(seed, b, buf).map_err(|e| format!("bitmap block {b}: {e}"))?;
    Ok((
        fs.dev,
        format!(
            "{what} bitmap block {b} bit {bit} ({what} {n}): {} -> {}",
            u8::from(old),
            u8::from(value)
        ),
    ))
}

/// The extents and extent tree blocks of inode `ino`.
pub fn extents(dev: MemDev, ino: u32) -> Result<(MemDev, Vec<Extent>, Vec<u64>), String> {
    let mut fs = Fs::open(dev).map_err(|e| e.to_string())?;
    if fs.geo.inode_location(ino).is_none() {
        return Err(format!(
            "inode {ino} is out of range (inode count {})",
            fs.sb.inode_count
        ));
    }
    let inode = fs.read_inode(ino).map_err(|e| e.to_string())?;
    let (ext, tree) = fs.read_extents(ino, &inode).map_err(|e| e.to_string())?;
    Ok((fs.dev, ext, tree))
}

/// The xattr block of inode `ino` (0: none, or no xattr feature).
pub fn xattr_block(dev: MemDev, ino: u32) -> Result<(MemDev, u64), String> {
    let mut fs = Fs::open(dev).map_err(|e| e.to_string())?;
    let b = match fs.read_ext(ino).map_err(|e| e.to_string())? {
        Some(Ok(ext)) => ext.block,
        Some(Err(e)) => return Err(format!("inode {ino}: extended attributes: {e}")),
        None => 0,
    };
    Ok((fs.dev, b))
}
