//! On-disk inodes (256 bytes each, in the inode table).
//!
//! | off | size | field |
//! |----:|-----:|-------|
//! | 0 | 2 | mode (file type and permission bits, as in `stat`) |
//! | 2 | 2 | reserved (0) |
//! | 4 | 4 | uid |
//! | 8 | 4 | gid |
//! | 12 | 4 | link count |
//! | 16 | 8 | size in bytes |
//! | 24 | 4×8 | atime, mtime, ctime, crtime seconds (i64) |
//! | 56 | 4×4 | atime, mtime, ctime, crtime nanoseconds (u32) |
//! | 72 | 4 | generation |
//! | 76 | 4 | flags |
//! | 80 | 8 | blocks allocated (data + extent tree blocks) |
//! | 88 | 4 | rdev (device number for character/block devices) |
//! | 92 | 4 | next inode on the orphan list (0: the last) |
//! | 96 | 156 | data: extent tree root, or inline symlink target |
//! | 252 | 4 | CRC32C of `uuid ‖ le64(ino) ‖ bytes 0..252` |
//!
//! A slot whose mode is 0 is free; its other bytes are meaningless.

use super::crc32c::meta_csum;
use super::layout::INODE_SIZE;
use super::le::*;

/// Size of the per-inode data area (extent root or inline symlink).
pub const INODE_DATA_SIZE: usize = 156;
/// Offset of the data area in the inode.
pub const INODE_DATA_OFFSET: usize = 96;
/// Offset of the checksum in the inode.
pub const INODE_CSUM_OFFSET: usize = INODE_SIZE - 4;

/// File type mask of `mode`.
pub const S_IFMT: u16 = 0o170000;
/// Socket.
pub const S_IFSOCK: u16 = 0o140000;
/// Symbolic link.
pub const S_IFLNK: u16 = 0o120000;
/// Regular file.
pub const S_IFREG: u16 = 0o100000;
/// Block device.
pub const S_IFBLK: u16 = 0o060000;
/// Directory.
pub const S_IFDIR: u16 = 0o040000;
/// Character device.
pub const S_IFCHR: u16 = 0o020000;
/// FIFO.
pub const S_IFIFO: u16 = 0o010000;

/// Inode flag: the data area holds the symlink target inline.
pub const FLAG_INLINE: u32 = 0x0000_0001;
/// Inode flag: immutable file.
pub const FLAG_IMMUTABLE: u32 = 0x0000_0010;
/// Inode flag: append-only file.
pub const FLAG_APPEND: u32 = 0x0000_0020;
/// Inode flag: do not update atime.
pub const FLAG_NOATIME: u32 = 0x0000_0080;
/// Every flag this version defines.
pub const FLAGS_KNOWN: u32 = FLAG_INLINE | FLAG_IMMUTABLE | FLAG_APPEND | FLAG_NOATIME;

/// A file type, from the `S_IFMT` bits of a mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// Regular file.
    Regular,
    /// Directory.
    Directory,
    /// Symbolic link.
    Symlink,
    /// Character device.
    CharDevice,
    /// Block device.
    BlockDevice,
    /// FIFO.
    Fifo,
    /// Socket.
    Socket,
}

impl FileType {
    /// The type of `mode`, or `None` for an invalid type.
    pub fn from_mode(mode: u16) -> Option<Self> {
        Some(match mode & S_IFMT {
            S_IFREG => Self::Regular,
            S_IFDIR => Self::Directory,
            S_IFLNK => Self::Symlink,
            S_IFCHR => Self::CharDevice,
            S_IFBLK => Self::BlockDevice,
            S_IFIFO => Self::Fifo,
            S_IFSOCK => Self::Socket,
            _ => return None,
        })
    }

    /// The `S_IFMT` bits.
    pub fn mode_bits(self) -> u16 {
        match self {
            Self::Regular => S_IFREG,
            Self::Directory => S_IFDIR,
            Self::Symlink => S_IFLNK,
            Self::CharDevice => S_IFCHR,
            Self::BlockDevice => S_IFBLK,
            Self::Fifo => S_IFIFO,
            Self::Socket => S_IFSOCK,
        }
    }

    /// The directory-entry file type code (see [`super::dir`]).
    pub fn dirent_type(self) -> u8 {
        match self {
            Self::Regular => 1,
            Self::Directory => 2,
            Self::CharDevice => 3,
            Self::BlockDevice => 4,
            Self::Fifo => 5,
            Self::Socket => 6,
            Self::Symlink => 7,
        }
    }

    /// The type for a directory-entry file type code.
    pub fn from_dirent_type(t: u8) -> Option<Self> {
        Some(match t {
            1 => Self::Regular,
            2 => Self::Directory,
            3 => Self::CharDevice,
            4 => Self::BlockDevice,
            5 => Self::Fifo,
            6 => Self::Socket,
            7 => Self::Symlink,
            _ => return None,
        })
    }

    /// Whether the data area holds an extent tree root for this type (the
    /// symlink case also needs the inode's [`FLAG_INLINE`] to be clear).
    pub fn has_extents(self) -> bool {
        matches!(self, Self::Regular | Self::Directory | Self::Symlink)
    }
}

/// A timestamp: seconds since the epoch and nanoseconds (< 10^9).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timestamp {
    /// Seconds since 1970-01-01 00:00 UTC (may be negative).
    pub sec: i64,
    /// Nanoseconds, `0..1_000_000_000`.
    pub nsec: u32,
}

/// Inode decode and validation errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InodeError {
    /// The buffer is shorter than 256 bytes.
    TooShort,
    /// Checksum mismatch.
    BadChecksum {
        /// Stored value.
        stored: u32,
        /// Computed value.
        computed: u32,
    },
    /// The mode has no valid file type (mode value).
    BadMode(u16),
    /// A nanosecond field is >= 10^9.
    BadNsec,
    /// Unknown flag bits (the unknown bits).
    UnknownFlags(u32),
    /// The inline flag is set on a non-symlink, or an inline symlink's size
    /// does not fit in the data area.
    BadInline,
    /// The size exceeds the format's maximum file size.
    BadSize(u64),
}

impl core::fmt::Display for InodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooShort => write!(f, "inode buffer too short"),
            Self::BadChecksum { stored, computed } => {
                write!(
                    f,
                    "bad checksum (stored {:#010x}, computed {:#010x})",
                    stored, computed
                )
            }
            Self::BadMode(m) => write!(f, "invalid mode {:#o}", m),
            Self::BadNsec => write!(f, "nanoseconds out of range"),
            Self::UnknownFlags(x) => write!(f, "unknown flags {:#x}", x),
            Self::BadInline => write!(f, "bad inline data"),
            Self::BadSize(s) => write!(f, "size {} exceeds the maximum", s),
        }
    }
}

/// A decoded inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inode {
    /// File type and permissions; 0 means the slot is free.
    pub mode: u16,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Number of directory entries referring to this inode.
    pub nlink: u32,
    /// Size in bytes.
    pub size: u64,
    /// Last access.
    pub atime: Timestamp,
    /// Last modification.
    pub mtime: Timestamp,
    /// Last status change.
    pub ctime: Timestamp,
    /// Creation.
    pub crtime: Timestamp,
    /// Generation number (for NFS file handles).
    pub generation: u32,
    /// `FLAG_*` bits.
    pub flags: u32,
    /// Blocks allocated to the file (data and extent tree blocks), in
    /// filesystem blocks.
    pub blocks: u64,
    /// Device number for character and block devices.
    pub rdev: u32,
    /// The next inode on the orphan list (see the super block's
    /// `orphan_head`); 0 at its end and for inodes not on it.
    pub next_orphan: u32,
    /// Extent tree root or inline symlink target.
    pub data: [u8; INODE_DATA_SIZE],
}

impl Default for Inode {
    fn default() -> Self {
        Self {
            mode: 0,
            uid: 0,
            gid: 0,
            nlink: 0,
            size: 0,
            atime: Timestamp::default(),
            mtime: Timestamp::default(),
            ctime: Timestamp::default(),
            crtime: Timestamp::default(),
            generation: 0,
            flags: 0,
            blocks: 0,
            rdev: 0,
            next_orphan: 0,
            data: [0; INODE_DATA_SIZE],
        }
    }
}

fn read_ts(b: &[u8], sec_off: usize, nsec_off: usize) -> Timestamp {
    Timestamp {
        sec: get_i64(b, sec_off).unwrap_or(0),
        nsec: get_u32(b, nsec_off).unwrap_or(0),
    }
}

impl Inode {
    /// Whether the slot is free (mode 0).
    pub fn is_free(&self) -> bool {
        self.mode == 0
    }

    /// File type, if the mode is valid.
    pub fn file_type(&self) -> Option<FileType> {
        FileType::from_mode(self.mode)
    }

    /// Whether the data area holds an extent tree root.
    pub fn has_extents(&self) -> bool {
        self.file_type().is_some_and(|t| t.has_extents()) && self.flags & FLAG_INLINE == 0
    }

    /// Stored and computed checksum of the 256-byte inode in `buf`.
    pub fn checksums(buf: &[u8], seed: u32, ino: u32) -> Result<(u32, u32), InodeError> {
        let b = buf.get(..INODE_SIZE).ok_or(InodeError::TooShort)?;
        let stored = get_u32(b, INODE_CSUM_OFFSET).ok_or(InodeError::TooShort)?;
        let body = b.get(..INODE_CSUM_OFFSET).ok_or(InodeError::TooShort)?;
        Ok((stored, meta_csum(seed, Some(u64::from(ino)), None, body)))
    }

    /// Decodes the fields without any check.
    pub fn decode_raw(buf: &[u8]) -> Result<Self, InodeError> {
        let b = buf.get(..INODE_SIZE).ok_or(InodeError::TooShort)?;
        Ok(Self {
            mode: get_u16(b, 0).unwrap_or(0),
            uid: get_u32(b, 4).unwrap_or(0),
            gid: get_u32(b, 8).unwrap_or(0),
            nlink: get_u32(b, 12).unwrap_or(0),
            size: get_u64(b, 16).unwrap_or(0),
            atime: read_ts(b, 24, 56),
            mtime: read_ts(b, 32, 60),
            ctime: read_ts(b, 40, 64),
            crtime: read_ts(b, 48, 68),
            generation: get_u32(b, 72).unwrap_or(0),
            flags: get_u32(b, 76).unwrap_or(0),
            blocks: get_u64(b, 80).unwrap_or(0),
            rdev: get_u32(b, 88).unwrap_or(0),
            next_orphan: get_u32(b, 92).unwrap_or(0),
            data: get_array(b, INODE_DATA_OFFSET).unwrap_or([0; INODE_DATA_SIZE]),
        })
    }

    /// Decodes inode `ino` from the 256 bytes at the start of `buf`,
    /// checking the checksum. A free slot (mode 0) is returned as is
    /// without checking the checksum. Field values are not checked: see
    /// [`Inode::validate`].
    pub fn decode(buf: &[u8], seed: u32, ino: u32) -> Result<Self, InodeError> {
        let inode = Self::decode_raw(buf)?;
        if inode.is_free() {
            return Ok(inode);
        }
        let (stored, computed) = Self::checksums(buf, seed, ino)?;
        if stored != computed {
            return Err(InodeError::BadChecksum { stored, computed });
        }
        Ok(inode)
    }

    /// Encodes inode `ino` into the first 256 bytes of `buf`, with checksum.
    pub fn encode(&self, buf: &mut [u8], seed: u32, ino: u32) -> Result<(), InodeError> {
        let b = buf.get_mut(..INODE_SIZE).ok_or(InodeError::TooShort)?;
        b.fill(0);
        put_u16(b, 0, self.mode);
        put_u32(b, 4, self.uid);
        put_u32(b, 8, self.gid);
        put_u32(b, 12, self.nlink);
        put_u64(b, 16, self.size);
        for (i, t) in [self.atime, self.mtime, self.ctime, self.crtime]
            .iter()
            .enumerate()
        {
            put_i64(b, 24 + 8 * i, t.sec);
            put_u32(b, 56 + 4 * i, t.nsec);
        }
        put_u32(b, 72, self.generation);
        put_u32(b, 76, self.flags);
        put_u64(b, 80, self.blocks);
        put_u32(b, 88, self.rdev);
        put_u32(b, 92, self.next_orphan);
        put_bytes(b, INODE_DATA_OFFSET, &self.data);
        let (_, computed) = Self::checksums(b, seed, ino)?;
        put_u32(b, INODE_CSUM_OFFSET, computed);
        Ok(())
    }

    /// Checks the field values of an in-use inode: valid file type, known
    /// flags, nanoseconds below 10^9, inline data consistent, size within
    /// [`super::max_file_size`] of `block_size`. Does not look at the
    /// extent tree (see [`super::tree`]).
    pub fn validate(&self, block_size: u32) -> Result<FileType, InodeError> {
        let ft = self.file_type().ok_or(InodeError::BadMode(self.mode))?;
        if self.flags & !FLAGS_KNOWN != 0 {
            return Err(InodeError::UnknownFlags(self.flags & !FLAGS_KNOWN));
        }
        for t in [self.atime, self.mtime, self.ctime, self.crtime] {
            if t.nsec >= 1_000_000_000 {
                return Err(InodeError::BadNsec);
            }
        }
        let inline = self.flags & FLAG_INLINE != 0;
        if inline
            && (ft != FileType::Symlink || self.size == 0 || self.size > INODE_DATA_SIZE as u64)
        {
            return Err(InodeError::BadInline);
        }
        if self.size > super::max_file_size(block_size) {
            return Err(InodeError::BadSize(self.size));
        }
        Ok(ft)
    }
}
