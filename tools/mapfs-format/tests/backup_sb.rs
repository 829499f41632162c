//! The backup superblock helpers: where it is, which fields it is
//! authoritative for, and how a candidate block is checked.

use mapfs_format::layout::{Geometry, SUPERBLOCK_SIZE};
use mapfs_format::super_block::{
    backup_sb_block, BackupError, SbError, StaticField, Superblock, COMPAT_BACKUP_SB,
    COMPAT_SUPPORTED, STATE_CLEAN, STATE_ERRORS,
};
use proptest::prelude::*;

/// A valid superblock with the backup feature, its block count and the
/// device size it fills.
fn sample(log: u32, blocks: u64) -> (Superblock, u64) {
    let g = Geometry::compute(log, blocks, 256).unwrap();
    let mut label = [0u8; 32];
    label[..4].copy_from_slice(b"test");
    let mut sb = Superblock::new(&g, [7; 16], label, 1_700_000_000);
    sb.feature_compat |= COMPAT_BACKUP_SB;
    (sb, blocks << log)
}

fn encoded(sb: &Superblock) -> Vec<u8> {
    let mut buf = vec![0u8; SUPERBLOCK_SIZE];
    sb.encode(&mut buf).unwrap();
    buf
}

#[test]
fn feature_bit_and_location() {
    assert_eq!(COMPAT_BACKUP_SB, 0x1);
    assert_ne!(COMPAT_SUPPORTED & COMPAT_BACKUP_SB, 0);
    let (sb, dev) = sample(12, 1000);
    assert_eq!(backup_sb_block(&sb), Some(999));
    // It is in the data area, whatever the geometry.
    assert!(sb.validate(dev).unwrap().data().contains(999));
    // Without the bit: no backup.
    let mut old = sb;
    old.feature_compat = 0;
    assert_eq!(backup_sb_block(&old), None);
    // Other compat bits do not matter, and no block count can panic.
    let mut odd = sb;
    odd.feature_compat = 0xFFFF_FFFF;
    assert_eq!(backup_sb_block(&odd), Some(999));
    odd.block_count = 0;
    assert_eq!(backup_sb_block(&odd), None);
    odd.block_count = u64::MAX;
    assert_eq!(backup_sb_block(&odd), Some(u64::MAX - 1));
}

/// A compat bit, known or not, never stops validation: kernels and tools
/// that do not know the backup feature still mount and check the image.
#[test]
fn compat_bits_do_not_affect_validation() {
    let (sb, dev) = sample(10, 4096);
    for compat in [0, COMPAT_BACKUP_SB, 0x8000_0000, 0xFFFF_FFFF] {
        let mut s = sb;
        s.feature_compat = compat;
        assert!(s.validate(dev).is_ok(), "compat {compat:#x}");
    }
}

#[test]
fn static_fields() {
    let (sb, _) = sample(11, 5000);
    assert_eq!(sb.static_difference(&sb), None);
    // What the kernel changes after mkfs: no difference.
    let mut live = sb;
    live.free_blocks -= 100;
    live.free_inodes -= 10;
    live.orphan_head = 12;
    live.mount_time = 5;
    live.write_time = 6;
    live.check_time = 7;
    live.create_time = 8;
    live.state = STATE_ERRORS;
    live.mount_count = 99;
    assert_eq!(sb.static_difference(&live), None);
    assert_eq!(live.static_difference(&sb), None);
    // Each static field.
    type Change = fn(&mut Superblock);
    let cases: Vec<(StaticField, Change)> = vec![
        (StaticField::Magic, |s| s.magic ^= 1),
        (StaticField::Version, |s| s.version = 2),
        (StaticField::InodeSize, |s| s.inode_size = 512),
        (StaticField::Features, |s| s.feature_compat = 0),
        (StaticField::Features, |s| s.feature_incompat = 4),
        (StaticField::Features, |s| s.feature_ro_compat = 4),
        (StaticField::BlockSize, |s| s.log_block_size = 12),
        (StaticField::BlockCount, |s| s.block_count -= 1),
        (StaticField::InodeCount, |s| s.inode_count += 8),
        (StaticField::RootIno, |s| s.root_ino = 2),
        (StaticField::InodeBitmap, |s| s.inode_bitmap.len += 1),
        (StaticField::BlockBitmap, |s| s.block_bitmap.start += 1),
        (StaticField::InodeTable, |s| s.inode_table.start += 1),
        (StaticField::DataStart, |s| s.data_start += 1),
        (StaticField::Uuid, |s| s.uuid[15] ^= 0x80),
        (StaticField::Label, |s| s.label[0] = b'X'),
    ];
    for (field, change) in cases {
        let mut other = sb;
        change(&mut other);
        assert_eq!(sb.static_difference(&other), Some(field), "{field}");
        assert_eq!(other.static_difference(&sb), Some(field), "{field}");
        // Taking the static fields back from `sb` undoes the change and
        // keeps the live fields.
        let mut damaged = live;
        change(&mut damaged);
        let merged = damaged.with_static_fields_of(&sb);
        assert_eq!(merged.static_difference(&sb), None, "{field}");
        assert_eq!(
            (
                merged.free_blocks,
                merged.free_inodes,
                merged.orphan_head,
                merged.state,
                merged.mount_count
            ),
            (
                live.free_blocks,
                live.free_inodes,
                live.orphan_head,
                live.state,
                live.mount_count
            ),
            "{field}"
        );
        assert_eq!(
            (
                merged.create_time,
                merged.mount_time,
                merged.write_time,
                merged.check_time
            ),
            (
                live.create_time,
                live.mount_time,
                live.write_time,
                live.check_time
            )
        );
    }
}

#[test]
fn decode_backup_accepts_a_good_copy() {
    for log in [10u32, 11, 12] {
        let (sb, dev) = sample(log, 2048);
        let buf = encoded(&sb);
        let (got, geo) = Superblock::decode_backup(&buf, 2047, log, dev).unwrap();
        assert_eq!(got, sb);
        assert_eq!(geo, sb.validate(dev).unwrap());
        // On a larger device too (the filesystem need not fill it).
        assert!(Superblock::decode_backup(&buf, 2047, log, dev * 3).is_ok());
        // A whole block (superblock then zeros) decodes the same.
        let mut block = vec![0u8; 1 << log];
        block[..SUPERBLOCK_SIZE].copy_from_slice(&buf);
        assert!(Superblock::decode_backup(&block, 2047, log, dev).is_ok());
        // Stale counters and state do not matter.
        let mut stale = sb;
        stale.free_blocks = 0;
        stale.state = STATE_CLEAN | STATE_ERRORS;
        assert!(Superblock::decode_backup(&encoded(&stale), 2047, log, dev).is_ok());
    }
}

#[test]
fn decode_backup_rejects() {
    let (sb, dev) = sample(11, 2048);
    let buf = encoded(&sb);
    let rej = |buf: &[u8], block: u64, log: u32, dev: u64| {
        Superblock::decode_backup(buf, block, log, dev).unwrap_err()
    };
    assert_eq!(
        rej(&buf, 2046, 11, dev),
        BackupError::WrongLocation { block_count: 2048 }
    );
    assert_eq!(rej(&buf, 2047, 10, dev), BackupError::WrongBlockSize(11));
    assert_eq!(rej(&buf, 2047, 12, dev), BackupError::WrongBlockSize(11));
    assert!(matches!(
        rej(&buf, 2047, 11, dev - 1),
        BackupError::Sb(SbError::DeviceTooSmall { .. })
    ));
    let mut old = sb;
    old.feature_compat = 0;
    assert_eq!(
        rej(&encoded(&old), 2047, 11, dev),
        BackupError::NoBackupFeature
    );
    let mut flipped = buf.clone();
    flipped[130] ^= 4;
    assert!(matches!(
        rej(&flipped, 2047, 11, dev),
        BackupError::Sb(SbError::BadChecksum { .. })
    ));
    assert_eq!(
        rej(&[0u8; 1024], 2047, 11, dev),
        BackupError::Sb(SbError::BadMagic(0))
    );
    assert_eq!(
        rej(&buf[..1000], 2047, 11, dev),
        BackupError::Sb(SbError::TooShort)
    );
    let mut newer = sb;
    newer.feature_incompat = 0x100;
    assert_eq!(
        rej(&encoded(&newer), 2047, 11, dev),
        BackupError::Sb(SbError::UnknownIncompat(0x100))
    );
    // Every error has a message.
    for e in [
        BackupError::NoBackupFeature,
        BackupError::WrongBlockSize(11),
        BackupError::WrongBlockSize(99),
        BackupError::WrongLocation { block_count: 5 },
        BackupError::Sb(SbError::BadMagic(0)),
    ] {
        assert!(!e.to_string().is_empty());
    }
}

proptest! {
    /// Any bytes, any place, any block size: an answer, never a panic; and
    /// an accepted backup always names the block it was found at.
    #[test]
    fn decode_backup_total(
        bytes in proptest::collection::vec(any::<u8>(), 0..1100),
        block in any::<u64>(),
        log in any::<u32>(),
        dev in any::<u64>(),
    ) {
        if let Ok((sb, _)) = Superblock::decode_backup(&bytes, block, log, dev) {
            prop_assert_eq!(backup_sb_block(&sb), Some(block));
            prop_assert_eq!(sb.log_block_size, log);
        }
    }

    /// A bit flipped anywhere in a backup is caught.
    #[test]
    fn decode_backup_flip(pos in 0usize..SUPERBLOCK_SIZE, bit in 0u8..8) {
        let (sb, dev) = sample(10, 3000);
        let mut buf = encoded(&sb);
        buf[pos] ^= 1 << bit;
        prop_assert!(Superblock::decode_backup(&buf, 2999, 10, dev).is_err());
    }
}
