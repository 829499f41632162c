//! Structure-aware corruption: each round changes one field of one
//! structure (superblock, inode, extent tree block, directory block or
//! bitmap block) to an edge value and recomputes that structure's
//! checksum, so the change reaches fsck's logic instead of stopping at the
//! checksum test. fsck must not panic, `-n` must change nothing and exit 0
//! or 4, and a repair must leave a clean filesystem unless it said what it
//! could not fix.
//!
//! Panics this found, fixed in fsck:
//! - `structured_corruption_1k` seeds 131 and 229 (and 451, 468, 725 with
//!   1000 rounds): a smaller block count in a superblock with a valid
//!   checksum leaves a block bitmap block wholly past the bitmap, and
//!   `Fs::read_bitmap` sliced past the in-memory bitmap ("range start
//!   index 1020 out of range for slice of length 299"); `encode_bitmap_block`
//!   had the same slice.
//!
//! 20 000 rounds per image with one to five changes each ran clean after
//! that fix (see [`rounds`] for longer runs).
//!
//! `structured_corruption_orphans` starts from an image a crash left with
//! files unlinked while open (an orphan list), so that the changes also
//! land on the list (its head, the entries' links and link counts); the
//! undamaged image already makes `-n` exit 4 (the orphans are reported).

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::*;
use mapfs_format::bitmap;
use mapfs_format::dir;
use mapfs_format::inode::Inode;
use mapfs_format::layout::INODE_SIZE;
use mapfs_format::super_block::{Superblock, SB_CSUM_OFFSET};
use mapfs_format::tree;
use mapfs_tools::dev::MemDev;
use mapfs_tools::mkfs::{mkfs, MkfsOptions};

/// Superblock fields (offset, width): every field of the format table,
/// reserved words included (52 is the orphan list head); the UUID and
/// label in 8-byte pieces.
const SB_FIELDS: &[(usize, usize)] = &[
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

/// Inode fields before the data area (offset, width); 92 is the next
/// inode on the orphan list.
const INODE_FIELDS: &[(usize, usize)] = &[
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

/// Where everything is in the undamaged image.
struct Map {
    bs: usize,
    seed: u32,
    /// In-use inodes and the byte offset of each on the device.
    inodes: Vec<(u32, usize)>,
    /// (owner, disk block) of every extent tree block.
    tree_blocks: Vec<(u32, u64)>,
    /// (directory, disk block) of every directory block.
    dir_blocks: Vec<(u32, u64)>,
    /// Bitmap blocks (inode bitmap, then block bitmap).
    bitmap_blocks: Vec<u64>,
    /// Values worth writing into a field: geometry and real block and
    /// inode numbers, so a change lands on a plausible wrong value.
    near: Vec<u64>,
}

fn map(dev: MemDev) -> (MemDev, Map) {
    let mut fs = open(dev);
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
    };
    for ino in 1..sb.inode_count {
        let raw = fs.read_inode_raw(ino).unwrap();
        if raw[..2] == [0, 0] {
            continue;
        }
        let inode = fs.read_inode(ino).unwrap();
        let (ext, tree) = fs.read_extents(ino, &inode).unwrap();
        let (blk, off) = fs.geo.inode_location(ino).unwrap();
        m.inodes.push((ino, blk as usize * fs.bs + off));
        m.near.push(u64::from(ino));
        m.tree_blocks.extend(tree.iter().map(|&b| (ino, b)));
        m.near.extend(tree.iter().copied());
        m.near.extend(ext.iter().map(|e| e.disk_block));
        if inode.mode & 0o170000 == 0o040000 {
            for e in &ext {
                m.dir_blocks
                    .extend((e.disk_block..e.disk_end()).map(|b| (ino, b)));
            }
        }
    }
    (fs.dev, m)
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
        10 | 11 => near[rng.below(near.len() as u64) as usize]
            .wrapping_add(rng.below(3))
            .wrapping_sub(1),
        _ => old - rng.below(old.saturating_add(1).max(1)).min(old),
    };
    v & max
}

fn get_le(buf: &[u8], off: usize, width: usize) -> u64 {
    let mut b = [0u8; 8];
    b[..width].copy_from_slice(&buf[off..off + width]);
    u64::from_le_bytes(b)
}

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

fn block_mut(dev: &mut MemDev, bs: usize, b: u64) -> &mut [u8] {
    let s = b as usize * bs;
    &mut dev.data[s..s + bs]
}

fn damage_superblock(dev: &mut MemDev, rng: &mut Rng, m: &Map) -> String {
    // Half the time a count or region field: the geometry the checker
    // trusts once the superblock validates.
    let (lo, hi) = if rng.below(2) == 0 {
        (7, 19)
    } else {
        (0, SB_FIELDS.len())
    };
    let field = SB_FIELDS[lo + rng.below((hi - lo) as u64) as usize];
    let sb = &mut dev.data[..1024];
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
    let (_, computed) = Superblock::checksums(sb).unwrap();
    sb[SB_CSUM_OFFSET..SB_CSUM_OFFSET + 4].copy_from_slice(&computed.to_le_bytes());
    format!("superblock {what}")
}

fn damage_inode(dev: &mut MemDev, rng: &mut Rng, m: &Map) -> String {
    let (ino, start) = m.inodes[rng.below(m.inodes.len() as u64) as usize];
    let raw = &mut dev.data[start..start + INODE_SIZE];
    let field = if rng.below(2) == 0 {
        INODE_FIELDS[rng.below(INODE_FIELDS.len() as u64) as usize]
    } else {
        let entries = usize::from(u16::from_le_bytes([raw[DATA_OFF + 2], raw[DATA_OFF + 3]]));
        let (o, w) = node_field(rng, entries, usize::from(tree::ROOT_CAPACITY));
        (DATA_OFF + o, w)
    };
    let what = mutate_field(rng, raw, field, &m.near);
    let (_, computed) = Inode::checksums(raw, m.seed, ino).unwrap();
    raw[INODE_SIZE - 4..].copy_from_slice(&computed.to_le_bytes());
    format!("inode {ino} {what}")
}

fn damage_tree_block(dev: &mut MemDev, rng: &mut Rng, m: &Map) -> String {
    let (ino, b) = m.tree_blocks[rng.below(m.tree_blocks.len() as u64) as usize];
    let node = block_mut(dev, m.bs, b);
    let entries = usize::from(u16::from_le_bytes([node[2], node[3]]));
    let cap = usize::from(tree::node_capacity(m.bs as u32));
    let field = node_field(rng, entries, cap);
    let what = mutate_field(rng, node, field, &m.near);
    tree::set_block_csum(m.seed, ino, b, node).unwrap();
    format!("inode {ino} tree block {b} {what}")
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

fn damage_dir_block(dev: &mut MemDev, rng: &mut Rng, m: &Map) -> String {
    let (d, b) = m.dir_blocks[rng.below(m.dir_blocks.len() as u64) as usize];
    // Another live name of the same directory, for duplicate names.
    let other = {
        let (d2, b2) = *m
            .dir_blocks
            .iter()
            .filter(|(x, _)| *x == d)
            .nth(rng.below(4) as usize)
            .unwrap_or(&(d, b));
        debug_assert_eq!(d2, d);
        let blk = block_mut(dev, m.bs, b2).to_vec();
        let names: Vec<Vec<u8>> = dir::iter_from(&blk, 0)
            .filter_map(Result::ok)
            .map(|e| e.name.to_vec())
            .collect();
        names
            .get(rng.below(names.len() as u64) as usize)
            .cloned()
            .unwrap_or_default()
    };
    let buf = block_mut(dev, m.bs, b);
    let recs = record_offsets(buf);
    let (r, name_len) = recs[rng.below(recs.len() as u64) as usize];
    let what = match rng.below(6) {
        // Give the record another entry's name (if it fits): duplicates.
        0 => {
            let rec_len = usize::from(u16::from_le_bytes([buf[r + 4], buf[r + 5]]));
            if !other.is_empty() && dir::rec_len_for(other.len()) <= rec_len {
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
    dir::set_csum(buf, m.seed, d).unwrap();
    format!("directory {d} block {b} {what}")
}

fn damage_bitmap_block(dev: &mut MemDev, rng: &mut Rng, m: &Map) -> String {
    let b = m.bitmap_blocks[rng.below(m.bitmap_blocks.len() as u64) as usize];
    let buf = block_mut(dev, m.bs, b);
    let n = m.bs - 4;
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
    bitmap::set_block_csum(m.seed, b, buf).unwrap();
    format!("bitmap block {b} {what}")
}

fn damage(dev: &mut MemDev, rng: &mut Rng, m: &Map) -> String {
    match rng.below(5) {
        0 => damage_superblock(dev, rng, m),
        1 => damage_inode(dev, rng, m),
        2 if !m.tree_blocks.is_empty() => damage_tree_block(dev, rng, m),
        3 => damage_dir_block(dev, rng, m),
        _ => damage_bitmap_block(dev, rng, m),
    }
}

/// One round: the invariants every damaged image must satisfy.
fn round(base: &MemDev, m: &Map, seed: u64) -> Result<(), String> {
    let mut rng = Rng(seed);
    let mut dev = base.clone();
    let what = damage(&mut dev, &mut rng, m);
    let fail = |msg: String| Err(format!("seed {seed} ({what}): {msg}"));
    let before = dev.data.clone();
    let (r1, dev) = check(dev);
    if r1.exit != 0 && r1.exit != 4 {
        return fail(format!("-n exit {}:\n{}", r1.exit, show(&r1)));
    }
    if dev.data != before {
        return fail("-n changed the device".into());
    }
    let (r2, dev) = repair(dev);
    match r2.exit {
        0 if r1.exit == 0 => Ok(()),
        1 if r1.exit == 4 => {
            let (r3, _) = check(dev);
            if r3.exit == 0 {
                Ok(())
            } else {
                fail(format!(
                    "not clean after repair:\n{}\n--- repair said:\n{}",
                    show(&r3),
                    show(&r2)
                ))
            }
        }
        4 if r1.exit == 4
            && r2.unfixed > 0
            && r2.lines.iter().any(|l| l.contains("cannot be fixed")) =>
        {
            Ok(())
        }
        e => fail(format!(
            "-n exit {}, -y exit {e}:\n{}\n--- -n said:\n{}",
            r1.exit,
            show(&r2),
            show(&r1)
        )),
    }
}

/// Runs `rounds` seeds from `first` on `base`; every failure (panics
/// included, with their seed) is collected and reported together.
fn run(base: MemDev, first: u64, rounds: u64) {
    let (base, m) = map(base);
    assert!(!m.tree_blocks.is_empty() && m.dir_blocks.len() >= 4);
    let mut failures = Vec::new();
    for seed in first..first + rounds {
        match catch_unwind(AssertUnwindSafe(|| round(&base, &m, seed))) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(e),
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("seed {seed}: panic: {msg}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {rounds} rounds failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Rounds per image: `default`, or `MAPFS_CORRUPTION_ROUNDS` for a longer
/// hunt (20 000 rounds take about 90 s per image).
fn rounds(default: u64) -> u64 {
    std::env::var("MAPFS_CORRUPTION_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// 1 KiB blocks, 12 MiB, 9000 inodes: two blocks in each bitmap, so a
/// smaller block or inode count leaves bitmap blocks past the bitmap.
#[test]
fn structured_corruption_1k() {
    let o = MkfsOptions {
        inodes: Some(9000),
        ..opts(1024)
    };
    let (dev, _) = populate(mkfs(MemDev::new(12 << 20), &o).expect("mkfs").0, 300);
    run(dev, 0, rounds(400));
}

#[test]
fn structured_corruption_4k() {
    let (dev, _) = populate(mem_fs(8 << 20, 4096), 300);
    run(dev, 1_000_000, rounds(300));
}

/// An image with three files on the orphan list (one with a tree block):
/// damage to the list's head, its links and the orphans' link counts.
#[test]
fn structured_corruption_orphans() {
    let (dev, _) = populate(mem_fs(8 << 20, 1024), 60);
    let (dev, chain) = add_orphans(dev, &[1, 0, 25]);
    assert_eq!(chain.len(), 3);
    run(dev, 2_000_000, rounds(300));
}
