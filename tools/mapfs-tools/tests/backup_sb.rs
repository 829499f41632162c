//! The backup superblock (compat feature `COMPAT_BACKUP_SB`): mkfs writes
//! it in the last block; fsck checks it against the primary, repairs it,
//! and restores a damaged primary from it.

mod common;

use common::*;
use mapfs_format::dir;
use mapfs_format::layout::{LOST_FOUND_INO, ROOT_INO};
use mapfs_format::super_block::{
    backup_sb_block, Superblock, COMPAT_BACKUP_SB, STATE_CLEAN, STATE_ERRORS,
};
use mapfs_tools::builder::Builder;
use mapfs_tools::dev::MemDev;
use mapfs_tools::fs::{map_block, Fs};
use mapfs_tools::fsck::{fsck, FsckOptions, FsckResult};
use mapfs_tools::mkfs::{mkfs, MkfsOptions};

fn primary(dev: &MemDev) -> Superblock {
    Superblock::decode_raw(&dev.data[..1024]).unwrap()
}

/// The backup superblock's block and the byte range of that block.
fn backup_range(dev: &MemDev) -> (u64, std::ops::Range<usize>) {
    let sb = primary(dev);
    let b = backup_sb_block(&sb).expect("backup feature");
    let bs = sb.block_size() as usize;
    (b, b as usize * bs..(b as usize + 1) * bs)
}

/// Rewrites the backup after `f` (with a valid checksum).
fn edit_backup(mut dev: MemDev, f: impl FnOnce(&mut Superblock)) -> MemDev {
    let (_, r) = backup_range(&dev);
    let mut sb = Superblock::decode(&dev.data[r.start..r.start + 1024]).unwrap();
    f(&mut sb);
    sb.encode(&mut dev.data[r.start..r.start + 1024]).unwrap();
    dev
}

fn fsck_with(dev: MemDev, repair: bool, backup: Option<u64>) -> (FsckResult, MemDev) {
    fsck(
        dev,
        FsckOptions {
            repair,
            force: true,
            verbose: false,
            backup,
        },
    )
    .unwrap()
}

fn has(r: &FsckResult, s: &str) -> bool {
    r.lines.iter().any(|l| l.contains(s))
}

/// Inode of `name` in directory `d`.
fn lookup(fs: &mut Fs<MemDev>, d: u32, name: &str) -> Option<u32> {
    let inode = fs.read_inode(d).ok()?;
    let (ext, _) = fs.read_extents(d, &inode).ok()?;
    for fb in 0..inode.size / fs.bs as u64 {
        let buf = fs.read_block(map_block(&ext, fb)?).ok()?;
        if let Ok(Some(e)) = dir::find(&buf, name.as_bytes()) {
            return Some(e.ino);
        }
    }
    None
}

/// Contents of regular file `ino` (written extents; holes and unwritten
/// blocks read as zeros).
fn read_file(fs: &mut Fs<MemDev>, ino: u32) -> Vec<u8> {
    let inode = fs.read_inode(ino).unwrap();
    let (ext, _) = fs.read_extents(ino, &inode).unwrap();
    let bs = fs.bs;
    let mut out = vec![0u8; inode.size as usize];
    for (i, chunk) in out.chunks_mut(bs).enumerate() {
        if let Some(db) = map_block(&ext, i as u64) {
            let blk = fs.read_block(db).unwrap();
            chunk.copy_from_slice(&blk[..chunk.len()]);
        }
    }
    out
}

/// The sample files are all there, reachable by name, with their data.
fn assert_sample_intact(dev: MemDev, s: &Sample) -> MemDev {
    let mut fs = open(dev);
    assert_eq!(lookup(&mut fs, ROOT_INO, "hello"), Some(s.hello));
    assert_eq!(read_file(&mut fs, s.hello), b"hello, world\n");
    assert_eq!(lookup(&mut fs, ROOT_INO, "big"), Some(s.big));
    let big: Vec<u8> = (0..40 * 1024).map(|i| (i % 253) as u8).collect();
    assert_eq!(read_file(&mut fs, s.big), big);
    assert_eq!(lookup(&mut fs, ROOT_INO, "a"), Some(s.a));
    assert_eq!(lookup(&mut fs, s.a, "b"), Some(s.b));
    assert_eq!(lookup(&mut fs, s.b, "deep"), Some(s.deep));
    assert_eq!(read_file(&mut fs, s.deep), b"deep file");
    assert_eq!(lookup(&mut fs, s.a, "hardlink"), Some(s.hello));
    assert_eq!(fs.read_inode(s.hello).unwrap().nlink, 2);
    assert_eq!(lookup(&mut fs, ROOT_INO, "frag"), Some(s.frag));
    let frag = fs.read_inode(s.frag).unwrap();
    let (ext, tree) = fs.read_extents(s.frag, &frag).unwrap();
    assert_eq!(ext.len(), 100);
    assert!(!tree.is_empty());
    assert_eq!(
        lookup(&mut fs, ROOT_INO, "lost+found"),
        Some(LOST_FOUND_INO)
    );
    // Nothing was moved to lost+found.
    let lf = fs.read_inode(LOST_FOUND_INO).unwrap();
    let (lext, _) = fs.read_extents(LOST_FOUND_INO, &lf).unwrap();
    let blk = fs.read_block(lext[0].disk_block).unwrap();
    assert!(dir::is_empty(&blk).unwrap(), "lost+found is not empty");
    fs.dev
}

fn populated(bs: u32) -> (MemDev, Sample) {
    populate(mem_fs(8 << 20, bs), 100)
}

#[test]
fn mkfs_writes_a_backup() {
    for bs in [1024u32, 2048, 4096] {
        for size in [32 * bs as usize, 100 * 1024, 3 << 20, 8 << 20] {
            if size < 32 * bs as usize {
                continue;
            }
            let dev = mem_fs(size, bs);
            let sb = primary(&dev);
            assert_eq!(sb.feature_compat & COMPAT_BACKUP_SB, COMPAT_BACKUP_SB);
            let (b, r) = backup_range(&dev);
            assert_eq!(b, sb.block_count - 1);
            assert_eq!(b, (size / bs as usize) as u64 - 1);
            // The same bytes as the primary, then zeros.
            assert_eq!(dev.data[r.start..r.start + 1024], dev.data[..1024]);
            assert!(dev.data[r.start + 1024..r.end].iter().all(|&x| x == 0));
            let dev_size = dev.data.len() as u64;
            let log = sb.log_block_size;
            assert!(Superblock::decode_backup(&dev.data[r.clone()], b, log, dev_size).is_ok());
            // In use in the bitmap and counted as not free: the data area
            // holds the root, lost+found and the backup.
            let (dev, used) = block_bit(dev, b);
            assert!(used, "bs {bs} size {size}");
            assert_eq!(sb.free_blocks, sb.block_count - sb.data_start - 3);
            let fs = open(dev.clone());
            let mut f = open(dev.clone());
            let map = f
                .read_bitmap(fs.sb.block_bitmap, fs.sb.block_count)
                .unwrap();
            assert_eq!(map.count_free(), sb.free_blocks);
            let (r, _) = check(dev);
            assert_eq!(r.exit, 0, "bs {bs} size {size}:\n{}", show(&r));
        }
    }
}

/// The backup's counters go stale as files are made (the kernel does not
/// update it): that is not a problem.
#[test]
fn stale_counters_in_the_backup_are_fine() {
    for bs in [1024u32, 2048, 4096] {
        let (dev, _) = populated(bs);
        let (_, r) = backup_range(&dev);
        let backup = Superblock::decode(&dev.data[r.start..r.start + 1024]).unwrap();
        assert_ne!(backup.free_blocks, primary(&dev).free_blocks);
        let dev = edit_backup(dev, |sb| {
            sb.mount_count = 77;
            sb.mount_time = 1;
            sb.state = STATE_ERRORS;
            sb.orphan_head = 5;
            sb.free_inodes = 3;
        });
        let (r, _) = check(dev);
        assert_eq!(r.exit, 0, "bs {bs}:\n{}", show(&r));
    }
}

#[test]
fn zeroed_primary_is_restored() {
    for bs in [1024u32, 2048, 4096] {
        let (mut dev, s) = populated(bs);
        let before = primary(&dev);
        let (b, _) = backup_range(&dev);
        dev.data[..1024].fill(0);
        let damaged = dev.data.clone();
        let (r, dev) = check(dev);
        assert_eq!(r.exit, 4, "bs {bs}:\n{}", show(&r));
        assert!(
            has(&r, &format!("superblock: primary superblock damaged (bad magic number 0x00000000); a good backup is at block {b} (-y restores it)")),
            "bs {bs}:\n{}",
            show(&r)
        );
        assert_eq!(dev.data, damaged, "-n changed the device");
        let (r, dev) = repair(dev);
        assert_eq!(r.exit, 1, "bs {bs}:\n{}", show(&r));
        assert!(
            has(
                &r,
                &format!("restored from the backup superblock at block {b}")
            ),
            "{}",
            show(&r)
        );
        let (r, dev) = check(dev);
        assert_eq!(r.exit, 0, "bs {bs}:\n{}", show(&r));
        // The counters were recomputed: what they were before the damage.
        let after = primary(&dev);
        assert_eq!(after.static_difference(&before), None);
        assert_eq!(
            (after.free_blocks, after.free_inodes),
            (before.free_blocks, before.free_inodes)
        );
        assert_eq!(after.state & (STATE_CLEAN | STATE_ERRORS), STATE_CLEAN);
        let dev = assert_sample_intact(dev, &s);
        // And without -f it is clean.
        let (r, _) = fsck(dev, FsckOptions::default()).unwrap();
        assert_eq!(r.exit, 0, "{}", show(&r));
        assert!(has(&r, "clean, "), "{}", show(&r));
    }
}

/// A primary that decodes but does not validate (here with a valid
/// checksum: the data area starts past the end) is replaced as well.
#[test]
fn invalid_primary_is_restored() {
    let (dev, s) = populated(1024);
    let (b, _) = backup_range(&dev);
    let dev = edit_sb(dev, |sb| sb.data_start = sb.block_count);
    let dev = assert_fixed(
        dev,
        "superblock: primary superblock damaged (data area out of range)",
    );
    assert!(backup_range(&dev).0 == b);
    assert_sample_intact(dev, &s);
}

/// An intact superblock of a newer format (unknown incompatible feature or
/// version, valid checksum) is not "repaired" from the backup.
#[test]
fn newer_format_is_not_replaced() {
    let (dev, _) = populated(1024);
    let dev = edit_sb(dev, |sb| sb.feature_incompat |= 0x100);
    let dev = assert_unfixable(dev, "superblock: unknown incompatible features 0x100");
    let dev = edit_sb(dev, |sb| {
        sb.feature_incompat = 0;
        sb.version = 2;
    });
    let dev = assert_unfixable(dev, "superblock: unsupported format version 2");
    // The same damage with a bad checksum is damage.
    let mut dev = dev;
    dev.data[1020] ^= 1;
    assert_fixed(
        dev,
        "superblock: primary superblock damaged (unsupported format version 2; bad checksum",
    );
}

/// A bad checksum with a changed UUID (every other checksum would fail
/// with it): the backup's fields are taken, nothing is lost.
#[test]
fn bad_checksum_primary_takes_static_fields_from_the_backup() {
    for (off, field) in [(112usize, "UUID"), (130, "label"), (8, "feature flags")] {
        let (mut dev, s) = populated(2048);
        let before = primary(&dev);
        let (b, _) = backup_range(&dev);
        dev.data[off] ^= 0x10;
        let (r, dev) = check(dev);
        assert!(has(&r, "superblock: bad checksum (stored "), "{}", show(&r));
        let dev = assert_fixed(
            dev,
            &format!("its {field} differs from the backup superblock at block {b}"),
        );
        assert_eq!(primary(&dev).static_difference(&before), None);
        assert_eq!(primary(&dev).free_blocks, before.free_blocks);
        assert_sample_intact(dev, &s);
    }
}

/// A bad checksum over a dynamic field: only the checksum is recomputed.
#[test]
fn bad_checksum_primary_dynamic_field() {
    let (mut dev, _) = populated(1024);
    dev.data[196] ^= 1; // mount count
    let (r, dev) = check(dev);
    assert_eq!(r.exit, 4);
    assert!(!has(&r, "differs from the backup"), "{}", show(&r));
    assert_fixed(dev, "superblock: bad checksum");
}

#[test]
fn damaged_backup_is_rewritten() {
    for bs in [1024u32, 4096] {
        let (dev, _) = populated(bs);
        let (b, _) = backup_range(&dev);
        // A static field changed, checksum valid.
        for (name, change) in [
            (
                "label",
                (|sb: &mut Superblock| sb.label[0] = b'Q') as fn(&mut Superblock),
            ),
            ("UUID", |sb| sb.uuid[3] ^= 1),
            ("block count", |sb| sb.block_count -= 1),
            ("inode table location", |sb| sb.inode_table.len += 1),
            ("feature flags", |sb| sb.feature_compat = 0),
        ] {
            let dev = edit_backup(dev.clone(), change);
            let dev = assert_fixed(
                dev,
                &format!("backup superblock at block {b}: its {name} differs from the primary superblock"),
            );
            let (_, r) = backup_range(&dev);
            assert_eq!(
                Superblock::decode(&dev.data[r.start..r.start + 1024])
                    .unwrap()
                    .static_difference(&primary(&dev)),
                None
            );
        }
        // Zeroed.
        let mut z = dev.clone();
        let (_, r) = backup_range(&z);
        z.data[r.clone()].fill(0);
        let z = assert_fixed(
            z,
            &format!("backup superblock at block {b}: bad magic number"),
        );
        let (_, r2) = backup_range(&z);
        assert_eq!(z.data[r2.start..r2.start + 1024], z.data[..1024]);
        // A flipped bit: bad checksum.
        let mut f = dev.clone();
        f.data[r.start + 300] ^= 8;
        assert_fixed(f, &format!("backup superblock at block {b}: bad checksum"));
    }
}

#[test]
fn backup_block_marked_free() {
    let (dev, _) = populated(1024);
    let (b, _) = backup_range(&dev);
    let dev = set_block_bit(dev, b, false);
    let dev = assert_fixed(
        dev,
        &format!("block {b}: in use but marked free in the block bitmap"),
    );
    let (_, used) = block_bit(dev, b);
    assert!(used);
}

/// A file extent mapping the backup's block: the extent is taken from the
/// file (as for any block claimed twice); the backup stays.
#[test]
fn extent_onto_the_backup_block() {
    for bs in [1024u32, 2048, 4096] {
        let (dev, s) = populated(bs);
        let (b, r) = backup_range(&dev);
        let backup = dev.data[r.clone()].to_vec();
        let dev = edit_inode(dev, s.hello, |i| {
            i.data[20..28].copy_from_slice(&b.to_le_bytes())
        });
        let dev = assert_fixed(
            dev,
            &format!(
                "inode {}: extent 0 (file block 0, disk block {b}, 1 blocks) shares block {b} with the backup superblock",
                s.hello
            ),
        );
        assert_eq!(dev.data[r.clone()], backup[..]);
        let (dev, e, _) = extents(dev, s.hello);
        assert!(e.is_empty());
        drop(dev);
    }
    // The file wrote into it too: both are reported and repaired.
    let (dev, s) = populated(1024);
    let (b, r) = backup_range(&dev);
    let mut dev = edit_inode(dev, s.deep, |i| {
        i.data[20..28].copy_from_slice(&b.to_le_bytes())
    });
    dev.data[r.clone()].fill(b'd');
    let (res, dev) = check(dev);
    assert_eq!(res.exit, 4);
    assert!(
        has(&res, &format!("backup superblock at block {b}: bad magic")),
        "{}",
        show(&res)
    );
    assert!(has(&res, "with the backup superblock"), "{}", show(&res));
    let (res, dev) = repair(dev);
    assert_eq!(res.exit, 1, "{}", show(&res));
    let (res, dev) = check(dev);
    assert_eq!(res.exit, 0, "{}", show(&res));
    assert_eq!(dev.data[r.start..r.start + 1024], dev.data[..1024]);
}

/// An image as the mkfs before the backup made it: no feature bit, the
/// last block free. It stays clean, its last block can hold file data,
/// and a destroyed primary is not "restored" from that data.
#[test]
fn images_without_a_backup_keep_working() {
    for bs in [1024u32, 2048, 4096] {
        let dev = mem_fs(2 << 20, bs);
        let (b, r) = backup_range(&dev);
        let mut dev = edit_sb(dev, |sb| {
            sb.feature_compat &= !COMPAT_BACKUP_SB;
            sb.free_blocks += 1;
        });
        dev.data[r.clone()].fill(0);
        let dev = set_block_bit(dev, b, false);
        let (res, dev) = check(dev);
        assert_eq!(res.exit, 0, "bs {bs}:\n{}", show(&res));
        // Fill every free block (one run: one extent, no tree block): the
        // last block goes to a file.
        let free = primary(&dev).free_blocks as usize;
        let mut bld = Builder::open(dev).unwrap();
        let data: Vec<u8> = (0..free * bs as usize).map(|i| (i % 241) as u8).collect();
        bld.create_file(ROOT_INO, "fill", &data).unwrap();
        let dev = bld.commit().unwrap();
        let (dev, used) = block_bit(dev, b);
        assert!(used, "bs {bs}: the last block was not used");
        let (res, mut dev) = check(dev);
        assert_eq!(res.exit, 0, "bs {bs}:\n{}", show(&res));
        // Primary destroyed: there is no backup; the last block holds data.
        dev.data[..1024].fill(0);
        let dev = assert_unfixable(dev, "no backup superblock found");
        drop(dev);
    }
}

#[test]
fn zeroed_primary_and_backup() {
    for bs in [1024u32, 2048, 4096] {
        let (mut dev, _) = populated(bs);
        let (_, r) = backup_range(&dev);
        dev.data[..1024].fill(0);
        dev.data[r].fill(0);
        let dev = assert_unfixable(
            dev,
            "superblock: bad magic number 0x00000000 (not a mapfs filesystem, or its superblock is destroyed); no backup superblock found",
        );
        // Junk instead of zeros: the same.
        let mut dev = dev;
        let mut rng = Rng(bs.into());
        for x in dev.data[..1024].iter_mut() {
            *x = rng.next() as u8;
        }
        assert_unfixable(dev, "no backup superblock found");
    }
}

/// A filesystem smaller than its device (`mkfs -s`): the backup is not at
/// the end of the device, and is found with `-b`.
#[test]
fn backup_given_with_b() {
    for bs in [1024u32, 2048, 4096] {
        let o = MkfsOptions {
            size: Some(3 << 20),
            ..opts(bs)
        };
        let (dev, _) = mkfs(MemDev::new(5 << 20), &o).unwrap();
        let (mut dev, s) = populate(dev, 100);
        let (b, _) = backup_range(&dev);
        assert_eq!(b, (3 << 20) / u64::from(bs) - 1);
        dev.data[..1024].fill(0);
        let dev = assert_unfixable(dev, "no backup superblock found");
        // The wrong block: says why.
        let (r, dev) = fsck_with(dev, false, Some(b - 1));
        assert_eq!(r.exit, 4, "{}", show(&r));
        assert!(
            has(
                &r,
                &format!("no backup superblock at block {} (given with -b)", b - 1)
            ),
            "{}",
            show(&r)
        );
        let (r, dev) = fsck_with(dev, false, Some(b));
        assert_eq!(r.exit, 4, "{}", show(&r));
        assert!(
            has(
                &r,
                &format!("a good backup is at block {b} (-y restores it)")
            ),
            "{}",
            show(&r)
        );
        let (r, dev) = fsck_with(dev, true, Some(b));
        assert_eq!(r.exit, 1, "{}", show(&r));
        let (r, dev) = check(dev);
        assert_eq!(r.exit, 0, "{}", show(&r));
        let dev = assert_sample_intact(dev, &s);
        // -b with a valid primary: not used, with a warning.
        let (r, _) = fsck_with(dev, false, Some(b));
        assert_eq!(r.exit, 0, "{}", show(&r));
        assert!(
            r.warnings.iter().any(|w| w.contains("not used")),
            "{:?}",
            r.warnings
        );
    }
    // A block that holds a superblock of another block size: named.
    let o = MkfsOptions {
        size: Some(1 << 20),
        ..opts(4096)
    };
    let (mut dev, _) = mkfs(MemDev::new(2 << 20), &o).unwrap();
    dev.data[..1024].fill(0);
    // Block 255 at 4 KiB is byte 1 MiB - 4 KiB; at 1 KiB it is byte
    // 255 KiB: nothing there.
    let (r, _) = fsck_with(dev.clone(), false, Some(255));
    assert!(has(&r, "a good backup is at block 255"), "{}", show(&r));
    // Block 1020 at 1 KiB is the same byte offset: a 4 KiB backup there
    // is not a 1 KiB filesystem's.
    let (r, _) = fsck_with(dev, false, Some(1020));
    assert_eq!(r.exit, 4);
    assert!(
        has(&r, "no usable backup superblock at block 1020 (given with -b): with 1024-byte blocks: its filesystem has 4096-byte blocks"),
        "{}",
        show(&r)
    );
}

/// A backup left at the end of the device by an earlier filesystem
/// (`mkfs -s` made a smaller one since) belongs to another UUID: it is not
/// taken for the current filesystem's.
#[test]
fn stale_backup_of_an_earlier_filesystem_is_not_used() {
    let dev = mem_fs(4 << 20, 1024);
    let old_end = backup_range(&dev).0;
    let o = MkfsOptions {
        size: Some(2 << 20),
        uuid: Some([0x5A; 16]),
        ..opts(1024)
    };
    let (dev, _) = mkfs(dev, &o).unwrap();
    let (mut dev, _) = populate(dev, 20);
    let (b, _) = backup_range(&dev);
    assert_ne!(b, old_end);
    dev.data[..1024].fill(0);
    let (r, dev) = check(dev);
    assert_eq!(r.exit, 4);
    assert!(
        has(&r, &format!("a backup superblock at block {old_end} was not used: it does not belong to the filesystem on the device")),
        "{}",
        show(&r)
    );
    let (r, dev) = repair(dev);
    assert_eq!(r.exit, 4, "{}", show(&r));
    assert!(primary(&dev).magic == 0, "the stale backup was written");
    // The right one, given with -b, is used.
    let (r, dev) = fsck_with(dev, true, Some(b));
    assert_eq!(r.exit, 1, "{}", show(&r));
    let (r, _) = check(dev);
    assert_eq!(r.exit, 0, "{}", show(&r));
}

/// The start of the device holds another filesystem's signature: a mapfs
/// backup found at the end is not written over it.
#[test]
fn other_filesystem_at_the_start_is_not_overwritten() {
    let (mut dev, _) = populated(1024);
    dev.data[..1024].fill(0);
    dev.data[..4].copy_from_slice(b"XFSB");
    let (r, dev) = repair(dev);
    assert_eq!(r.exit, 4, "{}", show(&r));
    assert!(
        has(&r, "the start of the device holds an XFS filesystem"),
        "{}",
        show(&r)
    );
    assert_eq!(&dev.data[..4], b"XFSB");
}

/// A tiny filesystem needs a third data block for the backup.
#[test]
fn smallest_filesystem_has_room_for_the_backup() {
    // 32 blocks of 1 KiB: 1 + 1 + 1 blocks of superblock and bitmaps, the
    // inode table (2 inodes of 512 bytes a block) and at least 3 data blocks.
    let mk = |inodes: u64| {
        let o = MkfsOptions {
            inodes: Some(inodes),
            ..opts(1024)
        };
        mkfs(MemDev::new(32 << 10), &o)
    };
    // 54 slots: 27 inode table blocks, data area of 2 blocks (enough
    // before the backup).
    let err = mk(53).unwrap_err().to_string();
    assert!(
        err.contains("too small") && err.contains("need at least 33 blocks"),
        "{err}"
    );
    let (dev, sb) = mk(51).unwrap();
    assert_eq!(sb.data_start, 29);
    assert_eq!(sb.free_blocks, 0);
    let (r, _) = check(dev);
    assert_eq!(r.exit, 0, "{}", show(&r));
}

/// Random damage to the primary, the backup or both (bytes flipped, fields
/// changed with the checksum recomputed, zeroed, junk): fsck never panics,
/// `-n` changes nothing, and a repair leaves a clean filesystem unless it
/// said what it could not fix.
#[test]
fn random_damage_to_both_superblocks() {
    for (bs, seed) in [(1024u32, 11u64), (4096, 12)] {
        let (base, _) = populate(mem_fs(2 << 20, bs), 30);
        let (_, r) = backup_range(&base);
        let mut rng = Rng(seed);
        let mut restored = 0;
        // MAPFS_CORRUPTION_ROUNDS: a longer run (as structured_corruption).
        let rounds = std::env::var("MAPFS_CORRUPTION_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300u64);
        for round in 0..rounds {
            let mut dev = base.clone();
            for _ in 0..=rng.below(2) {
                let at = if rng.below(2) == 0 { 0 } else { r.start };
                match rng.below(4) {
                    0 => {
                        for _ in 0..=rng.below(4) {
                            let o = at + rng.below(1024) as usize;
                            dev.data[o] ^= 1 << rng.below(8);
                        }
                    }
                    1 => {
                        let o = at + rng.below(200) as usize;
                        dev.data[o] = rng.next() as u8;
                        let (_, c) = Superblock::checksums(&dev.data[at..at + 1024]).unwrap();
                        dev.data[at + 1020..at + 1024].copy_from_slice(&c.to_le_bytes());
                    }
                    2 => dev.data[at..at + 1024].fill(0),
                    _ => {
                        for x in dev.data[at..at + 1024].iter_mut() {
                            *x = rng.next() as u8;
                        }
                    }
                }
            }
            let before = dev.data.clone();
            let (r1, dev) = check(dev);
            assert!(
                r1.exit == 0 || r1.exit == 4,
                "round {round}: -n exit {}",
                r1.exit
            );
            assert!(dev.data == before, "round {round}: -n changed the device");
            let (r2, dev) = repair(dev);
            if has(&r2, "restored from the backup") {
                restored += 1;
            }
            match r2.exit {
                0 => assert_eq!(r1.exit, 0, "round {round}"),
                1 => {
                    let (r3, _) = check(dev);
                    assert_eq!(
                        r3.exit,
                        0,
                        "round {round}: not clean after repair:\n{}\n--- repair said:\n{}",
                        show(&r3),
                        show(&r2)
                    );
                }
                4 => assert!(
                    r2.unfixed > 0 && has(&r2, "cannot be fixed"),
                    "round {round}:\n{}",
                    show(&r2)
                ),
                e => panic!("round {round}: exit {e}:\n{}", show(&r2)),
            }
        }
        assert!(restored > rounds / 15, "bs {bs}: only {restored} restores");
    }
}

/// A repair of a "mounted" target is still refused (exit 8) when it would
/// restore the superblock, and the image is left as it is; `-n` runs and
/// names the backup. End to end through the image file and `-b`.
#[test]
fn restore_on_a_mounted_target_is_refused() {
    use mapfs_tools::fsck::{run_path_mounted, EXIT_OPERATIONAL};
    use mapfs_tools::mount::MountEntry;
    let p = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("backup-mounted.img");
    std::fs::File::create(&p).unwrap().set_len(6 << 20).unwrap();
    let ps = p.to_str().unwrap();
    let args = mapfs_tools::mkfs::MkfsArgs {
        quiet: true,
        target: ps.into(),
        opts: MkfsOptions {
            size: Some(4 << 20),
            ..opts(1024)
        },
        ..Default::default()
    };
    mapfs_tools::mkfs::run(&args).unwrap();
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        f.write_all_at(&[0u8; 1024], 0).unwrap();
    }
    let before = std::fs::read(&p).unwrap();
    let m = MountEntry {
        dev: None,
        source: ps.into(),
        mount_point: "/mnt/x".into(),
        read_only: false,
    };
    let with_b = |repair| FsckOptions {
        repair,
        force: true,
        verbose: false,
        backup: Some(4095),
    };
    let r = run_path_mounted(ps, with_b(true), Some(&m));
    assert_eq!(r.exit, EXIT_OPERATIONAL, "{:?}", r.lines);
    assert!(
        std::fs::read(&p).unwrap() == before,
        "the image was written"
    );
    let r = run_path_mounted(ps, with_b(false), Some(&m));
    assert_eq!(r.exit, 4, "{:?}", r.lines);
    assert!(
        r.lines
            .iter()
            .any(|l| l.contains("a good backup is at block 4095")),
        "{:?}",
        r.lines
    );
    assert!(std::fs::read(&p).unwrap() == before, "-n wrote the image");
    // Not mounted: restored.
    let r = run_path_mounted(ps, with_b(true), None);
    assert_eq!(r.exit, 1, "{:?}", r.lines);
    let r = run_path_mounted(
        ps,
        FsckOptions {
            force: true,
            ..Default::default()
        },
        None,
    );
    assert_eq!(r.exit, 0, "{:?}", r.lines);
    std::fs::remove_file(&p).unwrap();
}

/// The backup's orphan list head is mkfs's (empty): after a restore, files
/// a crash left on the orphan list are unreferenced inodes, kept in
/// lost+found (as documented), and the filesystem is clean.
#[test]
fn orphans_after_a_restore_go_to_lost_found() {
    let (dev, _) = populated(1024);
    let (mut dev, chain) = add_orphans(dev, &[2, 0]);
    dev.data[..1024].fill(0);
    let (r, dev) = repair(dev);
    assert_eq!(r.exit, 1, "{}", show(&r));
    for ino in &chain {
        assert!(
            has(&r, &format!("inode {ino}: not referenced by any directory")),
            "{}",
            show(&r)
        );
    }
    let (r, dev) = check(dev);
    assert_eq!(r.exit, 0, "{}", show(&r));
    let mut fs = open(dev);
    for ino in chain {
        assert_eq!(
            lookup(&mut fs, LOST_FOUND_INO, &format!("#{ino}")),
            Some(ino)
        );
    }
}

/// The corrupter's backup target (`corrupt::damage_backup_sb`, also drawn
/// by `corrupt::damage`): a static field of the backup changed to an edge
/// value with its checksum recomputed. The kernel never reads the backup,
/// so only fsck can see it: `-n` must report it (exit 4), `-y` must rewrite
/// it from the primary (exit 1), and the filesystem is clean afterwards with
/// a backup that agrees with the primary again. Without fsck's comparison
/// of the static fields every round whose value decodes fails here.
#[test]
fn damaged_backup_fields_are_found_and_rewritten() {
    use mapfs_tools::corrupt::{damage_backup_sb, map, Rng};
    for bs in [1024, 4096] {
        let (base, m) = map(mem_fs(8 << 20, bs)).expect("map");
        let (_, range) = backup_range(&base);
        let mut changed = 0;
        for seed in 0..120u64 {
            let mut dev = base.clone();
            let what = damage_backup_sb(&mut dev, &mut Rng(seed), &m).unwrap();
            if dev.data == base.data {
                continue; // the edge value was the old one
            }
            changed += 1;
            let (r1, dev) = fsck_with(dev, false, None);
            assert_eq!(r1.exit, 4, "bs {bs} seed {seed} ({what}): -n:\n{}", show(&r1));
            assert!(has(&r1, "backup"), "bs {bs} seed {seed} ({what}): -n does not name the backup:\n{}", show(&r1));
            let (r2, dev) = fsck_with(dev, true, None);
            assert_eq!(r2.exit, 1, "bs {bs} seed {seed} ({what}): -y:\n{}", show(&r2));
            let (r3, dev) = fsck_with(dev, false, None);
            assert_eq!(r3.exit, 0, "bs {bs} seed {seed} ({what}): not clean after -y:\n{}", show(&r3));
            let backup = Superblock::decode_raw(&dev.data[range.start..range.start + 1024]).unwrap();
            assert_eq!(backup.static_difference(&primary(&dev)), None, "bs {bs} seed {seed} ({what})");
        }
        assert!(changed >= 100, "bs {bs}: only {changed} of 120 rounds changed the backup");
    }
}
