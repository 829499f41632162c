//! Directory blocks.
//!
//! A directory's data blocks (mapped through its extent tree, no holes, no
//! unwritten extents, size = blocks × block size) each hold a chain of
//! records covering bytes `0 .. block_size - 12`, then a 12-byte tail:
//!
//! ```text
//! record: 0 u32 inode (0 = unused)   4 u16 rec_len   6 u8 name_len   7 u8 file_type   8 name
//! tail:   0 u32 0   4 u16 12   6 u8 0   7 u8 0xDE   8 u32 CRC32C(uuid ‖ le64(dir ino) ‖ bytes 0..block_size-4)
//! ```
//!
//! `rec_len` is a multiple of 4 and at least `8 + name_len` rounded up to 4;
//! records never cross the tail. A live record (inode ≠ 0) has a name of
//! 1..=255 bytes without `/` or NUL. The first block starts with `.` (the
//! directory itself) and `..` (its parent). Removing an entry never moves
//! another one: its space is merged into the previous record (or, for the
//! first record of a block, the record is marked unused), so a readdir
//! position (block, byte offset) stays meaningful.

use super::crc32c::meta_csum;
use super::le::*;

/// Size of a record header.
pub const DIRENT_HEADER: usize = 8;
/// Size of the checksum tail.
pub const DIR_TAIL_SIZE: usize = 12;
/// File type byte of the tail record.
pub const DIR_TAIL_TYPE: u8 = 0xDE;
/// Maximum name length in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// Directory block errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirError {
    /// The block size is not supported or the buffer too short.
    BadBlock,
    /// A record at `offset` is malformed (bad rec_len, name does not fit,
    /// invalid name).
    BadRecord {
        /// Offset of the record.
        offset: usize,
    },
    /// The tail record is damaged.
    BadTail,
    /// Checksum mismatch.
    BadChecksum {
        /// Stored value.
        stored: u32,
        /// Computed value.
        computed: u32,
    },
    /// The name is empty, too long, or contains `/` or NUL.
    BadName,
    /// No record starts at the given offset.
    NoEntry,
    /// The block has no room for the entry.
    NoRoom,
    /// The first block does not start with `.` naming the directory and
    /// `..` naming an inode in range.
    BadDots,
    /// The record at `offset` names inode `ino`, 0 or out of range.
    BadInode {
        /// Offset of the record.
        offset: usize,
        /// The inode number it names.
        ino: u32,
    },
}

impl core::fmt::Display for DirError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadBlock => write!(f, "bad directory block size"),
            Self::BadRecord { offset } => write!(f, "malformed record at offset {}", offset),
            Self::BadTail => write!(f, "damaged tail record"),
            Self::BadChecksum { stored, computed } => {
                write!(
                    f,
                    "bad checksum (stored {:#010x}, computed {:#010x})",
                    stored, computed
                )
            }
            Self::BadName => write!(f, "invalid name"),
            Self::NoEntry => write!(f, "no entry at that offset"),
            Self::NoRoom => write!(f, "no room in block"),
            Self::BadDots => write!(f, "bad '.' or '..' entry"),
            Self::BadInode { offset, ino } => write!(f, "entry at offset {} names inode {}, out of range", offset, ino),
        }
    }
}

/// A directory record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirEntry<'a> {
    /// Byte offset of the record in its block.
    pub offset: usize,
    /// Inode number (0 for an unused record).
    pub ino: u32,
    /// Record length.
    pub rec_len: usize,
    /// File type code ([`super::inode::FileType::dirent_type`]).
    pub file_type: u8,
    /// Name bytes.
    pub name: &'a [u8],
}

impl DirEntry<'_> {
    /// Offset of the following record (the readdir position after this one).
    pub fn next_offset(&self) -> usize {
        self.offset.saturating_add(self.rec_len)
    }
}

/// Bytes a record with a name of `name_len` bytes needs.
pub fn rec_len_for(name_len: usize) -> usize {
    (DIRENT_HEADER + name_len + 3) & !3
}

/// Whether `name` is a valid entry name: 1..=255 bytes, no `/`, no NUL.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME_LEN && !name.iter().any(|&c| c == b'/' || c == 0)
}

fn records_end(buf: &[u8]) -> Result<usize, DirError> {
    let bs = buf.len();
    if !(1024..=65536).contains(&bs) || bs & 3 != 0 {
        return Err(DirError::BadBlock);
    }
    Ok(bs - DIR_TAIL_SIZE)
}

/// Parses the record at `offset` (which must be 4-aligned and inside the
/// record area) and checks its shape.
pub fn parse_record(buf: &[u8], offset: usize) -> Result<DirEntry<'_>, DirError> {
    let end = records_end(buf)?;
    let bad = DirError::BadRecord { offset };
    if offset & 3 != 0 || offset >= end || end - offset < DIRENT_HEADER {
        return Err(bad);
    }
    let ino = get_u32(buf, offset).ok_or(bad)?;
    let rec_len = usize::from(get_u16(buf, offset + 4).ok_or(bad)?);
    let name_len = usize::from(get_u8(buf, offset + 6).ok_or(bad)?);
    let file_type = get_u8(buf, offset + 7).ok_or(bad)?;
    if rec_len < DIRENT_HEADER
        || rec_len & 3 != 0
        || offset + rec_len > end
        || rec_len_for(name_len) > rec_len
    {
        return Err(bad);
    }
    let name = buf
        .get(offset + DIRENT_HEADER..offset + DIRENT_HEADER + name_len)
        .ok_or(bad)?;
    if ino != 0 && !valid_name(name) {
        return Err(bad);
    }
    Ok(DirEntry {
        offset,
        ino,
        rec_len,
        file_type,
        name,
    })
}

fn write_record(
    buf: &mut [u8],
    offset: usize,
    ino: u32,
    rec_len: usize,
    file_type: u8,
    name: &[u8],
) -> bool {
    let Ok(rl) = u16::try_from(rec_len) else {
        return false;
    };
    let Ok(nl) = u8::try_from(name.len()) else {
        return false;
    };
    put_u32(buf, offset, ino)
        && put_u16(buf, offset + 4, rl)
        && put_u8(buf, offset + 6, nl)
        && put_u8(buf, offset + 7, file_type)
        && put_bytes(buf, offset + DIRENT_HEADER, name)
}

/// Writes the tail record (not the checksum; see [`set_csum`]).
pub fn init_tail(buf: &mut [u8]) -> Result<(), DirError> {
    let t = records_end(buf)?;
    if write_record(buf, t, 0, DIR_TAIL_SIZE, DIR_TAIL_TYPE, &[]) {
        Ok(())
    } else {
        Err(DirError::BadBlock)
    }
}

/// Checksum of a directory block of directory `dir_ino`.
pub fn block_csum(seed: u32, dir_ino: u32, buf: &[u8]) -> Result<u32, DirError> {
    let n = buf.len().checked_sub(4).ok_or(DirError::BadBlock)?;
    Ok(meta_csum(
        seed,
        Some(u64::from(dir_ino)),
        None,
        buf.get(..n).ok_or(DirError::BadBlock)?,
    ))
}

/// Recomputes and stores the block checksum.
pub fn set_csum(buf: &mut [u8], seed: u32, dir_ino: u32) -> Result<(), DirError> {
    let c = block_csum(seed, dir_ino, buf)?;
    let n = buf.len().checked_sub(4).ok_or(DirError::BadBlock)?;
    if put_u32(buf, n, c) {
        Ok(())
    } else {
        Err(DirError::BadBlock)
    }
}

/// Verifies the tail record and the block checksum.
pub fn verify_csum(buf: &[u8], seed: u32, dir_ino: u32) -> Result<(), DirError> {
    let t = records_end(buf)?;
    let tail_ok = get_u32(buf, t) == Some(0)
        && get_u16(buf, t + 4) == Some(DIR_TAIL_SIZE as u16)
        && get_u8(buf, t + 6) == Some(0)
        && get_u8(buf, t + 7) == Some(DIR_TAIL_TYPE);
    if !tail_ok {
        return Err(DirError::BadTail);
    }
    let computed = block_csum(seed, dir_ino, buf)?;
    let stored = get_u32(buf, t + 8).ok_or(DirError::BadBlock)?;
    if stored == computed {
        Ok(())
    } else {
        Err(DirError::BadChecksum { stored, computed })
    }
}

/// Initialises an empty directory block (one unused record and the tail).
pub fn init_block(buf: &mut [u8], seed: u32, dir_ino: u32) -> Result<(), DirError> {
    let end = records_end(buf)?;
    buf.fill(0);
    write_record(buf, 0, 0, end, 0, &[]);
    init_tail(buf)?;
    set_csum(buf, seed, dir_ino)
}

/// Initialises the first block of a new directory with `.` and `..`.
pub fn init_first_block(
    buf: &mut [u8],
    seed: u32,
    dir_ino: u32,
    parent_ino: u32,
) -> Result<(), DirError> {
    let end = records_end(buf)?;
    buf.fill(0);
    let dir = super::inode::FileType::Directory.dirent_type();
    let dot_len = rec_len_for(1);
    write_record(buf, 0, dir_ino, dot_len, dir, b".");
    write_record(buf, dot_len, parent_ino, end - dot_len, dir, b"..");
    init_tail(buf)?;
    set_csum(buf, seed, dir_ino)
}

/// Iterator over the records of a block.
#[derive(Clone, Debug)]
pub struct DirIter<'a> {
    buf: &'a [u8],
    offset: usize,
    from: usize,
    all: bool,
    done: bool,
}

impl<'a> Iterator for DirIter<'a> {
    type Item = Result<DirEntry<'a>, DirError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            let end = match records_end(self.buf) {
                Ok(e) => e,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            if self.offset >= end {
                self.done = true;
                return None;
            }
            match parse_record(self.buf, self.offset) {
                Ok(e) => {
                    self.offset = e.next_offset();
                    if e.offset >= self.from && (self.all || e.ino != 0) {
                        return Some(Ok(e));
                    }
                }
                Err(err) => {
                    self.done = true;
                    return Some(Err(err));
                }
            }
        }
    }
}

/// Live entries of a block whose record starts at or after byte `pos`
/// (readdir from a saved position: records are walked from the start of
/// the block, so a position that no longer starts a record is still
/// handled). Yields an error and stops at the first malformed record.
pub fn iter_from(buf: &[u8], pos: usize) -> DirIter<'_> {
    DirIter {
        buf,
        offset: 0,
        from: pos,
        all: false,
        done: false,
    }
}

/// Every record of a block, unused ones included.
pub fn records(buf: &[u8]) -> DirIter<'_> {
    DirIter {
        buf,
        offset: 0,
        from: 0,
        all: true,
        done: false,
    }
}

/// Checks that the records of a block are well formed and exactly cover
/// the record area (does not check the checksum; see [`verify_csum`]).
pub fn check_block(buf: &[u8]) -> Result<(), DirError> {
    for r in records(buf) {
        r?;
    }
    Ok(())
}

/// Finds the live entry called `name`.
pub fn find<'a>(buf: &'a [u8], name: &[u8]) -> Result<Option<DirEntry<'a>>, DirError> {
    for r in iter_from(buf, 0) {
        let e = r?;
        if e.name == name {
            return Ok(Some(e));
        }
    }
    Ok(None)
}

/// Adds an entry, splitting a record with enough slack or reusing an
/// unused one, and updates the checksum. Returns the new record's offset,
/// or [`DirError::NoRoom`]. Does not check for duplicates (see [`find`]).
pub fn insert(
    buf: &mut [u8],
    seed: u32,
    dir_ino: u32,
    ino: u32,
    name: &[u8],
    file_type: u8,
) -> Result<usize, DirError> {
    if !valid_name(name) || ino == 0 {
        return Err(DirError::BadName);
    }
    let need = rec_len_for(name.len());
    let mut slot = None;
    for r in records(buf) {
        let e = r?;
        if e.ino == 0 && e.rec_len >= need {
            slot = Some((e.offset, 0usize, e.rec_len));
            break;
        }
        let used = rec_len_for(e.name.len());
        if e.ino != 0 && e.rec_len.saturating_sub(used) >= need {
            slot = Some((e.offset, used, e.rec_len));
            break;
        }
    }
    let (off, used, rec_len) = slot.ok_or(DirError::NoRoom)?;
    let new_off = if used == 0 {
        write_record(buf, off, ino, rec_len, file_type, name);
        off
    } else {
        put_u16(
            buf,
            off + 4,
            u16::try_from(used).map_err(|_| DirError::BadBlock)?,
        );
        write_record(buf, off + used, ino, rec_len - used, file_type, name);
        off + used
    };
    set_csum(buf, seed, dir_ino)?;
    Ok(new_off)
}

/// Removes the live entry whose record starts at `offset`, merging its
/// space into the previous record (or marking it unused if it is the
/// first), and updates the checksum.
pub fn remove(buf: &mut [u8], seed: u32, dir_ino: u32, offset: usize) -> Result<(), DirError> {
    let mut prev: Option<DirEntry<'_>> = None;
    let mut found = None;
    for r in records(buf) {
        let e = r?;
        if e.offset == offset {
            found = Some(e);
            break;
        }
        if e.offset > offset {
            break;
        }
        prev = Some(e);
    }
    let e = found.filter(|e| e.ino != 0).ok_or(DirError::NoEntry)?;
    let rec_len = e.rec_len;
    match prev {
        Some(p) => {
            let merged = u16::try_from(p.rec_len + rec_len).map_err(|_| DirError::BadBlock)?;
            let p_off = p.offset;
            put_u16(buf, p_off + 4, merged);
            zero(buf, offset, rec_len);
        }
        None => {
            put_u32(buf, offset, 0);
            put_u8(buf, offset + 6, 0);
            put_u8(buf, offset + 7, 0);
            zero(buf, offset + DIRENT_HEADER, rec_len - DIRENT_HEADER);
        }
    }
    set_csum(buf, seed, dir_ino)
}

/// Changes the inode number and file type of the live entry at `offset`
/// (used for `..` on rename and for rename over an existing name), and
/// updates the checksum.
pub fn set_entry(
    buf: &mut [u8],
    seed: u32,
    dir_ino: u32,
    offset: usize,
    ino: u32,
    file_type: u8,
) -> Result<(), DirError> {
    let e = parse_record(buf, offset)?;
    if e.ino == 0 || ino == 0 {
        return Err(DirError::NoEntry);
    }
    put_u32(buf, offset, ino);
    put_u8(buf, offset + 7, file_type);
    set_csum(buf, seed, dir_ino)
}

/// Checks that `buf`, the first block of directory `dir_ino`, starts with
/// `.` naming the directory and `..` naming an inode in
/// `1..inode_count`, both typed as directories; returns the parent.
pub fn check_dots(buf: &[u8], dir_ino: u32, inode_count: u32) -> Result<u32, DirError> {
    let dir = super::inode::FileType::Directory.dirent_type();
    let mut it = iter_from(buf, 0);
    let dot = it.next().ok_or(DirError::BadDots)??;
    let dotdot = it.next().ok_or(DirError::BadDots)??;
    let ok = dot.offset == 0
        && dot.name == b"."
        && dot.ino == dir_ino
        && dot.file_type == dir
        && dotdot.name == b".."
        && dotdot.ino != 0
        && dotdot.ino < inode_count
        && dotdot.file_type == dir;
    if ok {
        Ok(dotdot.ino)
    } else {
        Err(DirError::BadDots)
    }
}

/// Whether the block has no live entries other than `.` and `..`.
pub fn is_empty(buf: &[u8]) -> Result<bool, DirError> {
    for r in iter_from(buf, 0) {
        let e = r?;
        if e.name != b"." && e.name != b".." {
            return Ok(false);
        }
    }
    Ok(true)
}
