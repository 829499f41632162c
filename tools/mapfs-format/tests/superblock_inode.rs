//! Round-trip and corruption properties of the superblock and inodes.

use mapfs_format::crc32c::fs_seed;
use mapfs_format::inode::{Inode, InodeError, Timestamp, INODE_DATA_SIZE, S_IFDIR, S_IFREG};
use mapfs_format::layout::{Geometry, Region, INODE_SIZE, SUPERBLOCK_SIZE};
use mapfs_format::super_block::{SbError, Superblock, SB_MAGIC};
use proptest::prelude::*;

fn arb_region() -> impl Strategy<Value = Region> {
    (any::<u64>(), any::<u64>()).prop_map(|(start, len)| Region { start, len })
}

prop_compose! {
    fn arb_sb()(
        a in (any::<u16>(), any::<u16>(), any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>(), any::<u64>(), any::<u64>()),
        b in (any::<u32>(), any::<u32>(), any::<u32>(), arb_region(), arb_region(), arb_region(), any::<u64>()),
        c in (any::<[u8; 16]>(), any::<[u8; 32]>(), any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>(), any::<u16>(), any::<u32>()),
    ) -> Superblock {
        Superblock {
            magic: SB_MAGIC, version: a.0, inode_size: a.1, feature_compat: a.2, feature_incompat: a.3,
            feature_ro_compat: a.4, log_block_size: a.5, block_count: a.6, free_blocks: a.7,
            inode_count: b.0, free_inodes: b.1, root_ino: b.2, orphan_head: b.0 ^ b.2, inode_bitmap: b.3, block_bitmap: b.4,
            inode_table: b.5, data_start: b.6, uuid: c.0, label: c.1, create_time: c.2, mount_time: c.3,
            write_time: c.4, check_time: c.5, state: c.6, mount_count: c.7,
        }
    }
}

fn arb_ts() -> impl Strategy<Value = Timestamp> {
    (any::<i64>(), 0u32..1_000_000_000).prop_map(|(sec, nsec)| Timestamp { sec, nsec })
}

prop_compose! {
    fn arb_inode()(
        mode in 1u16..,
        a in (any::<u32>(), any::<u32>(), any::<u32>(), any::<u64>(), any::<u32>(), any::<u32>(), any::<u64>(), any::<u32>()),
        t in (arb_ts(), arb_ts(), arb_ts(), arb_ts()),
        data in proptest::collection::vec(any::<u8>(), INODE_DATA_SIZE),
    ) -> Inode {
        let mut d = [0u8; INODE_DATA_SIZE];
        d.copy_from_slice(&data);
        Inode {
            mode, uid: a.0, gid: a.1, nlink: a.2, size: a.3, generation: a.4, flags: a.5, blocks: a.6, rdev: a.7, next_orphan: a.7 ^ a.2,
            atime: t.0, mtime: t.1, ctime: t.2, crtime: t.3, data: d,
        }
    }
}

proptest! {
    #[test]
    fn sb_roundtrip(sb in arb_sb()) {
        let mut buf = [0u8; SUPERBLOCK_SIZE];
        sb.encode(&mut buf).unwrap();
        prop_assert_eq!(Superblock::decode(&buf).unwrap(), sb);
    }

    #[test]
    fn sb_flip_detected(sb in arb_sb(), pos in 0usize..SUPERBLOCK_SIZE, bit in 0u8..8) {
        let mut buf = [0u8; SUPERBLOCK_SIZE];
        sb.encode(&mut buf).unwrap();
        buf[pos] ^= 1 << bit;
        prop_assert!(Superblock::decode(&buf).is_err());
        let _ = Superblock::decode_raw(&buf).unwrap().validate(u64::MAX);
    }

    #[test]
    fn inode_roundtrip(ino in any::<u32>(), inode in arb_inode(), uuid in any::<[u8; 16]>()) {
        let seed = fs_seed(&uuid);
        let mut buf = [0u8; INODE_SIZE];
        inode.encode(&mut buf, seed, ino).unwrap();
        prop_assert_eq!(Inode::decode(&buf, seed, ino).unwrap(), inode);
        // Wrong inode number: checksum mismatch.
        let wrong = matches!(Inode::decode(&buf, seed, ino.wrapping_add(1)), Err(InodeError::BadChecksum { .. }));
        prop_assert!(wrong);
    }

    #[test]
    fn inode_flip_detected(inode in arb_inode(), pos in 0usize..INODE_SIZE, bit in 0u8..8) {
        let seed = 0x1234_5678;
        let mut buf = [0u8; INODE_SIZE];
        inode.encode(&mut buf, seed, 5).unwrap();
        buf[pos] ^= 1 << bit;
        if let Ok(i) = Inode::decode(&buf, seed, 5) {
            prop_assert!(i.is_free());
        }
    }
}

#[test]
fn sb_validate_errors() {
    let g = Geometry::compute(12, 1 << 16, 1024).unwrap();
    let sb = Superblock::new(&g, [1; 16], [0; 32], 0);
    let dev = (1u64 << 16) * 4096;
    assert_eq!(sb.validate(dev).unwrap(), g);
    assert!(matches!(
        sb.validate(dev - 1),
        Err(SbError::DeviceTooSmall { .. })
    ));
    let mut bad = sb;
    bad.feature_incompat = 0x80;
    assert_eq!(bad.validate(dev), Err(SbError::UnknownIncompat(0x80)));
    let mut bad = sb;
    bad.feature_ro_compat = 0x4;
    assert!(bad.validate(dev).is_ok());
    assert_eq!(bad.unknown_ro_compat(), 4);
    let mut bad = sb;
    bad.log_block_size = 13;
    assert_eq!(bad.validate(dev), Err(SbError::BadBlockSize(13)));
    let mut bad = sb;
    bad.block_bitmap.start = bad.inode_bitmap.start;
    assert!(matches!(bad.validate(dev), Err(SbError::RegionOverlap(..))));
    let mut bad = sb;
    bad.inode_table.len -= 1;
    assert!(matches!(bad.validate(dev), Err(SbError::RegionTooSmall(_))));
    let mut bad = sb;
    bad.data_start = bad.block_count;
    assert!(matches!(
        bad.validate(dev),
        Err(SbError::RegionOutOfRange(_))
    ));
    let mut bad = sb;
    bad.magic = 0;
    assert_eq!(bad.validate(dev), Err(SbError::BadMagic(0)));
    let mut buf = [0u8; 1024];
    sb.encode(&mut buf).unwrap();
    buf[100] ^= 1;
    assert!(matches!(
        Superblock::decode(&buf),
        Err(SbError::BadChecksum { .. })
    ));
}

#[test]
fn inode_validate() {
    let mut i = Inode {
        mode: S_IFREG | 0o644,
        nlink: 1,
        ..Inode::default()
    };
    assert!(i.validate(4096).is_ok());
    i.mode = 0o644;
    assert!(matches!(i.validate(4096), Err(InodeError::BadMode(_))));
    i.mode = S_IFDIR | 0o755;
    i.atime.nsec = 1_000_000_000;
    assert_eq!(i.validate(4096), Err(InodeError::BadNsec));
    i.atime.nsec = 0;
    i.flags = mapfs_format::inode::FLAG_INLINE;
    assert_eq!(i.validate(4096), Err(InodeError::BadInline));
}

#[test]
fn geometry_limits() {
    assert!(Geometry::compute(10, 32, 16).is_ok());
    assert!(Geometry::compute(10, 31, 16).is_err());
    assert!(Geometry::compute(9, 1000, 16).is_err());
    let g = Geometry::compute(10, 1 << 26, 1 << 22).unwrap();
    assert_eq!(g.inode_bitmap.start, 1);
    assert_eq!(g.block_bitmap.start, g.inode_bitmap.end());
    assert_eq!(g.inode_table.len, (1u64 << 22) / 4);
    assert_eq!(g.inode_location(5), Some((g.inode_table.start + 1, 256)));
    assert_eq!(g.inode_location(1 << 22), None);
}
