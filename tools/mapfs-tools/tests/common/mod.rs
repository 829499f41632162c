//! Shared helpers for the tools tests: images in memory, a populated
//! sample filesystem, fsck wrappers and raw editing helpers.
#![allow(dead_code, missing_docs, unreachable_pub)]

use mapfs_format::dir;
use mapfs_format::extent::Extent;
use mapfs_format::inode::{FileType, Inode};
use mapfs_format::layout::ROOT_INO;
use mapfs_format::super_block::Superblock;
use mapfs_tools::builder::Builder;
use mapfs_tools::dev::{Device, MemDev};
use mapfs_tools::fs::{map_block, Fs};
use mapfs_tools::fsck::{fsck, FsckOptions, FsckResult};
use mapfs_tools::mkfs::{mkfs, MkfsOptions};

pub const UUID: [u8; 16] = [
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x47, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF, 0x01,
];

pub fn opts(bs: u32) -> MkfsOptions {
    MkfsOptions {
        block_size: Some(bs),
        label: Some("test".into()),
        uuid: Some(UUID),
        time: Some(1_700_000_000),
        ..Default::default()
    }
}

/// A fresh in-memory filesystem.
pub fn mem_fs(size: usize, bs: u32) -> MemDev {
    mkfs(MemDev::new(size), &opts(bs)).expect("mkfs").0
}

/// Inode numbers of the sample content.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub hello: u32,
    pub big: u32,
    pub frag: u32,
    pub small_frag: u32,
    pub a: u32,
    pub b: u32,
    pub deep: u32,
    pub link_short: u32,
    pub link_long: u32,
    pub fifo: u32,
    pub hard: u32,
}

/// Fills a filesystem with: /hello (1 block), /big (40 blocks), /frag (a
/// fragmented file with `frag_extents` extents: a multi-level tree),
/// /small_frag (3 extents in the root), /a/b/deep (nested dirs), /a/many*
/// (enough entries to need a second directory block), symlinks (inline and
/// block), a FIFO, and a hard link /a/hardlink -> /hello.
pub fn populate(dev: MemDev, frag_extents: u64) -> (MemDev, Sample) {
    let mut b = Builder::open(dev).expect("open");
    let hello = b.create_file(ROOT_INO, "hello", b"hello, world\n").unwrap();
    let big_data: Vec<u8> = (0..40 * 1024).map(|i| (i % 253) as u8).collect();
    let big = b.create_file(ROOT_INO, "big", &big_data).unwrap();
    let frag = b.create_fragmented(ROOT_INO, "frag", frag_extents).unwrap();
    let small_frag = b.create_fragmented(ROOT_INO, "small_frag", 3).unwrap();
    let a = b.mkdir(ROOT_INO, "a", 0o755).unwrap();
    let bb = b.mkdir(a, "b", 0o755).unwrap();
    let deep = b.create_file(bb, "deep", b"deep file").unwrap();
    for i in 0..40 {
        b.create_file(
            a,
            &format!("many-file-number-{i:03}-with-a-long-name"),
            b"x",
        )
        .unwrap();
    }
    let link_short = b.symlink(ROOT_INO, "short", "hello").unwrap();
    let long_target = "x/".repeat(150) + "end";
    let link_long = b.symlink(a, "long", &long_target).unwrap();
    let fifo = b.mknod(ROOT_INO, "fifo", FileType::Fifo, 0).unwrap();
    b.link(a, "hardlink", hello).unwrap();
    let dev = b.commit().unwrap();
    (
        dev,
        Sample {
            hello,
            big,
            frag,
            small_frag,
            a,
            b: bb,
            deep,
            link_short,
            link_long,
            fifo,
            hard: hello,
        },
    )
}

/// The standard populated image: 4 MiB, 1 KiB blocks, a 700-extent file
/// (depth-2 tree).
pub fn sample() -> (MemDev, Sample) {
    populate(mem_fs(4 << 20, 1024), 700)
}

pub fn check(dev: MemDev) -> (FsckResult, MemDev) {
    fsck(
        dev,
        FsckOptions {
            repair: false,
            force: true,
            verbose: false,
            backup: None,
        },
    )
    .expect("fsck -n")
}

pub fn repair(dev: MemDev) -> (FsckResult, MemDev) {
    fsck(
        dev,
        FsckOptions {
            repair: true,
            force: true,
            verbose: false,
            backup: None,
        },
    )
    .expect("fsck -y")
}

pub fn show(r: &FsckResult) -> String {
    r.lines.join("\n")
}

/// fsck -n must find the problem (exit 4, a line containing `expect`);
/// fsck -y must fix it (exit 1) and a second fsck -n must be clean.
pub fn assert_fixed(dev: MemDev, expect: &str) -> MemDev {
    let (r, dev) = check(dev);
    assert_eq!(r.exit, 4, "fsck -n should report errors:\n{}", show(&r));
    // Without repair the action is not printed: the line may be a prefix.
    assert!(
        r.lines
            .iter()
            .any(|l| l.contains(expect) || (!l.is_empty() && expect.starts_with(l.as_str()))),
        "expected a line containing {expect:?}:\n{}",
        show(&r)
    );
    let (r2, dev) = repair(dev);
    assert_eq!(r2.exit, 1, "fsck -y should fix everything:\n{}", show(&r2));
    assert!(
        r2.lines.iter().any(|l| l.contains(expect)),
        "expected {expect:?} after repair:\n{}",
        show(&r2)
    );
    let (r3, dev) = check(dev);
    assert_eq!(
        r3.exit,
        0,
        "second run should be clean:\n{}\n--- after repair:\n{}",
        show(&r3),
        show(&r2)
    );
    dev
}

/// fsck -n and -y must both report `expect` as unfixable (exit 4).
pub fn assert_unfixable(dev: MemDev, expect: &str) -> MemDev {
    let (r, dev) = check(dev);
    assert_eq!(r.exit, 4, "{}", show(&r));
    assert!(
        r.lines.iter().any(|l| l.contains(expect)),
        "expected {expect:?}:\n{}",
        show(&r)
    );
    let (r2, dev) = repair(dev);
    assert_eq!(r2.exit, 4, "{}", show(&r2));
    assert!(
        r2.lines
            .iter()
            .any(|l| l.contains(expect) && l.contains("cannot be fixed")),
        "{}",
        show(&r2)
    );
    dev
}

pub fn open(dev: MemDev) -> Fs<MemDev> {
    Fs::open(dev).expect("open fs")
}

/// Rewrites inode `ino` after `f` (with a valid checksum).
pub fn edit_inode(dev: MemDev, ino: u32, f: impl FnOnce(&mut Inode)) -> MemDev {
    let mut fs = open(dev);
    let raw = fs.read_inode_raw(ino).unwrap();
    let mut inode = Inode::decode_raw(&raw).unwrap();
    f(&mut inode);
    fs.write_inode(ino, &inode).unwrap();
    fs.dev
}

/// Rewrites the superblock after `f` (with a valid checksum).
pub fn edit_sb(mut dev: MemDev, f: impl FnOnce(&mut Superblock)) -> MemDev {
    let mut sb = Superblock::decode_raw(&dev.data[..1024]).unwrap();
    f(&mut sb);
    sb.encode(&mut dev.data[..1024]).unwrap();
    dev
}

/// Removes the entry `name` from block 0 of directory `d`.
pub fn unlink(dev: MemDev, d: u32, name: &str) -> MemDev {
    let (dev, _, off) = entry_offset(dev, d, name);
    edit_dir_block(dev, d, 0, |buf, seed| {
        dir::remove(buf, seed, d, off).unwrap()
    })
}

/// Makes `chain` (head first) the orphan list: each entry's `next_orphan`
/// points at the next, the superblock's `orphan_head` at the first. Link
/// counts are not touched.
pub fn set_orphan_list(dev: MemDev, chain: &[u32]) -> MemDev {
    let mut dev = dev;
    for (i, &ino) in chain.iter().enumerate() {
        let next = chain.get(i + 1).copied().unwrap_or(0);
        dev = edit_inode(dev, ino, |inode| inode.next_orphan = next);
    }
    edit_sb(dev, |sb| {
        sb.orphan_head = chain.first().copied().unwrap_or(0)
    })
}

/// Adds files to `dev` and leaves them as a crash leaves files unlinked
/// while open: each of `sizes` (in blocks; 0 for a fragmented file of 12
/// extents, which needs a tree block) becomes a file in the root whose
/// name is then removed, its link count 0, on the orphan list (the last
/// one created at the head, as the kernel adds them). Returns the inodes,
/// head first.
pub fn add_orphans(dev: MemDev, sizes: &[u64]) -> (MemDev, Vec<u32>) {
    let bs = block_size(&dev) as usize;
    let mut b = Builder::open(dev).expect("open");
    let mut made = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        let name = format!("orphan{i}");
        let ino = if n == 0 {
            b.create_fragmented(ROOT_INO, &name, 12).unwrap()
        } else {
            let data: Vec<u8> = (0..n as usize * bs).map(|j| (j % 249) as u8).collect();
            b.create_file(ROOT_INO, &name, &data).unwrap()
        };
        made.push((name, ino));
    }
    let mut dev = b.commit().unwrap();
    for (name, ino) in &made {
        dev = unlink(dev, ROOT_INO, name);
        dev = edit_inode(dev, *ino, |i| i.nlink = 0);
    }
    let chain: Vec<u32> = made.iter().rev().map(|(_, i)| *i).collect();
    (set_orphan_list(dev, &chain), chain)
}

/// Extents and tree blocks of a file.
pub fn extents(dev: MemDev, ino: u32) -> (MemDev, Vec<Extent>, Vec<u64>) {
    let mut fs = open(dev);
    let inode = fs.read_inode(ino).unwrap();
    let (e, t) = fs.read_extents(ino, &inode).unwrap();
    (fs.dev, e, t)
}

/// Disk block of directory `d`'s file block `fb`.
pub fn dir_block(dev: MemDev, d: u32, fb: u64) -> (MemDev, u64) {
    let (dev, e, _) = extents(dev, d);
    (dev, map_block(&e, fb).unwrap())
}

/// Edits directory block `fb` of `d` and fixes its checksum.
pub fn edit_dir_block(dev: MemDev, d: u32, fb: u64, f: impl FnOnce(&mut Vec<u8>, u32)) -> MemDev {
    let (dev, db) = dir_block(dev, d, fb);
    let mut fs = open(dev);
    let mut buf = fs.read_block(db).unwrap();
    let seed = fs.seed;
    f(&mut buf, seed);
    fs.write_block(db, &buf).unwrap();
    fs.dev
}

/// Offset of the entry `name` in block 0 of directory `d`.
pub fn entry_offset(dev: MemDev, d: u32, name: &str) -> (MemDev, u64, usize) {
    let (dev, db) = dir_block(dev, d, 0);
    let mut fs = open(dev);
    let buf = fs.read_block(db).unwrap();
    let off = dir::find(&buf, name.as_bytes()).unwrap().unwrap().offset;
    (fs.dev, db, off)
}

pub fn block_size(dev: &MemDev) -> u64 {
    u64::from(
        Superblock::decode_raw(&dev.data[..1024])
            .unwrap()
            .block_size(),
    )
}

/// Flips bit `bit` of byte `off` of block `b`.
pub fn flip(mut dev: MemDev, b: u64, off: usize, bit: u8) -> MemDev {
    let bs = block_size(&dev) as usize;
    dev.data[b as usize * bs + off] ^= 1 << bit;
    dev
}

/// Sets a bit in the on-disk block bitmap and fixes the checksum.
pub fn set_block_bit(dev: MemDev, block: u64, value: bool) -> MemDev {
    let mut fs = open(dev);
    let mut map = fs
        .read_bitmap(fs.sb.block_bitmap, fs.sb.block_count)
        .unwrap();
    map.set_range(block, 1, value);
    let r = fs.sb.block_bitmap;
    fs.write_bitmap(&map, r).unwrap();
    fs.dev
}

pub fn block_bit(dev: MemDev, block: u64) -> (MemDev, bool) {
    let mut fs = open(dev);
    let map = fs
        .read_bitmap(fs.sb.block_bitmap, fs.sb.block_count)
        .unwrap();
    (fs.dev, map.get(block))
}

pub fn read_dev(dev: &mut MemDev, off: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    dev.read_at(off, &mut v).unwrap();
    v
}

/// splitmix64: the small deterministic PRNG of the randomized tests, the
/// one the corrupter draws its changes from (the format crate's own one is
/// private to its unit tests).
#[allow(unused_imports)]
pub use mapfs_tools::corrupt::Rng;

/// A list of `n` user attributes with values of `size` bytes (see
/// `mapfs_format::xattr`).
pub fn xattr_list(n: usize, size: usize) -> Vec<u8> {
    let mut l = Vec::new();
    for i in 0..n {
        let name = format!("attr{i}");
        let value = vec![i as u8; size];
        let mut out = vec![0u8; l.len() + 8 + name.len() + size];
        let len = mapfs_format::xattr::set(&l, mapfs_format::xattr::Namespace::User, name.as_bytes(), Some(&value), &mut out)
            .expect("xattr list");
        out.truncate(len);
        l = out;
    }
    l
}

/// Gives `s.hello` attributes in its inode and `s.big` some in an xattr
/// block.
pub fn add_xattrs(dev: MemDev, s: &Sample) -> MemDev {
    let mut b = Builder::open(dev).expect("open");
    b.set_xattrs(s.hello, &xattr_list(2, 20)).expect("hello xattrs");
    b.set_xattrs(s.big, &xattr_list(8, 100)).expect("big xattrs");
    b.commit().expect("commit")
}
