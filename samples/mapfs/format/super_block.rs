//! The superblock: first 1024 bytes of the device.
//!
//! | off | size | field |
//! |----:|-----:|-------|
//! | 0 | 4 | magic `"MAPF"` |
//! | 4 | 2 | version (1) |
//! | 6 | 2 | inode size (256; 512 with [`INCOMPAT_XATTR`]) |
//! | 8 | 4 | compat features |
//! | 12 | 4 | incompat features |
//! | 16 | 4 | ro_compat features |
//! | 20 | 4 | log2(block size) |
//! | 24 | 8 | block count |
//! | 32 | 8 | free blocks |
//! | 40 | 4 | inode count |
//! | 44 | 4 | free inodes |
//! | 48 | 4 | root inode |
//! | 52 | 4 | orphan list head: first inode unlinked while open (0: none) |
//! | 56 | 8+8 | inode bitmap start, length |
//! | 72 | 8+8 | block bitmap start, length |
//! | 88 | 8+8 | inode table start, length |
//! | 104 | 8 | data start |
//! | 112 | 16 | UUID |
//! | 128 | 32 | label (UTF-8, NUL padded) |
//! | 160 | 8 | creation time |
//! | 168 | 8 | last mount time |
//! | 176 | 8 | last write time |
//! | 184 | 8 | last check time |
//! | 192 | 2 | state |
//! | 194 | 2 | reserved (0) |
//! | 196 | 4 | mount count |
//! | 200 | 820 | reserved (0) |
//! | 1020 | 4 | CRC32C of bytes 0..1020 |
//!
//! With the compat feature [`COMPAT_BACKUP_SB`], a copy of the superblock
//! made at mkfs time (the backup superblock) starts the last block of the
//! filesystem ([`backup_sb_block`]). Only its static fields (those that
//! never change after mkfs, see [`StaticField`]) are authoritative: the
//! kernel does not update it.

use super::crc32c::crc32c;
use super::layout::{
    block_size_from_log, region_sizes, Geometry, Region, INODE_SIZE, MAX_BLOCK_COUNT, XATTR_INODE_SIZE,
    MIN_BLOCK_COUNT, MIN_INODE_COUNT, ROOT_INO, SUPERBLOCK_SIZE,
};
use super::le::*;

/// Superblock magic, the bytes `"MAPF"` at offset 0.
pub const SB_MAGIC: u32 = u32::from_le_bytes(*b"MAPF");
/// On-disk format version this code implements.
pub const SB_VERSION: u16 = 1;
/// Compat feature: a backup superblock is kept at the start of the last
/// block of the filesystem (see [`backup_sb_block`]).
pub const COMPAT_BACKUP_SB: u32 = 0x1;
/// Compat features this code knows.
pub const COMPAT_SUPPORTED: u32 = COMPAT_BACKUP_SB;
/// Incompat feature: inodes are 512 bytes and carry extended attributes
/// (see [`super::xattr`]); the inode size field says 512.
pub const INCOMPAT_XATTR: u32 = 0x1;
/// Incompat features this code knows.
pub const INCOMPAT_SUPPORTED: u32 = INCOMPAT_XATTR;
/// Ro-compat features this code knows (none defined yet).
pub const RO_COMPAT_SUPPORTED: u32 = 0;
/// State bit: the filesystem was cleanly unmounted (clear while mounted rw).
pub const STATE_CLEAN: u16 = 0x0001;
/// State bit: the kernel detected an inconsistency; fsck should run.
pub const STATE_ERRORS: u16 = 0x0002;
/// Length of the label field.
pub const LABEL_SIZE: usize = 32;
/// Offset of the checksum field.
pub const SB_CSUM_OFFSET: usize = SUPERBLOCK_SIZE - 4;

mod off {
    pub(super) const MAGIC: usize = 0;
    pub(super) const VERSION: usize = 4;
    pub(super) const INODE_SIZE: usize = 6;
    pub(super) const COMPAT: usize = 8;
    pub(super) const INCOMPAT: usize = 12;
    pub(super) const RO_COMPAT: usize = 16;
    pub(super) const LOG_BS: usize = 20;
    pub(super) const BLOCK_COUNT: usize = 24;
    pub(super) const FREE_BLOCKS: usize = 32;
    pub(super) const INODE_COUNT: usize = 40;
    pub(super) const FREE_INODES: usize = 44;
    pub(super) const ROOT_INO: usize = 48;
    pub(super) const ORPHAN_HEAD: usize = 52;
    pub(super) const IB_START: usize = 56;
    pub(super) const IB_LEN: usize = 64;
    pub(super) const BB_START: usize = 72;
    pub(super) const BB_LEN: usize = 80;
    pub(super) const IT_START: usize = 88;
    pub(super) const IT_LEN: usize = 96;
    pub(super) const DATA_START: usize = 104;
    pub(super) const UUID: usize = 112;
    pub(super) const LABEL: usize = 128;
    pub(super) const CTIME: usize = 160;
    pub(super) const MTIME: usize = 168;
    pub(super) const WTIME: usize = 176;
    pub(super) const CHECK_TIME: usize = 184;
    pub(super) const STATE: usize = 192;
    pub(super) const MOUNT_COUNT: usize = 196;
}

/// Which metadata region a layout error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// The inode bitmap.
    InodeBitmap,
    /// The block bitmap.
    BlockBitmap,
    /// The inode table.
    InodeTable,
    /// The data area.
    Data,
}

impl core::fmt::Display for RegionKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::InodeBitmap => "inode bitmap",
            Self::BlockBitmap => "block bitmap",
            Self::InodeTable => "inode table",
            Self::Data => "data area",
        })
    }
}

/// Superblock decode and validation errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SbError {
    /// The buffer is shorter than 1024 bytes.
    TooShort,
    /// The magic number is wrong (value found).
    BadMagic(u32),
    /// The stored checksum does not match.
    BadChecksum {
        /// Checksum stored on disk.
        stored: u32,
        /// Checksum computed over the contents.
        computed: u32,
    },
    /// Unsupported format version.
    BadVersion(u16),
    /// Incompat feature bits this code does not know (the unknown bits).
    UnknownIncompat(u32),
    /// log2(block size) not in 10..=12.
    BadBlockSize(u32),
    /// Inode size other than 256 (512 with [`INCOMPAT_XATTR`]).
    BadInodeSize(u16),
    /// Block count outside the supported range.
    BadBlockCount(u64),
    /// Inode count below the minimum.
    BadInodeCount(u32),
    /// Root inode number is not [`ROOT_INO`].
    BadRootIno(u32),
    /// A free count exceeds the total.
    BadFreeCount,
    /// The device is smaller than the filesystem.
    DeviceTooSmall {
        /// Bytes the filesystem needs.
        needed: u64,
        /// Bytes the device has.
        have: u64,
    },
    /// A region lies (partly) outside the device or overlaps block 0.
    RegionOutOfRange(RegionKind),
    /// A region is too small for what it must hold.
    RegionTooSmall(RegionKind),
    /// Two regions overlap.
    RegionOverlap(RegionKind, RegionKind),
}

impl core::fmt::Display for SbError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooShort => write!(f, "superblock buffer too short"),
            Self::BadMagic(m) => {
                write!(f, "bad magic number {:#010x} (not a mapfs filesystem?)", m)
            }
            Self::BadChecksum { stored, computed } => {
                write!(
                    f,
                    "bad checksum (stored {:#010x}, computed {:#010x})",
                    stored, computed
                )
            }
            Self::BadVersion(v) => write!(f, "unsupported format version {}", v),
            Self::UnknownIncompat(x) => write!(f, "unknown incompatible features {:#x}", x),
            Self::BadBlockSize(l) => write!(f, "unsupported block size (log2 {})", l),
            Self::BadInodeSize(s) => write!(f, "unsupported inode size {}", s),
            Self::BadBlockCount(n) => write!(f, "block count {} out of range", n),
            Self::BadInodeCount(n) => write!(f, "inode count {} out of range", n),
            Self::BadRootIno(n) => write!(f, "root inode {} is not {}", n, ROOT_INO),
            Self::BadFreeCount => write!(f, "free block or inode count exceeds the total"),
            Self::DeviceTooSmall { needed, have } => {
                write!(
                    f,
                    "filesystem needs {} bytes but the device has only {}",
                    needed, have
                )
            }
            Self::RegionOutOfRange(r) => write!(f, "{} out of range", r),
            Self::RegionTooSmall(r) => write!(f, "{} too small", r),
            Self::RegionOverlap(a, b) => write!(f, "{} overlaps {}", a, b),
        }
    }
}

/// A superblock field that never changes after mkfs: what a backup
/// superblock is authoritative for ([`Superblock::static_difference`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StaticField {
    /// The magic number.
    Magic,
    /// The format version.
    Version,
    /// The inode size.
    InodeSize,
    /// The compat, incompat or ro_compat feature bits.
    Features,
    /// log2 of the block size.
    BlockSize,
    /// The block count.
    BlockCount,
    /// The inode count.
    InodeCount,
    /// The root inode number.
    RootIno,
    /// The inode bitmap location.
    InodeBitmap,
    /// The block bitmap location.
    BlockBitmap,
    /// The inode table location.
    InodeTable,
    /// The first block of the data area.
    DataStart,
    /// The UUID.
    Uuid,
    /// The volume label.
    Label,
}

impl core::fmt::Display for StaticField {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Magic => "magic number",
            Self::Version => "version",
            Self::InodeSize => "inode size",
            Self::Features => "feature flags",
            Self::BlockSize => "block size",
            Self::BlockCount => "block count",
            Self::InodeCount => "inode count",
            Self::RootIno => "root inode",
            Self::InodeBitmap => "inode bitmap location",
            Self::BlockBitmap => "block bitmap location",
            Self::InodeTable => "inode table location",
            Self::DataStart => "data area start",
            Self::Uuid => "UUID",
            Self::Label => "label",
        })
    }
}

/// Why a block does not hold a usable backup superblock
/// ([`Superblock::decode_backup`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackupError {
    /// It does not decode (magic, checksum) or does not validate.
    Sb(SbError),
    /// It does not have the [`COMPAT_BACKUP_SB`] feature.
    NoBackupFeature,
    /// Its block size is not the one it was looked for with (its log2).
    WrongBlockSize(u32),
    /// It says the filesystem has `block_count` blocks, so its backup is
    /// not at the block where it was found.
    WrongLocation {
        /// Its block count.
        block_count: u64,
    },
}

impl core::fmt::Display for BackupError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Sb(e) => write!(f, "{}", e),
            Self::NoBackupFeature => write!(f, "no backup superblock feature"),
            Self::WrongBlockSize(l) => write!(
                f,
                "its filesystem has {}-byte blocks",
                block_size_from_log(*l).unwrap_or(0)
            ),
            Self::WrongLocation { block_count } => write!(
                f,
                "its filesystem has {} blocks, so its backup is at block {}",
                block_count,
                block_count.saturating_sub(1)
            ),
        }
    }
}

/// The block holding the backup superblock of the filesystem `sb`
/// describes: the last block, `block_count - 1`, when `sb` has the
/// [`COMPAT_BACKUP_SB`] feature; `None` without it. The backup is a copy
/// of the 1024-byte superblock at the start of that block (the rest of the
/// block is zero); the block lies in the data area, is marked in use in
/// the block bitmap and belongs to no file.
pub fn backup_sb_block(sb: &Superblock) -> Option<u64> {
    if sb.feature_compat & COMPAT_BACKUP_SB == 0 {
        return None;
    }
    sb.block_count.checked_sub(1)
}

/// The decoded superblock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Superblock {
    /// Magic number ([`SB_MAGIC`] when valid).
    pub magic: u32,
    /// Format version ([`SB_VERSION`]).
    pub version: u16,
    /// Inode size in bytes (256).
    pub inode_size: u16,
    /// Compatible feature bits (unknown ones are ignored).
    pub feature_compat: u32,
    /// Incompatible feature bits (unknown ones: refuse to mount or check).
    pub feature_incompat: u32,
    /// Read-only-compatible feature bits (unknown ones: mount read-only).
    pub feature_ro_compat: u32,
    /// log2 of the block size (10, 11 or 12).
    pub log_block_size: u32,
    /// Total blocks in the filesystem.
    pub block_count: u64,
    /// Free blocks.
    pub free_blocks: u64,
    /// Inode slots (inode 0 reserved, so `inode_count - 1` usable inodes).
    pub inode_count: u32,
    /// Free inodes.
    pub free_inodes: u32,
    /// Root directory inode number ([`ROOT_INO`]).
    pub root_ino: u32,
    /// First inode of the orphan list (unlinked while still open, to be
    /// freed at the next mount or by fsck); 0 when the list is empty.
    pub orphan_head: u32,
    /// Inode bitmap location.
    pub inode_bitmap: Region,
    /// Block bitmap location.
    pub block_bitmap: Region,
    /// Inode table location.
    pub inode_table: Region,
    /// First block of the data area.
    pub data_start: u64,
    /// Filesystem UUID.
    pub uuid: [u8; 16],
    /// Volume label, NUL padded.
    pub label: [u8; LABEL_SIZE],
    /// Creation time (seconds since the epoch).
    pub create_time: i64,
    /// Last mount time.
    pub mount_time: i64,
    /// Last superblock write time.
    pub write_time: i64,
    /// Last fsck time.
    pub check_time: i64,
    /// State bits ([`STATE_CLEAN`], [`STATE_ERRORS`]).
    pub state: u16,
    /// Number of mounts since mkfs.
    pub mount_count: u32,
}

impl Superblock {
    /// A superblock for a fresh filesystem with geometry `g`; all counts free
    /// except what the caller adjusts.
    pub fn new(g: &Geometry, uuid: [u8; 16], label: [u8; LABEL_SIZE], now: i64) -> Self {
        Self {
            magic: SB_MAGIC,
            version: SB_VERSION,
            inode_size: g.inode_size as u16,
            feature_compat: 0,
            feature_incompat: if g.has_xattrs() { INCOMPAT_XATTR } else { 0 },
            feature_ro_compat: 0,
            log_block_size: g.log_block_size,
            block_count: g.block_count,
            free_blocks: g.block_count.saturating_sub(g.data_start),
            inode_count: g.inode_count,
            free_inodes: g.inode_count.saturating_sub(1),
            root_ino: ROOT_INO,
            orphan_head: 0,
            inode_bitmap: g.inode_bitmap,
            block_bitmap: g.block_bitmap,
            inode_table: g.inode_table,
            data_start: g.data_start,
            uuid,
            label,
            create_time: now,
            mount_time: 0,
            write_time: now,
            check_time: now,
            state: STATE_CLEAN,
            mount_count: 0,
        }
    }

    /// Decodes the fields without checking magic, checksum or values.
    pub fn decode_raw(buf: &[u8]) -> Result<Self, SbError> {
        let b = buf.get(..SUPERBLOCK_SIZE).ok_or(SbError::TooShort)?;
        let r64 = |o| get_u64(b, o).unwrap_or(0);
        let r32 = |o| get_u32(b, o).unwrap_or(0);
        let r16 = |o| get_u16(b, o).unwrap_or(0);
        let ri64 = |o| get_i64(b, o).unwrap_or(0);
        Ok(Self {
            magic: r32(off::MAGIC),
            version: r16(off::VERSION),
            inode_size: r16(off::INODE_SIZE),
            feature_compat: r32(off::COMPAT),
            feature_incompat: r32(off::INCOMPAT),
            feature_ro_compat: r32(off::RO_COMPAT),
            log_block_size: r32(off::LOG_BS),
            block_count: r64(off::BLOCK_COUNT),
            free_blocks: r64(off::FREE_BLOCKS),
            inode_count: r32(off::INODE_COUNT),
            free_inodes: r32(off::FREE_INODES),
            root_ino: r32(off::ROOT_INO),
            orphan_head: r32(off::ORPHAN_HEAD),
            inode_bitmap: Region {
                start: r64(off::IB_START),
                len: r64(off::IB_LEN),
            },
            block_bitmap: Region {
                start: r64(off::BB_START),
                len: r64(off::BB_LEN),
            },
            inode_table: Region {
                start: r64(off::IT_START),
                len: r64(off::IT_LEN),
            },
            data_start: r64(off::DATA_START),
            uuid: get_array(b, off::UUID).unwrap_or([0; 16]),
            label: get_array(b, off::LABEL).unwrap_or([0; LABEL_SIZE]),
            create_time: ri64(off::CTIME),
            mount_time: ri64(off::MTIME),
            write_time: ri64(off::WTIME),
            check_time: ri64(off::CHECK_TIME),
            state: r16(off::STATE),
            mount_count: r32(off::MOUNT_COUNT),
        })
    }

    /// Stored and computed checksum of a superblock buffer.
    pub fn checksums(buf: &[u8]) -> Result<(u32, u32), SbError> {
        let b = buf.get(..SUPERBLOCK_SIZE).ok_or(SbError::TooShort)?;
        let stored = get_u32(b, SB_CSUM_OFFSET).ok_or(SbError::TooShort)?;
        let computed = crc32c(b.get(..SB_CSUM_OFFSET).ok_or(SbError::TooShort)?);
        Ok((stored, computed))
    }

    /// Decodes and checks magic and checksum (not the field values: call
    /// [`Superblock::validate`] for those).
    pub fn decode(buf: &[u8]) -> Result<Self, SbError> {
        let sb = Self::decode_raw(buf)?;
        if sb.magic != SB_MAGIC {
            return Err(SbError::BadMagic(sb.magic));
        }
        let (stored, computed) = Self::checksums(buf)?;
        if stored != computed {
            return Err(SbError::BadChecksum { stored, computed });
        }
        Ok(sb)
    }

    /// Encodes into the first 1024 bytes of `buf` (reserved bytes zeroed)
    /// and stores the checksum.
    pub fn encode(&self, buf: &mut [u8]) -> Result<(), SbError> {
        let b = buf.get_mut(..SUPERBLOCK_SIZE).ok_or(SbError::TooShort)?;
        b.fill(0);
        put_u32(b, off::MAGIC, self.magic);
        put_u16(b, off::VERSION, self.version);
        put_u16(b, off::INODE_SIZE, self.inode_size);
        put_u32(b, off::COMPAT, self.feature_compat);
        put_u32(b, off::INCOMPAT, self.feature_incompat);
        put_u32(b, off::RO_COMPAT, self.feature_ro_compat);
        put_u32(b, off::LOG_BS, self.log_block_size);
        put_u64(b, off::BLOCK_COUNT, self.block_count);
        put_u64(b, off::FREE_BLOCKS, self.free_blocks);
        put_u32(b, off::INODE_COUNT, self.inode_count);
        put_u32(b, off::FREE_INODES, self.free_inodes);
        put_u32(b, off::ROOT_INO, self.root_ino);
        put_u32(b, off::ORPHAN_HEAD, self.orphan_head);
        put_u64(b, off::IB_START, self.inode_bitmap.start);
        put_u64(b, off::IB_LEN, self.inode_bitmap.len);
        put_u64(b, off::BB_START, self.block_bitmap.start);
        put_u64(b, off::BB_LEN, self.block_bitmap.len);
        put_u64(b, off::IT_START, self.inode_table.start);
        put_u64(b, off::IT_LEN, self.inode_table.len);
        put_u64(b, off::DATA_START, self.data_start);
        put_bytes(b, off::UUID, &self.uuid);
        put_bytes(b, off::LABEL, &self.label);
        put_i64(b, off::CTIME, self.create_time);
        put_i64(b, off::MTIME, self.mount_time);
        put_i64(b, off::WTIME, self.write_time);
        put_i64(b, off::CHECK_TIME, self.check_time);
        put_u16(b, off::STATE, self.state);
        put_u32(b, off::MOUNT_COUNT, self.mount_count);
        let (_, computed) = Self::checksums(b)?;
        put_u32(b, SB_CSUM_OFFSET, computed);
        Ok(())
    }

    /// Block size in bytes (1024 if `log_block_size` is invalid; validate first).
    pub fn block_size(&self) -> u32 {
        block_size_from_log(self.log_block_size).unwrap_or(1024)
    }

    /// Unknown ro_compat bits: when non-zero the filesystem may only be
    /// mounted read-only.
    pub fn unknown_ro_compat(&self) -> u32 {
        self.feature_ro_compat & !RO_COMPAT_SUPPORTED
    }

    /// Unknown incompat bits: when non-zero the filesystem must not be
    /// mounted or checked.
    pub fn unknown_incompat(&self) -> u32 {
        self.feature_incompat & !INCOMPAT_SUPPORTED
    }

    /// Label as bytes without the NUL padding.
    pub fn label_bytes(&self) -> &[u8] {
        let n = self
            .label
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(LABEL_SIZE);
        self.label.get(..n).unwrap_or(&[])
    }

    /// The first field that never changes after mkfs (see [`StaticField`])
    /// in which `self` and `other` differ, if any: a backup superblock must
    /// agree with the primary on all of them.
    pub fn static_difference(&self, other: &Superblock) -> Option<StaticField> {
        let a = self;
        let b = other;
        let diffs = [
            (a.magic != b.magic, StaticField::Magic),
            (a.version != b.version, StaticField::Version),
            (a.inode_size != b.inode_size, StaticField::InodeSize),
            (
                a.feature_compat != b.feature_compat
                    || a.feature_incompat != b.feature_incompat
                    || a.feature_ro_compat != b.feature_ro_compat,
                StaticField::Features,
            ),
            (a.log_block_size != b.log_block_size, StaticField::BlockSize),
            (a.block_count != b.block_count, StaticField::BlockCount),
            (a.inode_count != b.inode_count, StaticField::InodeCount),
            (a.root_ino != b.root_ino, StaticField::RootIno),
            (a.inode_bitmap != b.inode_bitmap, StaticField::InodeBitmap),
            (a.block_bitmap != b.block_bitmap, StaticField::BlockBitmap),
            (a.inode_table != b.inode_table, StaticField::InodeTable),
            (a.data_start != b.data_start, StaticField::DataStart),
            (a.uuid != b.uuid, StaticField::Uuid),
            (a.label != b.label, StaticField::Label),
        ];
        diffs.iter().find(|(d, _)| *d).map(|(_, f)| *f)
    }

    /// `self` with every static field (see [`StaticField`]) taken from
    /// `other`; the counters, orphan list head, times, state and mount
    /// count stay `self`'s.
    pub fn with_static_fields_of(&self, other: &Superblock) -> Superblock {
        Superblock {
            free_blocks: self.free_blocks,
            free_inodes: self.free_inodes,
            orphan_head: self.orphan_head,
            create_time: self.create_time,
            mount_time: self.mount_time,
            write_time: self.write_time,
            check_time: self.check_time,
            state: self.state,
            mount_count: self.mount_count,
            ..*other
        }
    }

    /// Checks that `buf`, read at the start of block `block` for a block
    /// size of `1 << log_block_size` bytes, is a usable backup superblock
    /// of a filesystem on a device of `device_bytes` bytes: it decodes
    /// (magic, checksum) and validates, has [`COMPAT_BACKUP_SB`], has that
    /// block size, and its filesystem's last block is `block`. Returns it
    /// with its geometry.
    pub fn decode_backup(
        buf: &[u8],
        block: u64,
        log_block_size: u32,
        device_bytes: u64,
    ) -> Result<(Self, Geometry), BackupError> {
        let sb = Self::decode(buf).map_err(BackupError::Sb)?;
        let geo = sb.validate(device_bytes).map_err(BackupError::Sb)?;
        if sb.log_block_size != log_block_size {
            return Err(BackupError::WrongBlockSize(sb.log_block_size));
        }
        if backup_sb_block(&sb).is_none() {
            return Err(BackupError::NoBackupFeature);
        }
        if backup_sb_block(&sb) != Some(block) {
            return Err(BackupError::WrongLocation {
                block_count: sb.block_count,
            });
        }
        Ok((sb, geo))
    }

    /// Checks every field for consistency, and that the filesystem fits in a
    /// device of `device_bytes` bytes. Does not check magic or checksum
    /// (see [`Superblock::decode`]). Returns the first problem found.
    pub fn validate(&self, device_bytes: u64) -> Result<Geometry, SbError> {
        if self.magic != SB_MAGIC {
            return Err(SbError::BadMagic(self.magic));
        }
        if self.version != SB_VERSION {
            return Err(SbError::BadVersion(self.version));
        }
        if self.unknown_incompat() != 0 {
            return Err(SbError::UnknownIncompat(self.unknown_incompat()));
        }
        let bs = block_size_from_log(self.log_block_size)
            .ok_or(SbError::BadBlockSize(self.log_block_size))?;
        let inode_size = if self.feature_incompat & INCOMPAT_XATTR != 0 { XATTR_INODE_SIZE } else { INODE_SIZE };
        if usize::from(self.inode_size) != inode_size {
            return Err(SbError::BadInodeSize(self.inode_size));
        }
        if !(MIN_BLOCK_COUNT..=MAX_BLOCK_COUNT).contains(&self.block_count) {
            return Err(SbError::BadBlockCount(self.block_count));
        }
        if self.inode_count < MIN_INODE_COUNT {
            return Err(SbError::BadInodeCount(self.inode_count));
        }
        if self.root_ino != ROOT_INO {
            return Err(SbError::BadRootIno(self.root_ino));
        }
        if self.free_blocks > self.block_count || self.free_inodes >= self.inode_count {
            return Err(SbError::BadFreeCount);
        }
        // Region sizes: what each must hold.
        let (ib, bb, it) = region_sizes(self.log_block_size, self.block_count, self.inode_count, u32::from(self.inode_size))
            .ok_or(SbError::BadBlockSize(self.log_block_size))?;
        let regions = [
            (RegionKind::InodeBitmap, self.inode_bitmap, ib),
            (RegionKind::BlockBitmap, self.block_bitmap, bb),
            (RegionKind::InodeTable, self.inode_table, it),
        ];
        for (kind, r, min_len) in regions {
            if r.start == 0 || r.start.checked_add(r.len).is_none() || r.end() > self.data_start {
                return Err(SbError::RegionOutOfRange(kind));
            }
            if r.len < min_len {
                return Err(SbError::RegionTooSmall(kind));
            }
        }
        for (i, (ka, ra, _)) in regions.iter().enumerate() {
            for (kb, rb, _) in regions.iter().skip(i + 1) {
                if ra.overlaps(rb) {
                    return Err(SbError::RegionOverlap(*ka, *kb));
                }
            }
        }
        if self.data_start >= self.block_count {
            return Err(SbError::RegionOutOfRange(RegionKind::Data));
        }
        let needed = self.block_count.saturating_mul(u64::from(bs));
        if needed > device_bytes {
            return Err(SbError::DeviceTooSmall {
                needed,
                have: device_bytes,
            });
        }
        Ok(Geometry {
            log_block_size: self.log_block_size,
            block_count: self.block_count,
            inode_count: self.inode_count,
            inode_size: u32::from(self.inode_size),
            inode_bitmap: self.inode_bitmap,
            block_bitmap: self.block_bitmap,
            inode_table: self.inode_table,
            data_start: self.data_start,
        })
    }
}
