//! Damage a populated image in specific ways; fsck -n must report the
//! problem naming the object, fsck -y must fix it (or say it cannot), and a
//! second fsck -n must then be clean.

mod common;

use common::*;
use mapfs_format::dir;
use mapfs_format::inode::FileType;
use mapfs_format::layout::{LOST_FOUND_INO, ROOT_INO};

#[test]
fn pristine_sample_is_clean() {
    let (dev, s) = sample();
    let (dev, _, tree) = extents(dev, s.frag);
    assert!(tree.len() > 10, "frag must have a multi-level tree");
    let (r, _) = check(dev);
    assert_eq!(r.exit, 0, "{}", show(&r));
}

#[test]
fn bad_sb_magic() {
    let (mut dev, _) = sample();
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
