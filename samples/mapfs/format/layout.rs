//! Filesystem geometry: block sizes, limits and the single-group layout.
//!
//! ```text
//! block 0            superblock (first 1024 bytes; rest of block 0 unused)
//! inode bitmap       inode_bitmap.len blocks
//! block bitmap       block_bitmap.len blocks
//! inode table        inode_table.len blocks
//! data area          data_start .. block_count; with the compat feature
//!                    COMPAT_BACKUP_SB its last block holds the backup
//!                    superblock (super_block::backup_sb_block)
//! ```

/// Byte offset of the superblock on the device (independent of block size).
pub const SUPERBLOCK_OFFSET: u64 = 0;
/// Size in bytes of the on-disk superblock.
pub const SUPERBLOCK_SIZE: usize = 1024;
/// Smallest supported log2(block size).
pub const MIN_LOG_BLOCK_SIZE: u32 = 10;
/// Largest supported log2(block size).
pub const MAX_LOG_BLOCK_SIZE: u32 = 12;
/// Size in bytes of an on-disk inode without the extended-attribute
/// extension (and of the part of every inode that [`super::inode`] decodes).
pub const INODE_SIZE: usize = 256;
/// Size in bytes of an on-disk inode with the feature
/// [`super::super_block::INCOMPAT_XATTR`] (see [`super::xattr`]).
pub const XATTR_INODE_SIZE: usize = 512;
/// Inode number of the root directory.
pub const ROOT_INO: u32 = 1;
/// Inode number mkfs gives `/lost+found` (fsck locates it by name, not number).
pub const LOST_FOUND_INO: u32 = 2;
/// Bytes at the end of each bitmap block holding its checksum.
pub const BITMAP_TAIL: usize = 4;
/// Smallest block count of a valid filesystem.
pub const MIN_BLOCK_COUNT: u64 = 32;
/// Largest block count of a valid filesystem (2^40 blocks).
pub const MAX_BLOCK_COUNT: u64 = 1 << 40;
/// Smallest inode count (slots, including the reserved inode 0).
pub const MIN_INODE_COUNT: u32 = 16;
/// Largest inode count (slots, including the reserved inode 0).
pub const MAX_INODE_COUNT: u32 = u32::MAX;

/// A contiguous range of blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Region {
    /// First block.
    pub start: u64,
    /// Number of blocks.
    pub len: u64,
}

impl Region {
    /// One past the last block, saturating.
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }

    /// Whether `block` lies in the region.
    pub fn contains(&self, block: u64) -> bool {
        block >= self.start && block < self.end()
    }

    /// Whether the two regions share a block.
    pub fn overlaps(&self, other: &Region) -> bool {
        self.len != 0 && other.len != 0 && self.start < other.end() && other.start < self.end()
    }
}

/// Errors from geometry computation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// log2(block size) is not 10, 11 or 12.
    BadBlockSize(u32),
    /// Block count below [`MIN_BLOCK_COUNT`] or above [`MAX_BLOCK_COUNT`].
    BadBlockCount(u64),
    /// Inode count below [`MIN_INODE_COUNT`].
    BadInodeCount(u32),
    /// Inode size neither [`INODE_SIZE`] nor [`XATTR_INODE_SIZE`].
    BadInodeSize(u32),
    /// The metadata does not leave at least `needed` blocks of data area.
    TooSmall {
        /// Blocks the layout needs (metadata plus the minimum data area).
        needed: u64,
        /// Blocks available.
        have: u64,
    },
}

impl core::fmt::Display for LayoutError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadBlockSize(l) => write!(f, "unsupported block size 2^{}", l),
            Self::BadBlockCount(n) => write!(
                f,
                "block count {} outside {}..={}",
                n, MIN_BLOCK_COUNT, MAX_BLOCK_COUNT
            ),
            Self::BadInodeCount(n) => write!(f, "inode count {} below {}", n, MIN_INODE_COUNT),
            Self::BadInodeSize(n) => write!(f, "inode size {} is not {} or {}", n, INODE_SIZE, XATTR_INODE_SIZE),
            Self::TooSmall { needed, have } => {
                write!(f, "needs at least {} blocks, have {}", needed, have)
            }
        }
    }
}

/// Block size in bytes for a log2 value, if supported.
pub fn block_size_from_log(log: u32) -> Option<u32> {
    if (MIN_LOG_BLOCK_SIZE..=MAX_LOG_BLOCK_SIZE).contains(&log) {
        Some(1u32 << log)
    } else {
        None
    }
}

/// Number of bits (blocks or inodes) one bitmap block tracks:
/// `(block_size - 4) * 8`.
pub fn bits_per_bitmap_block(block_size: u32) -> u64 {
    u64::from(block_size)
        .saturating_sub(BITMAP_TAIL as u64)
        .saturating_mul(8)
}

/// Number of inodes of `inode_size` bytes in one inode-table block.
pub fn inodes_per_block(block_size: u32, inode_size: u32) -> u32 {
    block_size.checked_div(inode_size).unwrap_or(0)
}

/// Minimum data blocks mkfs needs (root directory and lost+found).
pub const MIN_DATA_BLOCKS: u64 = 2;

/// The computed placement of every region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// log2 of the block size.
    pub log_block_size: u32,
    /// Total number of blocks.
    pub block_count: u64,
    /// Number of inode slots (inode 0 is reserved).
    pub inode_count: u32,
    /// Bytes per inode: [`INODE_SIZE`] or [`XATTR_INODE_SIZE`].
    pub inode_size: u32,
    /// Inode bitmap blocks.
    pub inode_bitmap: Region,
    /// Block bitmap blocks.
    pub block_bitmap: Region,
    /// Inode table blocks.
    pub inode_table: Region,
    /// First block of the data area (which ends at `block_count`).
    pub data_start: u64,
}

fn div_ceil(a: u64, b: u64) -> u64 {
    a.checked_div(b)
        .map_or(0, |q| q + u64::from(a.checked_rem(b) != Some(0)))
}

/// Minimum sizes in blocks of the inode bitmap, block bitmap and inode
/// table for the given counts (`None` for an unsupported block or inode
/// size).
pub fn region_sizes(
    log_block_size: u32,
    block_count: u64,
    inode_count: u32,
    inode_size: u32,
) -> Option<(u64, u64, u64)> {
    let bs = block_size_from_log(log_block_size)?;
    if inode_size != INODE_SIZE as u32 && inode_size != XATTR_INODE_SIZE as u32 {
        return None;
    }
    let bits = bits_per_bitmap_block(bs);
    Some((
        div_ceil(u64::from(inode_count), bits),
        div_ceil(block_count, bits),
        div_ceil(u64::from(inode_count), u64::from(inodes_per_block(bs, inode_size))),
    ))
}

impl Geometry {
    /// The standard mkfs layout for the given parameters, with inodes of
    /// [`INODE_SIZE`] bytes (no extended attributes).
    pub fn compute(log_block_size: u32, block_count: u64, inode_count: u32) -> Result<Self, LayoutError> {
        Self::compute_sized(log_block_size, block_count, inode_count, INODE_SIZE as u32)
    }

    /// The standard mkfs layout for the given parameters and inode size
    /// ([`INODE_SIZE`] or [`XATTR_INODE_SIZE`]).
    pub fn compute_sized(
        log_block_size: u32,
        block_count: u64,
        inode_count: u32,
        inode_size: u32,
    ) -> Result<Self, LayoutError> {
        block_size_from_log(log_block_size).ok_or(LayoutError::BadBlockSize(log_block_size))?;
        if !(MIN_BLOCK_COUNT..=MAX_BLOCK_COUNT).contains(&block_count) {
            return Err(LayoutError::BadBlockCount(block_count));
        }
        if inode_count < MIN_INODE_COUNT {
            return Err(LayoutError::BadInodeCount(inode_count));
        }
        let (ib_len, bb_len, it_len) = region_sizes(log_block_size, block_count, inode_count, inode_size)
            .ok_or(LayoutError::BadInodeSize(inode_size))?;
        let inode_bitmap = Region {
            start: 1,
            len: ib_len,
        };
        let block_bitmap = Region {
            start: inode_bitmap.end(),
            len: bb_len,
        };
        let inode_table = Region {
            start: block_bitmap.end(),
            len: it_len,
        };
        let data_start = inode_table.end();
        let needed = data_start.saturating_add(MIN_DATA_BLOCKS);
        if needed > block_count {
            return Err(LayoutError::TooSmall {
                needed,
                have: block_count,
            });
        }
        Ok(Self {
            log_block_size,
            block_count,
            inode_count,
            inode_size,
            inode_bitmap,
            block_bitmap,
            inode_table,
            data_start,
        })
    }

    /// Block size in bytes.
    pub fn block_size(&self) -> u32 {
        block_size_from_log(self.log_block_size).unwrap_or(1024)
    }

    /// The data area as a region.
    pub fn data(&self) -> Region {
        Region {
            start: self.data_start,
            len: self.block_count.saturating_sub(self.data_start),
        }
    }

    /// Bytes per inode slot, as a `usize`.
    pub fn inode_bytes(&self) -> usize {
        self.inode_size as usize
    }

    /// Whether inodes carry the extended-attribute extension.
    pub fn has_xattrs(&self) -> bool {
        self.inode_size as usize == XATTR_INODE_SIZE
    }

    /// Disk block and byte offset in it of inode `ino`, if `ino` is in range.
    pub fn inode_location(&self, ino: u32) -> Option<(u64, usize)> {
        if ino >= self.inode_count {
            return None;
        }
        // Checked division: no panic path even for a geometry that was never
        // validated (the kernel builds with overflow checks and objtool).
        let per = inodes_per_block(self.block_size(), self.inode_size);
        let block = self.inode_table.start.checked_add(u64::from(ino.checked_div(per)?))?;
        let off = usize::try_from(ino.checked_rem(per)?).ok()?.checked_mul(self.inode_size as usize)?;
        Some((block, off))
    }

    /// For bit `bit` of the bitmap in `region`: the disk block holding it and
    /// the bit index inside that block's data.
    pub fn bitmap_location(&self, region: &Region, bit: u64) -> Option<(u64, u64)> {
        let bits = bits_per_bitmap_block(self.block_size());
        let idx = bit.checked_div(bits)?;
        if idx >= region.len {
            return None;
        }
        Some((region.start.checked_add(idx)?, bit.checked_rem(bits)?))
    }
}
