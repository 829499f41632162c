// SPDX-License-Identifier: GPL-2.0

//! Mappings: `struct iomap` as a value with typed constructors.
//!
//! C header: [`include/linux/iomap.h`](srctree/include/linux/iomap.h).
//!
//! A [`Mapping`] says what lies at a range of a file: a hole, blocks on the
//! device (mapped, or unwritten: allocated but reading as zeros), or blocks
//! promised but not yet chosen (delayed allocation: the data is only in the
//! page cache, and writeback picks the blocks). There is no
//! way to make a mapped range without a device address, and the device is the
//! filesystem's own block device (filled in by the wrapper). The rest of what
//! iomap requires is checked by [`Mapping::check`] before iomap sees it: a
//! non-empty range covering the position asked about, and (for mapped and
//! unwritten ranges) offsets and addresses aligned to the block size.
//!
//! Reads and reports, and writeback, get answer types of their own that
//! cannot say what those requests must never be told: a [`ReadMapping`]
//! cannot flag new blocks (iomap would zero a read's range instead of
//! reading it), a [`WritebackMapping`] cannot be a delayed allocation
//! (writeback is where a delayed allocation gets its blocks) nor new
//! blocks. A hook that tries does not compile.

use crate::kfs::bindings as b;
use kernel::prelude::*;

/// What a mapping's range holds (`IOMAP_HOLE`, `IOMAP_MAPPED`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// No blocks: reads give zeros; never returned for a write.
    Hole,
    /// Blocks on the device at the given byte address.
    Mapped {
        /// Byte address on the device of the range's first byte.
        addr: u64,
    },
    /// Allocated blocks whose content reads as zeros.
    Unwritten {
        /// Byte address on the device of the range's first byte.
        addr: u64,
    },
    /// Delayed allocation (`IOMAP_DELALLOC`): space is reserved but no
    /// block chosen; the data lives in the page cache until writeback
    /// allocates. Reads as zeros where the page cache has nothing.
    Delalloc,
}

/// A mapping of the file range `offset .. offset + length` (bytes).
#[derive(Clone, Copy, Debug)]
pub struct Mapping {
    kind: Kind,
    offset: u64,
    length: u64,
    new: bool,
    fs_flag: bool,
    size_changed: bool,
    cookie: u64,
}

impl Mapping {
    /// A hole at `offset .. offset + length`.
    pub fn hole(offset: u64, length: u64) -> Self {
        Self { kind: Kind::Hole, offset, length, new: false, fs_flag: false, size_changed: false, cookie: 0 }
    }

    /// Device bytes at `addr` hold the file range `offset .. offset + length`.
    pub fn mapped(offset: u64, length: u64, addr: u64) -> Self {
        Self { kind: Kind::Mapped { addr }, offset, length, new: false, fs_flag: false, size_changed: false, cookie: 0 }
    }

    /// Allocated but unwritten blocks at `addr` (read as zeros).
    pub fn unwritten(offset: u64, length: u64, addr: u64) -> Self {
        Self { kind: Kind::Unwritten { addr }, offset, length, new: false, fs_flag: false, size_changed: false, cookie: 0 }
    }

    /// Delayed allocation of `offset .. offset + length`: the filesystem has
    /// reserved the space, and its writeback mapping
    /// ([`super::WritebackOps::map`]) allocates the blocks when the data is
    /// written. Only the buffered write paths, reads and reports may answer
    /// with it: writeback and direct I/O need real blocks, and the wrapper
    /// refuses it there.
    pub fn delalloc(offset: u64, length: u64) -> Self {
        Self { kind: Kind::Delalloc, offset, length, new: false, fs_flag: false, size_changed: false, cookie: 0 }
    }

    /// Marks the blocks as newly allocated (`IOMAP_F_NEW`): iomap zeroes the
    /// parts of them a write does not cover instead of reading them.
    pub fn new_blocks(mut self) -> Self {
        self.new = true;
        self
    }

    /// Sets the filesystem's own flag (`IOMAP_F_PRIVATE`), which iomap passes
    /// back unchanged to [`super::WriteOps::end`].
    pub fn with_fs_flag(mut self) -> Self {
        self.fs_flag = true;
        self
    }

    /// Whether [`Self::with_fs_flag`] was set.
    pub fn fs_flag(&self) -> bool {
        self.fs_flag
    }

    /// Whether the blocks were flagged new ([`Self::new_blocks`]).
    pub fn is_new(&self) -> bool {
        self.new
    }

    /// Whether a buffered write through this mapping grew the file
    /// (`IOMAP_F_SIZE_CHANGED`, set by iomap; seen in `end`).
    pub fn size_changed(&self) -> bool {
        self.size_changed
    }

    /// The validity cookie.
    pub fn cookie(&self) -> u64 {
        self.cookie
    }

    /// Sets the validity cookie that the write path's `iomap_valid` compares
    /// with the filesystem's current mapping sequence.
    pub fn with_cookie(mut self, cookie: u64) -> Self {
        self.cookie = cookie;
        self
    }

    /// The mapping's kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The file offset of the mapping's first byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The mapping's length in bytes.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// The mapping cut to end at byte `end` of the file (no change when it
    /// ends there or before; the caller keeps `end` past the offset).
    pub(in crate::kfs) fn ending_at(mut self, end: u64) -> Self {
        if let Some(len) = end.checked_sub(self.offset) {
            self.length = self.length.min(len);
        }
        self
    }

    /// Whether the mapping is what iomap requires as an answer for position
    /// `pos` in a filesystem with blocks of `1 << block_bits` bytes.
    pub fn check(&self, pos: u64, block_bits: u32) -> Result {
        let mask = (1u64 << block_bits) - 1;
        let end = self.offset.checked_add(self.length).ok_or(EIO)?;
        if self.length == 0 || self.offset > pos || end <= pos || i64::try_from(end).is_err() {
            return Err(EIO);
        }
        match self.kind {
            // Whole blocks, as for every kind: iomap marks the blocks of
            // the range up to date once it zeroed (or skipped) them, so a
            // hole ending inside a block would leave the rest of that
            // block's page cache uninitialised yet up to date, and a
            // writeback hole ending there would start a bio mid-sector.
            Kind::Hole | Kind::Delalloc => {
                if (self.offset | self.length) & mask != 0 {
                    return Err(EIO);
                }
                Ok(())
            }
            Kind::Mapped { addr } | Kind::Unwritten { addr } => {
                let aligned = (self.offset | self.length | addr) & mask == 0;
                if !aligned || addr.checked_add(self.length).is_none() {
                    return Err(EIO);
                }
                Ok(())
            }
        }
    }

    /// Writes the mapping into iomap's `struct iomap`.
    ///
    /// # Safety
    ///
    /// `iomap` must be valid for writes; `bdev` must be the filesystem's block
    /// device.
    pub(in crate::kfs) unsafe fn fill(&self, iomap: *mut b::iomap, bdev: *mut b::block_device) {
        let (typ, addr) = match self.kind {
            Kind::Hole => (b::IOMAP_HOLE, u64::MAX),
            Kind::Delalloc => (b::IOMAP_DELALLOC, u64::MAX),
            Kind::Mapped { addr } => (b::IOMAP_MAPPED, addr),
            Kind::Unwritten { addr } => (b::IOMAP_UNWRITTEN, addr),
        };
        let mut flags = if self.new { b::IOMAP_F_NEW } else { 0 };
        if self.fs_flag {
            flags |= b::IOMAP_F_PRIVATE;
        }
        // SAFETY: valid for writes (caller guarantee); iomap zeroed it and
        // only reads the fields set here.
        unsafe {
            (*iomap).addr = addr;
            (*iomap).offset = self.offset as i64;
            (*iomap).length = self.length;
            (*iomap).type_ = typ as u16;
            (*iomap).flags = flags as u16;
            (*iomap).bdev = if self.kind == Kind::Hole { core::ptr::null_mut() } else { bdev };
            (*iomap).validity_cookie = self.cookie;
        }
    }

    /// Reads back a mapping that [`Self::fill`] wrote and iomap used.
    ///
    /// # Safety
    ///
    /// `iomap` must be valid for reads.
    pub(in crate::kfs) unsafe fn read(iomap: *const b::iomap) -> Self {
        // SAFETY: valid for reads (caller guarantee).
        let m = unsafe { &*iomap };
        let kind = match u32::from(m.type_) {
            b::IOMAP_MAPPED => Kind::Mapped { addr: m.addr },
            b::IOMAP_UNWRITTEN => Kind::Unwritten { addr: m.addr },
            b::IOMAP_DELALLOC => Kind::Delalloc,
            _ => Kind::Hole,
        };
        let flags = u32::from(m.flags);
        Self {
            kind,
            offset: m.offset as u64,
            length: m.length,
            new: flags & b::IOMAP_F_NEW != 0,
            fs_flag: flags & b::IOMAP_F_PRIVATE != 0,
            size_changed: flags & b::IOMAP_F_SIZE_CHANGED != 0,
            cookie: m.validity_cookie,
        }
    }
}

/// What writeback may be told about a dirty range ([`super::WritebackOps::map`]):
/// blocks on the device to write to (mapped, or unwritten for the
/// completion to convert), or a hole (nothing to write: iomap skips it).
///
/// A [`Mapping`] converts from it, never back: there is no way to make one
/// that says "delayed allocation" or "new blocks", which writeback cannot
/// act on (the data would not be written, or iomap would zero it). A
/// [`ReadMapping`] (which cannot say "new") converts into one unless it is
/// a delayed allocation.
#[derive(Clone, Copy, Debug)]
pub struct WritebackMapping(Mapping);

impl WritebackMapping {
    /// Device bytes at `addr` hold the file range `offset .. offset + length`.
    pub fn mapped(offset: u64, length: u64, addr: u64) -> Self {
        Self(Mapping::mapped(offset, length, addr))
    }

    /// Allocated but unwritten blocks at `addr`: the data goes there, and
    /// [`super::WritebackOps::complete`] converts them once it is on the disk.
    pub fn unwritten(offset: u64, length: u64, addr: u64) -> Self {
        Self(Mapping::unwritten(offset, length, addr))
    }

    /// No blocks at `offset .. offset + length`: dirty data there is not
    /// written (a truncate or punch raced the writeback).
    pub fn hole(offset: u64, length: u64) -> Self {
        Self(Mapping::hole(offset, length))
    }

    /// Sets the validity cookie ([`super::WritebackOps::valid`] sees it).
    pub fn with_cookie(self, cookie: u64) -> Self {
        Self(self.0.with_cookie(cookie))
    }

    /// The mapping as a [`Mapping`].
    pub fn mapping(&self) -> &Mapping {
        &self.0
    }
}

impl From<WritebackMapping> for Mapping {
    fn from(m: WritebackMapping) -> Self {
        m.0
    }
}

/// The map as it is, for writeback: a [`ReadMapping`] (never new blocks)
/// that is not a delayed allocation. `EIO` for one: writeback must give it
/// blocks first.
impl TryFrom<ReadMapping> for WritebackMapping {
    type Error = Error;

    fn try_from(m: ReadMapping) -> Result<Self> {
        match m.0.kind() {
            Kind::Delalloc => Err(EIO),
            Kind::Hole | Kind::Mapped { .. } | Kind::Unwritten { .. } => Ok(Self(m.0)),
        }
    }
}

/// What a read or a report may be told ([`super::ReadOps::begin`],
/// [`super::ReportOps::begin`]): the map as it is, a hole, blocks,
/// unwritten blocks or a delayed allocation.
///
/// There is no constructor for new blocks (`IOMAP_F_NEW`), and a
/// [`Mapping`] does not convert into it: iomap zeroes the range of a read
/// answered "new" instead of reading the data there.
#[derive(Clone, Copy, Debug)]
pub struct ReadMapping(Mapping);

impl ReadMapping {
    /// A hole at `offset .. offset + length`: reads give zeros.
    pub fn hole(offset: u64, length: u64) -> Self {
        Self(Mapping::hole(offset, length))
    }

    /// Device bytes at `addr` hold the file range `offset .. offset + length`.
    pub fn mapped(offset: u64, length: u64, addr: u64) -> Self {
        Self(Mapping::mapped(offset, length, addr))
    }

    /// Allocated but unwritten blocks at `addr`: reads give zeros.
    pub fn unwritten(offset: u64, length: u64, addr: u64) -> Self {
        Self(Mapping::unwritten(offset, length, addr))
    }

    /// A delayed allocation: the data is in the page cache (a read finds
    /// it there) or it reads as zeros.
    pub fn delalloc(offset: u64, length: u64) -> Self {
        Self(Mapping::delalloc(offset, length))
    }

    /// Sets the validity cookie.
    pub fn with_cookie(self, cookie: u64) -> Self {
        Self(self.0.with_cookie(cookie))
    }

    /// The mapping as a [`Mapping`].
    pub fn mapping(&self) -> &Mapping {
        &self.0
    }
}

impl From<ReadMapping> for Mapping {
    fn from(m: ReadMapping) -> Self {
        m.0
    }
}
