//! Damage a populated image in specific ways; fsck -n must report the
//! problem naming the object, fsck -y must fix it (or say it cannot), and a
//! second fsck -n must then be clean.

mod common;

use common::*;
use mapfs_format::dir;
use mapfs_format::inode::FileType;
use mapfs_format::layout::{LOST_FOUND_INO, ROOT_INO};
use mapfs_tools::builder::Builder;
use mapfs_tools::dev::MemDev;

#[test]
fn pristine_sample_is_clean() {
    let (dev, s) = sample();
    let (dev, _, tree) = extents(dev, s.frag);
    assert!(tree.len() > 10, "frag must have a multi-level tree");
    let (r, _) = check(dev);
    assert_eq!(r.exit, 0, "{}", show(&r));
}

/// A destroyed superblock with no backup to take its place (the backup is
/// destroyed too) cannot be fixed; `backup_sb.rs` tests the recovery.
#[test]
fn bad_sb_magic() {
    let (mut dev, _) = sample();
    let last = dev.data.len() - 1024;
    dev.data[last..last + 4].copy_from_slice(b"XXXX");
    dev.data[0..4].copy_from_slice(b"XXXX");
    assert_unfixable(dev, "superblock: bad magic number");
}

#[test]
fn bad_sb_checksum() {
    let (dev, _) = sample();
    let dev = flip(dev, 0, 600, 3);
    assert_fixed(dev, "superblock: bad checksum");
}

#[test]
fn unknown_incompat_feature() {
    let (dev, _) = sample();
    let dev = edit_sb(dev, |sb| sb.feature_incompat |= 0x100);
    assert_unfixable(dev, "superblock: unknown incompatible features 0x100");
}

#[test]
fn device_smaller_than_filesystem() {
    let (mut dev, _) = sample();
    dev.data.truncate(dev.data.len() - 4096);
    assert_unfixable(dev, "superblock: filesystem needs");
}

#[test]
fn out_of_range_extent() {
    let (dev, s) = sample();
    let dev = edit_inode(dev, s.big, |i| {
        // Root leaf entry 0: disk block field at data offset 12 + 8.
        i.data[20..28].copy_from_slice(&u64::MAX.wrapping_sub(5).to_le_bytes());
    });
    let dev = assert_fixed(dev, &format!("inode {}: extent 0 (file block 0", s.big));
    let (dev, e, _) = extents(dev, s.big);
    assert!(e.is_empty());
    drop(dev);
}

#[test]
fn extent_into_metadata() {
    let (dev, s) = sample();
    let dev = edit_inode(dev, s.hello, |i| {
        i.data[20..28].copy_from_slice(&3u64.to_le_bytes())
    });
    assert_fixed(dev, "is outside the data area");
}

#[test]
fn overlapping_extents_in_a_file() {
    let (dev, s) = sample();
    // small_frag has 3 one-block extents at file blocks 0, 2, 4 in the root.
    let dev = edit_inode(dev, s.small_frag, |i| {
        i.data[12 + 16..12 + 16 + 4].copy_from_slice(&0u32.to_le_bytes());
    });
    assert_fixed(
        dev,
        &format!("inode {}: extent 1 (file block 0, ", s.small_frag),
    );
}

#[test]
fn block_owned_by_two_files() {
    let (dev, s) = sample();
    let (dev, he, _) = extents(dev, s.hello);
    let target = he[0].disk_block;
    let dev = edit_inode(dev, s.deep, |i| {
        i.data[20..28].copy_from_slice(&target.to_le_bytes())
    });
    let dev = assert_fixed(dev, &format!("inode {}: extent 0 (file block 0, disk block {target}, 1 blocks) shares block {target} with inode {}", s.deep, s.hello));
    // The earlier owner keeps it.
    let (dev, he2, _) = extents(dev, s.hello);
    assert_eq!(he2, he);
    drop(dev);
}

#[test]
fn tree_block_owned_by_two_files() {
    let (dev, s) = sample();
    let (dev, _, tree) = extents(dev, s.frag);
    let (dev, be, _) = extents(dev, s.big);
    // Point big's extent at one of frag's tree blocks.
    let tb = tree[3];
    let dev = edit_inode(dev, s.big, |i| {
        i.data[20..28].copy_from_slice(&tb.to_le_bytes())
    });
    let _ = be;
    // big (lower inode number) is checked first and keeps the blocks; frag's
    // tree is rebuilt elsewhere, losing the extents stored in big's blocks.
    assert_fixed(
        dev,
        &format!(
            "inode {}: extent tree block {tb} is also used by inode {}",
            s.frag, s.big
        ),
    );
}

#[test]
fn leaked_block() {
    let (dev, _) = sample();
    let b = {
        let fs = open(dev.clone());
        fs.sb.block_count - 3
    };
    let (dev, used) = block_bit(dev, b);
    assert!(!used);
    let dev = set_block_bit(dev, b, true);
    assert_fixed(
        dev,
        &format!("block {b}: marked in use in the block bitmap but not used (leaked)"),
    );
}

#[test]
fn block_used_but_marked_free() {
    let (dev, s) = sample();
    let (dev, e, _) = extents(dev, s.big);
    let b = e[0].disk_block + 5;
    let dev = set_block_bit(dev, b, false);
    assert_fixed(
        dev,
        &format!("block {b}: in use but marked free in the block bitmap"),
    );
}

#[test]
fn inode_used_but_marked_free() {
    let (dev, s) = sample();
    let mut fs = open(dev);
    let mut map = fs
        .read_bitmap(fs.sb.inode_bitmap, u64::from(fs.sb.inode_count))
        .unwrap();
    map.set_range(u64::from(s.deep), 1, false);
    map.set_range(u64::from(fs.sb.inode_count) - 1, 1, true);
    let r = fs.sb.inode_bitmap;
    fs.write_bitmap(&map, r).unwrap();
    let dev = assert_fixed(
        fs.dev,
        &format!(
            "inode {}: in use but marked free in the inode bitmap",
            s.deep
        ),
    );
    drop(dev);
}

#[test]
fn wrong_link_count() {
    let (dev, s) = sample();
    let dev = edit_inode(dev, s.hello, |i| i.nlink = 5);
    assert_fixed(
        dev,
        &format!("inode {}: link count 5, should be 2", s.hello),
    );
    let (dev, s) = sample();
    let dev = edit_inode(dev, s.a, |i| i.nlink = 1);
    assert_fixed(dev, &format!("inode {}: link count 1, should be 3", s.a));
}

#[test]
fn dangling_directory_entry() {
    let (dev, _) = sample();
    let free = {
        let fs = open(dev.clone());
        fs.sb.inode_count - 2
    };
    let dev = edit_dir_block(dev, ROOT_INO, 0, |buf, seed| {
        dir::insert(buf, seed, ROOT_INO, free, b"ghost", 1).unwrap();
    });
    assert_fixed(
        dev,
        &format!("directory 1: entry 'ghost' points to free inode {free}"),
    );
}

#[test]
fn directory_loop() {
    let (dev, s) = sample();
    let dev = edit_dir_block(dev, s.b, 0, |buf, seed| {
        dir::insert(
            buf,
            seed,
            s.b,
            s.a,
            b"loop",
            FileType::Directory.dirent_type(),
        )
        .unwrap();
    });
    assert_fixed(
        dev,
        &format!(
            "directory {}: entry 'loop' is a second link to directory {}",
            s.b, s.a
        ),
    );
}

#[test]
fn disconnected_directory_cycle() {
    // Unlink /a from the root and make /a/b's entry point back at /a: a
    // cycle nothing reaches. /a goes to lost+found, the back link goes.
    let (dev, s) = sample();
    let (dev, _, off) = entry_offset(dev, ROOT_INO, "a");
    let dev = edit_dir_block(dev, ROOT_INO, 0, |buf, seed| {
        dir::remove(buf, seed, ROOT_INO, off).unwrap()
    });
    let dev = edit_dir_block(dev, s.b, 0, |buf, seed| {
        dir::insert(
            buf,
            seed,
            s.b,
            s.a,
            b"up",
            FileType::Directory.dirent_type(),
        )
        .unwrap();
    });
    assert_fixed(
        dev,
        &format!(
            "directory {}: not reachable from the root: moved to /lost+found",
            s.a
        ),
    );
}

#[test]
fn unreachable_inode_goes_to_lost_found() {
    let (dev, s) = sample();
    let (dev, _, off) = entry_offset(dev, ROOT_INO, "big");
    let dev = edit_dir_block(dev, ROOT_INO, 0, |buf, seed| {
        dir::remove(buf, seed, ROOT_INO, off).unwrap()
    });
    let dev = assert_fixed(
        dev,
        &format!(
            "inode {}: not referenced by any directory: moved to /lost+found as '#{}'",
            s.big, s.big
        ),
    );
    let (dev, db) = dir_block(dev, LOST_FOUND_INO, 0);
    let mut fs = open(dev);
    let buf = fs.read_block(db).unwrap();
    assert_eq!(
        dir::find(&buf, format!("#{}", s.big).as_bytes())
            .unwrap()
            .unwrap()
            .ino,
        s.big
    );
}

#[test]
fn unreachable_directory_subtree() {
    let (dev, s) = sample();
    let (dev, _, off) = entry_offset(dev, ROOT_INO, "a");
    let dev = edit_dir_block(dev, ROOT_INO, 0, |buf, seed| {
        dir::remove(buf, seed, ROOT_INO, off).unwrap()
    });
    assert_fixed(
        dev,
        &format!("directory {}: not reachable from the root", s.a),
    );
}

#[test]
fn missing_lost_found_is_recreated() {
    let (dev, _) = sample();
    let (dev, _, off) = entry_offset(dev, ROOT_INO, "lost+found");
    let dev = edit_dir_block(dev, ROOT_INO, 0, |buf, seed| {
        dir::remove(buf, seed, ROOT_INO, off).unwrap()
    });
    // The old lost+found is itself unreachable: a new one is created for it.
    assert_fixed(dev, "root: no lost+found directory: created");
}

#[test]
fn bad_directory_block_checksum() {
    let (dev, s) = sample();
    let (dev, db) = dir_block(dev, s.a, 1);
    let bs = block_size(&dev) as usize;
    let dev = flip(dev, db, bs - 2, 0);
    assert_fixed(
        dev,
        &format!("directory {} block 1 (disk block {db}): bad checksum", s.a),
    );
}

#[test]
fn malformed_directory_record() {
    let (dev, s) = sample();
    let dev = edit_dir_block(dev, s.a, 0, |buf, seed| {
        // rec_len of the third record: not a multiple of 4.
        let e = dir::records(buf).nth(2).unwrap().unwrap().offset;
        buf[e + 4] = 7;
        dir::set_csum(buf, seed, s.a).unwrap();
    });
    assert_fixed(dev, &format!("directory {} block 0", s.a));
}

#[test]
fn wrong_dotdot() {
    let (dev, s) = sample();
    let dev = edit_dir_block(dev, s.b, 0, |buf, seed| {
        dir::set_entry(buf, seed, s.b, 12, ROOT_INO, 2).unwrap();
    });
    assert_fixed(
        dev,
        &format!("directory {}: '..' is inode 1, should be {}", s.b, s.a),
    );
}

/// `..` typed as something other than a directory (found by fuzz-mount,
/// bs 4096 seed 5053: the kernel refused the root, fsck called it clean).
#[test]
fn dotdot_not_typed_as_directory() {
    for t in [1u8, 0xff] {
        let (dev, _) = sample();
        let dev = edit_dir_block(dev, ROOT_INO, 0, |buf, seed| {
            // The second record of the first block starts at 12.
            buf[12 + 7] = t;
            dir::set_csum(buf, seed, ROOT_INO).unwrap();
        });
        assert_fixed(dev, "does not start with '.' and '..'");
    }
}

#[test]
fn wrong_file_type_in_entry() {
    let (dev, s) = sample();
    let (dev, _, off) = entry_offset(dev, ROOT_INO, "hello");
    let dev = edit_dir_block(dev, ROOT_INO, 0, |buf, seed| {
        dir::set_entry(buf, seed, ROOT_INO, off, s.hello, 7).unwrap()
    });
    assert_fixed(dev, "entry 'hello'");
}

#[test]
fn bad_inode_checksum() {
    let (dev, s) = sample();
    let fs = open(dev);
    let (blk, off) = fs.geo.inode_location(s.deep).unwrap();
    let dev = flip(fs.dev, blk, off + 252, 1);
    assert_fixed(dev, &format!("inode {}: bad checksum", s.deep));
}

#[test]
fn garbage_inode_is_cleared() {
    let (dev, s) = sample();
    let fs = open(dev);
    let (blk, off) = fs.geo.inode_location(s.deep).unwrap();
    let mut dev = fs.dev;
    let bs = block_size(&dev) as usize;
    for i in 0..256 {
        dev.data[blk as usize * bs + off + i] = (i * 7 + 3) as u8;
    }
    let dev = assert_fixed(dev, &format!("inode {}: ", s.deep));
    let (r, _) = check(dev);
    assert_eq!(r.exit, 0);
}

#[test]
fn wrong_free_counts() {
    let (dev, _) = sample();
    let dev = edit_sb(dev, |sb| {
        sb.free_blocks -= 7;
        sb.free_inodes += 1;
    });
    let dev = assert_fixed(dev, "superblock: free block count");
    drop(dev);
    let (dev, _) = sample();
    let dev = edit_sb(dev, |sb| sb.free_inodes -= 1);
    assert_fixed(dev, "superblock: free inode count");
}

#[test]
fn bad_bitmap_block_checksum() {
    let (dev, _) = sample();
    let fs = open(dev);
    let b = fs.sb.block_bitmap.start;
    let dev = flip(fs.dev, b, 1000, 7);
    assert_fixed(
        dev,
        &format!("block bitmap block 0 (disk block {b}): bad checksum"),
    );
}

#[test]
fn bad_tree_block_checksum() {
    let (dev, s) = sample();
    let (dev, _, tree) = extents(dev, s.frag);
    let tb = tree[5];
    let bs = block_size(&dev) as usize;
    let dev = flip(dev, tb, bs - 1, 4);
    assert_fixed(
        dev,
        &format!(
            "inode {}: extent tree block {tb} (depth 0): bad checksum",
            s.frag
        ),
    );
}

#[test]
fn bad_tree_block_header() {
    let (dev, s) = sample();
    let (dev, before, tree) = extents(dev, s.frag);
    let tb = tree[0];
    let dev = flip(dev, tb, 0, 0);
    let dev = assert_fixed(dev, &format!("inode {}: extent tree block {tb}", s.frag));
    // A whole subtree is lost: fewer extents, still a valid tree.
    let (_, after, _) = extents(dev, s.frag);
    assert!(after.len() < before.len());
}

#[test]
fn root_directory_destroyed() {
    let (dev, _) = sample();
    let dev = edit_inode(dev, ROOT_INO, |i| i.mode = 0o100644);
    assert_fixed(dev, "root directory (inode 1): missing or not a directory");
}

#[test]
fn symlink_block_damage() {
    let (dev, s) = sample();
    let dev = edit_inode(dev, s.link_long, |i| i.size = 3);
    assert_fixed(
        dev,
        &format!(
            "inode {}: symlink of 3 bytes stored in a block",
            s.link_long
        ),
    );
}

#[test]
fn directory_size_wrong() {
    let (dev, s) = sample();
    let dev = edit_inode(dev, s.a, |i| i.size += 1);
    assert_fixed(dev, &format!("directory {}: size", s.a));
}

/// A superblock (valid checksum) whose block count is smaller than its
/// block bitmap region allows: the last bitmap block lies wholly past the
/// bitmap. fsck used to panic slicing the bitmap ("range start index 1020
/// out of range for slice of length 263" in read_bitmap).
#[test]
fn block_count_smaller_than_bitmap_region() {
    // 16 MiB of 1 KiB blocks: 3 block bitmap blocks (8160 bits each).
    let (dev, _) = populate(mem_fs(16 << 20, 1024), 20);
    let dev = edit_sb(dev, |sb| {
        assert_eq!(sb.block_bitmap.len, 3);
        sb.block_count = 2100;
        sb.free_blocks = sb.free_blocks.min(2100);
    });
    let (r, dev) = check(dev);
    assert_eq!(r.exit, 4, "{}", show(&r));
    assert!(
        r.lines
            .iter()
            .any(|l| l.contains("block bitmap block 2") && l.contains("padding")),
        "{}",
        show(&r)
    );
    let (r2, dev) = repair(dev);
    assert_eq!(r2.exit, 1, "{}", show(&r2));
    let (r3, _) = check(dev);
    assert_eq!(r3.exit, 0, "{}\n--- repair said:\n{}", show(&r3), show(&r2));
}

/// The same for the inode bitmap: an inode count that needs fewer bitmap
/// blocks than the region has.
#[test]
fn inode_count_smaller_than_bitmap_region() {
    let o = mapfs_tools::mkfs::MkfsOptions {
        inodes: Some(9000),
        ..opts(1024)
    };
    let dev = mapfs_tools::mkfs::mkfs(mapfs_tools::dev::MemDev::new(12 << 20), &o)
        .unwrap()
        .0;
    let (dev, _) = populate(dev, 20);
    let dev = edit_sb(dev, |sb| {
        assert_eq!(sb.inode_bitmap.len, 2);
        sb.inode_count = 100;
        sb.free_inodes = sb.free_inodes.min(99);
    });
    let (r, dev) = check(dev);
    assert_eq!(r.exit, 4, "{}", show(&r));
    assert!(
        r.lines
            .iter()
            .any(|l| l.contains("inode bitmap block 1") && l.contains("padding")),
        "{}",
        show(&r)
    );
    let (r2, dev) = repair(dev);
    assert_eq!(r2.exit, 1, "{}", show(&r2));
    let (r3, _) = check(dev);
    assert_eq!(r3.exit, 0, "{}\n--- repair said:\n{}", show(&r3), show(&r2));
}

/// Inodes of every live entry called `name` in directory `d`, in block and
/// offset order.
fn entries_named(dev: MemDev, d: u32, name: &str) -> (MemDev, Vec<u32>) {
    let (dev, e, _) = extents(dev, d);
    let mut fs = open(dev);
    let mut out = Vec::new();
    for fb in 0..fs.sb.block_count {
        let Some(db) = mapfs_tools::fs::map_block(&e, fb) else {
            break;
        };
        let buf = fs.read_block(db).unwrap();
        for r in dir::iter_from(&buf, 0) {
            let r = r.unwrap();
            if r.name == name.as_bytes() {
                out.push(r.ino);
            }
        }
    }
    (fs.dev, out)
}

/// Two entries `hello` in the root, both naming the same file (made through
/// the builder, which like the on-disk format does not check for
/// duplicates, so the link count counts both): the later one is removed
/// and the link count drops with it.
#[test]
fn duplicate_name_same_inode() {
    let (dev, s) = sample();
    let mut b = Builder::open(dev).unwrap();
    b.link(ROOT_INO, "hello", s.hello).unwrap();
    let dev = b.commit().unwrap();
    let (dev, found) = entries_named(dev, ROOT_INO, "hello");
    assert_eq!(found, [s.hello, s.hello]);
    let dev = assert_fixed(
        dev,
        &format!(
            "directory 1: entry 'hello' (inode {}) at block 0 offset ",
            s.hello
        ),
    );
    let (r, dev) = repair(dev);
    assert_eq!(r.exit, 0, "{}", show(&r));
    let (dev, found) = entries_named(dev, ROOT_INO, "hello");
    assert_eq!(found, [s.hello]);
    let mut fs = open(dev);
    assert_eq!(fs.read_inode(s.hello).unwrap().nlink, 2);
}

/// An entry of block 1 of /a renamed to the name of an entry of block 0:
/// the entry in block 1 (the later one) goes; the file it named has no
/// other link, so it moves to lost+found. The report names the
/// directory, the name and both inodes.
#[test]
fn duplicate_name_in_a_later_block() {
    let (dev, s) = sample();
    let name = "many-file-number-000-with-a-long-name";
    let (dev, first) = entries_named(dev, s.a, name);
    assert_eq!(first.len(), 1);
    let mut victim = 0;
    let dev = edit_dir_block(dev, s.a, 1, |buf, seed| {
        let e = dir::iter_from(buf, 0)
            .map(Result::unwrap)
            .find(|e| e.name.len() == name.len() && e.name.starts_with(b"many-file"))
            .unwrap();
        victim = e.ino;
        let off = e.offset + dir::DIRENT_HEADER;
        buf[off..off + name.len()].copy_from_slice(name.as_bytes());
        dir::set_csum(buf, seed, s.a).unwrap();
    });
    let dev = assert_fixed(
        dev,
        &format!(
            "directory {}: entry '{name}' (inode {victim}) at block 1 offset ",
            s.a
        ),
    );
    let (dev, after) = entries_named(dev, s.a, name);
    assert_eq!(after, first);
    let (dev, moved) = entries_named(dev, LOST_FOUND_INO, &format!("#{victim}"));
    assert_eq!(moved, [victim]);
    let mut fs = open(dev);
    assert_eq!(fs.read_inode(victim).unwrap().nlink, 1);
}

/// Two subdirectories called `a` in the root: the later one is no longer
/// reachable once its entry goes, so it moves to lost+found, and the link
/// counts of the root and lost+found follow.
#[test]
fn duplicate_directory_name() {
    let (dev, s) = sample();
    let mut b = Builder::open(dev).unwrap();
    let a2 = b.mkdir(ROOT_INO, "a", 0o755).unwrap();
    let dev = b.commit().unwrap();
    let (r, dev) = check(dev);
    assert_eq!(r.exit, 4, "{}", show(&r));
    let want = format!("directory 1: entry 'a' (inode {a2}) at block 0 offset ");
    assert!(
        r.lines.iter().any(|l| l.starts_with(&want)
            && l.ends_with(&format!(
                "has the same name as an earlier entry (inode {})",
                s.a
            ))),
        "{}",
        show(&r)
    );
    let dev = assert_fixed(dev, &want);
    let (dev, found) = entries_named(dev, ROOT_INO, "a");
    assert_eq!(found, [s.a]);
    let (dev, moved) = entries_named(dev, LOST_FOUND_INO, &format!("#{a2}"));
    assert_eq!(moved, [a2]);
    let mut fs = open(dev);
    // Root: '.', its own '..', and lost+found and a as subdirectories.
    assert_eq!(fs.read_inode(ROOT_INO).unwrap().nlink, 4);
    assert_eq!(fs.read_inode(LOST_FOUND_INO).unwrap().nlink, 3);
}

#[test]
fn special_file_with_size_or_data() {
    let (dev, s) = sample();
    let dev = edit_inode(dev, s.fifo, |i| i.size = 4096);
    let dev = assert_fixed(dev, &format!("special file {}: size 4096", s.fifo));
    let dev = edit_inode(dev, s.fifo, |i| i.data[3] = 0xaa);
    let dev = assert_fixed(dev, &format!("special file {}: data area is not zero", s.fifo));
    let mut fs = open(dev);
    let i = fs.read_inode(s.fifo).unwrap();
    assert_eq!((i.size, i.data.iter().any(|&b| b != 0)), (0, false));
}

#[test]
fn device_number_on_a_non_device() {
    let (dev, s) = sample();
    let dev = edit_inode(dev, s.fifo, |i| i.rdev = 0x0801);
    let dev = assert_fixed(dev, &format!("inode {}: device number 0x801", s.fifo));
    let dev = edit_inode(dev, s.hello, |i| i.rdev = 7);
    assert_fixed(dev, &format!("inode {}: device number 0x7", s.hello));
}
