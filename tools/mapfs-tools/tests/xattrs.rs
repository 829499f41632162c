//! Extended attributes on disk (512-byte inodes, feature INCOMPAT_XATTR):
//! images with attributes in the inode and in an xattr block check clean;
//! every kind of damage fsck.mapfs is meant to see (extension checksum,
//! malformed or repeated entries, a bad, misplaced or shared xattr block,
//! a block count that leaves the xattr block out) is reported by -n and
//! repaired by -y, and a second run is clean.

mod common;

use common::*;
use mapfs_format::layout::{INODE_SIZE, XATTR_INODE_SIZE};
use mapfs_format::super_block::{Superblock, INCOMPAT_XATTR};
use mapfs_format::xattr::{self, InodeExt, Namespace, EXT_AREA_OFFSET, EXT_OFFSET};
use mapfs_tools::builder::Builder;
use mapfs_tools::dev::MemDev;
use mapfs_tools::mkfs::{mkfs, MkfsOptions};

/// A list of `n` user attributes with values of `size` bytes.
fn list(n: usize, size: usize) -> Vec<u8> {
    let mut l = Vec::new();
    for i in 0..n {
        let mut out = vec![0u8; l.len() + 300 + size];
        let name = format!("attr{i}");
        let len = xattr::set(&l, Namespace::User, name.as_bytes(), Some(&vec![i as u8; size]), &mut out).unwrap();
        out.truncate(len);
        l = out;
    }
    l
}

/// The sample image with attributes: /hello in-inode only, /big with an
/// xattr block, the FIFO with an ACL-namespace entry in the inode.
fn with_xattrs() -> (MemDev, Sample) {
    let (dev, s) = sample();
    let mut b = Builder::open(dev).unwrap();
    b.set_xattrs(s.hello, &list(2, 20)).unwrap();
    b.set_xattrs(s.big, &list(8, 100)).unwrap();
    let mut acl = vec![0u8; 64];
    let n = xattr::set(&[], Namespace::AclAccess, b"", Some(&[2, 0, 0, 0]), &mut acl).unwrap();
    b.set_xattrs(s.fifo, &acl[..n]).unwrap();
    (b.commit().unwrap(), s)
}

fn ext_of(dev: MemDev, ino: u32) -> (MemDev, InodeExt) {
    let mut fs = open(dev);
    let ext = fs.read_ext(ino).unwrap().unwrap().unwrap();
    (fs.dev, ext)
}

/// Rewrites the extension of `ino` after `f` edits its raw 256 bytes
/// (checksum recomputed unless `keep_csum`).
fn edit_ext(dev: MemDev, ino: u32, keep_csum: bool, f: impl FnOnce(&mut [u8])) -> MemDev {
    let mut fs = open(dev);
    let mut slot = fs.read_slot(ino).unwrap();
    f(&mut slot[EXT_OFFSET..]);
    if !keep_csum {
        let ext = InodeExt::new(&[], 0).unwrap();
        // Re-encode around the edited area and block field.
        let block = u64::from_le_bytes(slot[264..272].try_into().unwrap());
        let mut e = ext;
        e.block = block;
        e.area.copy_from_slice(&slot[EXT_AREA_OFFSET..EXT_AREA_OFFSET + xattr::EXT_AREA_SIZE]);
        e.encode(&mut slot, fs.seed, ino).unwrap();
    }
    let (b, off) = fs.geo.inode_location(ino).unwrap();
    let at = b * fs.bs as u64 + off as u64;
    use mapfs_tools::dev::Device;
    fs.dev.write_at(at, &slot).unwrap();
    fs.dev
}

#[test]
fn images_with_attributes_check_clean() {
    let (dev, s) = with_xattrs();
    let (dev, ext) = ext_of(dev, s.big);
    assert_ne!(ext.block, 0, "8 x 100 bytes need the xattr block");
    let (dev, ext) = ext_of(dev, s.hello);
    assert_eq!(ext.block, 0);
    let (r, _) = check(dev);
    assert_eq!(r.exit, 0, "{}", show(&r));
}

#[test]
fn damaged_extension_is_dropped() {
    let (dev, s) = with_xattrs();
    let dev = edit_ext(dev, s.hello, true, |e| e[20] ^= 0x10);
    let dev = assert_fixed(dev, &format!("inode {}: extended attributes: bad checksum", s.hello));
    let (_, ext) = ext_of(dev, s.hello);
    assert_eq!(ext.entries(), b"");
}

#[test]
fn malformed_and_repeated_entries_are_dropped() {
    let (dev, s) = with_xattrs();
    // A namespace index no version defines.
    let dev = edit_ext(dev, s.hello, false, |e| e[16] = 9);
    assert_fixed(dev, &format!("inode {}: extended attributes: bad entry", s.hello));
    // The same name twice (valid checksum).
    let (dev, s) = with_xattrs();
    let one = list(1, 10);
    let dev = edit_ext(dev, s.hello, false, |e| {
        e[16..16 + 2 * one.len() + 1].fill(0);
        e[16..16 + one.len()].copy_from_slice(&one);
        e[16 + one.len()..16 + 2 * one.len()].copy_from_slice(&one);
    });
    assert_fixed(dev, &format!("inode {}: extended attributes: entry at offset {} repeats a name", s.hello, one.len()));
}

#[test]
fn bad_xattr_block_is_dropped_and_freed() {
    let (dev, s) = with_xattrs();
    let (dev, ext) = ext_of(dev, s.big);
    let dev = flip(dev, ext.block, 100, 3);
    let dev = assert_fixed(dev, &format!("inode {}: xattr block {} bad checksum", s.big, ext.block));
    let (dev, after) = ext_of(dev, s.big);
    assert_eq!(after.block, 0);
    assert_eq!(after.entries(), ext.entries(), "the in-inode attributes stay");
    let (_, used) = block_bit(dev, ext.block);
    assert!(!used, "the dropped block is free again");
}

#[test]
fn xattr_block_of_another_inode_or_outside_is_dropped() {
    // Shared with /hello's data block.
    let (dev, s) = with_xattrs();
    let (dev, hello, _) = extents(dev, s.hello);
    let shared = hello[0].disk_block;
    let dev = edit_ext(dev, s.big, false, |e| e[8..16].copy_from_slice(&shared.to_le_bytes()));
    let (r, dev) = check(dev);
    assert_eq!(r.exit, 4, "{}", show(&r));
    assert!(show(&r).contains(&format!("inode {}: xattr block {shared} is also used by inode {}", s.big, s.hello)), "{}", show(&r));
    let (r, _) = repair(dev);
    assert_eq!(r.exit, 1, "{}", show(&r));
    // In the metadata area.
    let (dev, s) = with_xattrs();
    let dev = edit_ext(dev, s.big, false, |e| e[8..16].copy_from_slice(&1u64.to_le_bytes()));
    assert_fixed(dev, &format!("inode {}: xattr block 1 is outside the data area", s.big));
}

#[test]
fn block_count_includes_the_xattr_block() {
    let (dev, s) = with_xattrs();
    let dev = edit_inode(dev, s.big, |i| i.blocks -= 1);
    let (dev, _) = ext_of(dev, s.big);
    assert_fixed(dev, &format!("inode {}: block count 40, should be 41", s.big));
}

#[test]
fn inode_size_follows_the_feature() {
    for (size, feature) in [(None, true), (Some(512), true), (Some(256), false)] {
        let o = MkfsOptions { inode_size: size, ..opts(1024) };
        let (dev, sb) = mkfs(MemDev::new(4 << 20), &o).unwrap();
        assert_eq!(sb.feature_incompat & INCOMPAT_XATTR != 0, feature);
        let want = if feature { XATTR_INODE_SIZE } else { INODE_SIZE };
        assert_eq!(usize::from(sb.inode_size), want);
        let (r, _) = check(populate(dev, 30).0);
        assert_eq!(r.exit, 0, "{}", show(&r));
    }
    // The size must match the feature, both ways.
    let (dev, _) = mkfs(MemDev::new(4 << 20), &opts(1024)).unwrap();
    let mut raw = dev.data[..1024].to_vec();
    let mut sb = Superblock::decode(&raw).unwrap();
    sb.feature_incompat &= !INCOMPAT_XATTR;
    sb.encode(&mut raw).unwrap();
    assert!(Superblock::decode(&raw).unwrap().validate(4 << 20).is_err());
    let (dev, _) = mkfs(MemDev::new(4 << 20), &MkfsOptions { inode_size: Some(256), ..opts(1024) }).unwrap();
    let mut sb = Superblock::decode(&dev.data[..1024]).unwrap();
    sb.feature_incompat |= INCOMPAT_XATTR;
    assert!(sb.validate(4 << 20).is_err());
}
