// SPDX-License-Identifier: GPL-2.0

//! How a filesystem maps file ranges for iomap: one trait per purpose, each
//! its own C table (`struct iomap_ops`, and `struct iomap_write_ops` for
//! writes), as XFS has `xfs_read_iomap_ops`, `xfs_buffered_write_iomap_ops`,
//! `xfs_seek_iomap_ops` and its writeback `map_blocks`.
//!
//! C header: [`include/linux/iomap.h`](srctree/include/linux/iomap.h).
//!
//! iomap calls `begin` for each stretch of a request and uses the returned
//! [`Mapping`] for as much of the request as it covers. Who holds what when
//! iomap calls in:
//!
//! - [`ReadOps`] (`read_folio`, `readahead`): the folio lock and the
//!   mapping's `invalidate_lock` shared, so `begin` must take neither
//!   `i_rwsem` nor `invalidate_lock`;
//! - [`WriteOps`] with [`Flags::WRITE`] (buffered write): `i_rwsem`
//!   exclusive, no folio lock (`begin` runs before iomap locks folios,
//!   `end` after); with [`Flags::ZERO`] (zero range, truncate page):
//!   `i_rwsem` and `invalidate_lock` exclusive; with [`Flags::WRITE`] |
//!   [`Flags::FAULT`] (`page_mkwrite`): `invalidate_lock` shared and the
//!   folio lock, `i_rwsem` **not** held;
//! - [`ReportOps`] (`SEEK_HOLE`/`SEEK_DATA`, `FIEMAP`): `i_rwsem` shared;
//! - [`WritebackOps`] (writeback): the folio lock only, and the inode may
//!   have no reference left (writeback at the final `iput`), hence an
//!   [`INodeView`].
//!
//! Every call runs in a no-filesystem-reclaim scope (`memalloc_nofs_save`):
//! allocations cannot recurse into the filesystem. Keep the filesystem's own
//! mapping lock inside each call: never hold it across a return, because
//! iomap then locks folios and faults in user pages. Every answer is checked
//! before iomap sees it ([`Mapping::check`]); a wrong one fails the I/O with
//! `EIO` and one line in dmesg instead of an iomap warning.

use crate::kfs::HookResult;
use super::{Mapping, ReadMapping, WritebackMapping};
use crate::kfs::{
    bindings as b,
    vfs::{lock::InvalidateLock, FileSystem, INode, INodeView, NoFs},
};
use core::marker::PhantomData;
use kernel::{error::from_result, prelude::*};

/// The request flags iomap passes to `begin` (`IOMAP_WRITE`, ...). No flag
/// means a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags(u32);

impl Flags {
    /// No flag: a read (and how writeback asks).
    pub const NONE: Self = Self(0);
    /// A write: buffered write or page fault (never answer with a hole).
    pub const WRITE: Self = Self(b::IOMAP_WRITE);
    /// Zeroing a range (zero range, truncate page): holes are skipped.
    pub const ZERO: Self = Self(b::IOMAP_ZERO);
    /// Reporting (fiemap, seek hole/data): do not allocate.
    pub const REPORT: Self = Self(b::IOMAP_REPORT);
    /// A page fault (`page_mkwrite`), with [`Self::WRITE`].
    pub const FAULT: Self = Self(b::IOMAP_FAULT);
    /// Direct I/O ([`super::DirectOps`]), with [`Self::WRITE`] for a write.
    pub const DIRECT: Self = Self(b::IOMAP_DIRECT);
    /// Must not block: return `EAGAIN` instead.
    pub const NOWAIT: Self = Self(b::IOMAP_NOWAIT);

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no flag is set: a read.
    pub fn is_read(self) -> bool {
        self.0 == 0
    }

    /// The raw bits.
    pub fn bits(self) -> u32 {
        self.0
    }
}

/// The mapping of file ranges for reads (`read_folio`, `readahead`).
#[vtable]
pub trait ReadOps: Sized + 'static {
    /// The filesystem whose inodes this maps.
    type FileSystem: FileSystem;

    /// Maps the range starting at byte `pos` of `inode`, up to `len` bytes:
    /// the returned mapping must cover `pos` and may be shorter or longer
    /// than asked. Never allocates; the answer is a [`ReadMapping`], which
    /// cannot flag new blocks.
    fn begin(inode: &INode<Self::FileSystem>, pos: u64, len: u64) -> Result<ReadMapping>;
}

/// The mapping of file ranges for the write paths: buffered write, zero
/// range, truncate page and `page_mkwrite` (`iomap_ops` with
/// `iomap_write_ops`).
///
/// A filesystem that does not implement [`Self::begin`] has no write path:
/// `write_iter` and `page_mkwrite` stay `NULL`.
#[vtable]
pub trait WriteOps: Sized + 'static {
    /// The filesystem whose inodes this maps.
    type FileSystem: FileSystem;

    /// Maps the range starting at byte `pos` of `inode`, up to `len` bytes,
    /// for the request `flags` ([`Flags::WRITE`], with [`Flags::FAULT`] for
    /// a page fault, or [`Flags::ZERO`]). For [`Flags::WRITE`] the answer
    /// must not be a hole: allocate the hole's blocks, or reserve them and
    /// answer [`Mapping::delalloc`] (with [`Mapping::new_blocks`] for a
    /// fresh reservation), leaving the choice of blocks to
    /// [`WritebackOps::map`]; `ENOSPC` must come from here, never from
    /// writeback. For [`Flags::ZERO`] holes and unwritten ranges are
    /// skipped, mapped and delalloc ranges zeroed in the page cache; those
    /// must not start past the block that holds EOF (iomap never zeroes a
    /// folio past EOF: it would not be written back), so blocks there are
    /// answered as what they read as, a hole or unwritten (convert written
    /// blocks first), or the wrapper fails the request with `EIO`; an
    /// answer that runs past that block is cut there. With
    /// [`Flags::NOWAIT`] (an `IOCB_NOWAIT` write), return `EAGAIN` rather
    /// than allocate or wait for I/O.
    fn begin(_inode: &INode<Self::FileSystem>, _pos: u64, _len: u64, _flags: Flags) -> Result<Mapping> {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Called once iomap is done with `map` for the range `pos .. pos +
    /// len` (the part of the request `map` covered), of which `written`
    /// bytes were processed: a short write leaves blocks the filesystem may
    /// want to give back. Not called when not implemented.
    fn end(
        _inode: &INode<Self::FileSystem>,
        _pos: u64,
        _len: u64,
        _written: u64,
        _flags: Flags,
        _map: &Mapping,
    ) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `iomap_valid`: whether a mapping made with validity `cookie` (see
    /// [`Mapping::with_cookie`]) still describes the file. Called by the
    /// write path with the folio locked; a `false` makes iomap ask
    /// [`Self::begin`] again.
    fn valid(_inode: &INode<Self::FileSystem>, _cookie: u64) -> bool {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Gives back the blocks (or the delayed-allocation reservation) in
    /// `offset .. offset + len` of a mapping that [`Self::begin`] made with
    /// [`Mapping::new_blocks`] and a write left unused (a short or failed
    /// write). The wrapper calls it after a
    /// write, not a page fault, through `iomap_write_delalloc_release`, with
    /// `invalidate_lock` held exclusive: only for ranges that no dirty page
    /// cache covers (a shared-mapping store admitted meanwhile keeps its
    /// blocks), and always past EOF. The range may reach past what is
    /// still the filesystem's to give back: writeback may have chosen
    /// blocks for part of it meanwhile, and a folio there may be under
    /// writeback (it is clean, so not skipped). Give back only what is
    /// still as `begin` made it, a delayed allocation's reservation, never
    /// blocks (iomap's punch contract: only delalloc is punched).
    fn release_new(_inode: &INodeView<Self::FileSystem>, _offset: u64, _len: u64) {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// The mapping of file ranges for reporting (`SEEK_HOLE`/`SEEK_DATA`,
/// `FIEMAP`): never allocates.
#[vtable]
pub trait ReportOps: Sized + 'static {
    /// The filesystem whose inodes this maps.
    type FileSystem: FileSystem;

    /// Maps the range starting at byte `pos` of `inode`, up to `len` bytes,
    /// as it is now.
    fn begin(inode: &INode<Self::FileSystem>, pos: u64, len: u64) -> Result<ReadMapping>;
}

/// Where writeback sends dirty data (`iomap_writeback_ops.writeback_range`).
///
/// A filesystem that does not implement [`Self::map`] has no writeback:
/// `writepages` stays `NULL`.
#[vtable]
pub trait WritebackOps: Sized + 'static {
    /// The filesystem whose inodes this maps.
    type FileSystem: FileSystem;

    /// Maps the dirty range starting at byte `pos` of `inode`, up to `len`
    /// bytes. The folio is locked and under writeback. Dirty data over a
    /// hole is skipped by iomap. A delayed allocation
    /// ([`Mapping::delalloc`]) is this call's to allocate, from the space
    /// reserved when it was made (so it cannot fail for lack of space): the
    /// answer is a [`WritebackMapping`], which cannot say "delayed
    /// allocation" (nor "new blocks"). Runs in a no-filesystem-reclaim
    /// scope. An unwritten answer is allowed when the
    /// filesystem implements [`Self::complete`], which converts it once the
    /// data is on the disk; otherwise it would read back as zeros, so it is
    /// refused with `EIO` and a line in dmesg.
    fn map(_inode: &INodeView<Self::FileSystem>, _pos: u64, _len: u64) -> Result<WritebackMapping> {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Whether a mapping made with validity `cookie` still describes the
    /// file, so that writeback may reuse it for the next dirty range. When
    /// not implemented, every range is mapped afresh.
    fn valid(_inode: &INodeView<Self::FileSystem>, _cookie: u64) -> bool {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Whether the writeback I/O of `offset .. offset + len` (to unwritten
    /// blocks when `unwritten`) must call [`Self::complete`] when it ends.
    /// When not implemented: exactly the unwritten ones.
    fn needs_completion(
        _inode: &INodeView<Self::FileSystem>,
        _offset: u64,
        _len: u64,
        _unwritten: bool,
    ) -> bool {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The writeback I/O of `offset .. offset + len` ended, with `error`
    /// if it failed (iomap then records it for the next `fsync`). Runs in
    /// process context, on the super block's completion workqueue, before
    /// the folios' writeback ends (so before eviction can proceed): convert
    /// the unwritten blocks the data went to, advance the on-disk size. An
    /// error returned fails the I/O as the device's error would.
    fn complete(
        _inode: &INodeView<Self::FileSystem>,
        _offset: u64,
        _len: u64,
        _error: Option<Error>,
    ) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// Checks the answer `map` to a request at `pos` with `flags` for `inode`;
/// a zeroing answer comes back cut at the end of the EOF block.
pub(in crate::kfs) fn checked<T: FileSystem>(
    inode: &INodeView<T>,
    pos: u64,
    flags: Flags,
    map: Mapping,
) -> Result<Mapping> {
    let bad = map.check(pos, inode.block_bits()).is_err()
        || (flags.contains(Flags::WRITE) && map.kind() == super::map::Kind::Hole)
        // A direct write needs blocks to write to.
        || (flags.contains(Flags::DIRECT) && flags.contains(Flags::WRITE) && map.kind() == super::map::Kind::Delalloc)
        || (!flags.contains(Flags::WRITE) && !flags.contains(Flags::ZERO) && map.is_new());
    if bad {
        pr_err!(
            "{}: iomap_begin of inode {} returned an invalid mapping for pos {} flags {:#x}: {:?}\n",
            inode.super_block().id(),
            inode.ino(),
            pos,
            flags.bits(),
            map
        );
        return Err(EIO);
    }
    if flags.contains(Flags::ZERO) && matches!(map.kind(), super::map::Kind::Mapped { .. } | super::map::Kind::Delalloc) {
        // iomap zeroes these in the page cache, and a folio past EOF would
        // never be written back (`iomap_zero_iter` warns). The part up to
        // the end of the EOF block lies in the EOF folio; blocks wholly past
        // it must be answered as what they read as (a hole, or unwritten
        // blocks). Zeroing holds `i_rwsem`, so the size is stable.
        let bs = 1u64 << inode.block_bits();
        let size = u64::try_from(inode.size()).map_err(|_| EIO)?;
        let eof = size.div_ceil(bs).checked_mul(bs).ok_or(EIO)?;
        if map.offset() >= eof {
            pr_err!(
                "{}: iomap_begin of inode {} (size {}) answered zeroing with data past the EOF block: {:?}\n",
                inode.super_block().id(),
                inode.ino(),
                size,
                map
            );
            return Err(EIO);
        }
        return Ok(map.ending_at(eof));
    }
    Ok(map)
}

/// The body of every `iomap_begin` trampoline: asks `answer` for the
/// mapping of the request, checks it ([`checked`]) and fills iomap's
/// `struct iomap` with it, in a no-fs-reclaim scope.
///
/// # Safety
///
/// `inode` must be a referenced inode of a mounted `T` super block and
/// `iomap` valid for writes, for the duration of the call (what iomap
/// guarantees to `iomap_begin`).
pub(super) unsafe fn begin_with<T: FileSystem>(
    inode: *mut b::inode,
    pos: b::loff_t,
    length: b::loff_t,
    flags: kernel::ffi::c_uint,
    iomap: *mut b::iomap,
    answer: impl FnOnce(&INode<T>, u64, u64, Flags) -> Result<Mapping>,
) -> kernel::ffi::c_int {
    let _nofs = NoFs::enter();
    from_result(|| {
        // SAFETY: per the caller.
        let inode = unsafe { INode::<T>::from_raw(inode) };
        let (pos, len) = range(pos, length)?;
        let flags = Flags(flags);
        let map = checked(inode, pos, flags, answer(inode, pos, len, flags).hook()?)?;
        // SAFETY: `iomap` is valid for writes (caller); `s_bdev` is the
        // filesystem's device, open while it is mounted.
        unsafe { map.fill(iomap, (*inode.super_block().ptr()).s_bdev) };
        Ok(0)
    })
}

/// Converts a C `iomap_begin` request's range.
fn range(pos: b::loff_t, length: b::loff_t) -> Result<(u64, u64)> {
    Ok((u64::try_from(pos).map_err(|_| EINVAL)?, u64::try_from(length).map_err(|_| EINVAL)?))
}

/// The `iomap_ops` of a [`ReadOps`].
pub(in crate::kfs) struct ReadTable<O: ReadOps>(PhantomData<O>);

impl<O: ReadOps> ReadTable<O> {
    pub(in crate::kfs) const OPS: b::iomap_ops = b::iomap_ops {
        iomap_begin: Some(Self::begin),
        ..pin_init::zeroed()
    };

    /// # Safety
    ///
    /// Called by iomap's read path with a referenced inode of filesystem
    /// `O::FileSystem` (its folio is locked) and a zeroed `iomap` to fill.
    unsafe extern "C" fn begin(
        inode: *mut b::inode,
        pos: b::loff_t,
        length: b::loff_t,
        flags: kernel::ffi::c_uint,
        iomap: *mut b::iomap,
        _srcmap: *mut b::iomap,
    ) -> kernel::ffi::c_int {
        // SAFETY: per the caller.
        unsafe { begin_with(inode, pos, length, flags, iomap, |i, p, l, _| O::begin(i, p, l).map(Mapping::from)) }
    }
}

/// The `iomap_ops` of a [`ReportOps`].
pub(in crate::kfs) struct ReportTable<O: ReportOps>(PhantomData<O>);

impl<O: ReportOps> ReportTable<O> {
    pub(in crate::kfs) const OPS: b::iomap_ops = b::iomap_ops {
        iomap_begin: Some(Self::begin),
        ..pin_init::zeroed()
    };

    /// # Safety
    ///
    /// Called by iomap's seek and fiemap walks with a referenced inode of
    /// filesystem `O::FileSystem` (`i_rwsem` shared) and an `iomap` to fill.
    unsafe extern "C" fn begin(
        inode: *mut b::inode,
        pos: b::loff_t,
        length: b::loff_t,
        flags: kernel::ffi::c_uint,
        iomap: *mut b::iomap,
        _srcmap: *mut b::iomap,
    ) -> kernel::ffi::c_int {
        // SAFETY: per the caller.
        unsafe { begin_with(inode, pos, length, flags, iomap, |i, p, l, _| O::begin(i, p, l).map(Mapping::from)) }
    }
}

/// The `iomap_ops` and `iomap_write_ops` of a [`WriteOps`].
pub(in crate::kfs) struct WriteTable<O: WriteOps>(PhantomData<O>);

impl<O: WriteOps> WriteTable<O> {
    pub(in crate::kfs) const OPS: b::iomap_ops = b::iomap_ops {
        iomap_begin: Some(Self::begin),
        iomap_end: if O::HAS_END || O::HAS_RELEASE_NEW { Some(Self::end) } else { None },
        ..pin_init::zeroed()
    };

    pub(in crate::kfs) const WRITE_OPS: b::iomap_write_ops = b::iomap_write_ops {
        iomap_valid: if O::HAS_VALID { Some(Self::valid) } else { None },
        ..pin_init::zeroed()
    };

    /// # Safety
    ///
    /// Called by iomap's write paths with a referenced inode of filesystem
    /// `O::FileSystem` and a zeroed `iomap` to fill in.
    unsafe extern "C" fn begin(
        inode: *mut b::inode,
        pos: b::loff_t,
        length: b::loff_t,
        flags: kernel::ffi::c_uint,
        iomap: *mut b::iomap,
        _srcmap: *mut b::iomap,
    ) -> kernel::ffi::c_int {
        // SAFETY: per the caller.
        unsafe { begin_with(inode, pos, length, flags, iomap, O::begin) }
    }

    /// # Safety
    ///
    /// Called by iomap with the inode and the mapping `begin` filled in.
    unsafe extern "C" fn end(
        inode: *mut b::inode,
        pos: b::loff_t,
        length: b::loff_t,
        written: isize,
        flags: kernel::ffi::c_uint,
        iomap: *mut b::iomap,
    ) -> kernel::ffi::c_int {
        let flags = Flags(flags);
        // Unused blocks are given back after writes only (see
        // `release_unused`): with no `end` hook, a page fault's `end` has
        // nothing to do. Every write fault comes here, so it returns before
        // anything else: measured under icount, a fifth of what mapfs's
        // `page_mkwrite` cost beyond XFS's (Documentation/benchmarks.rst).
        let release = O::HAS_RELEASE_NEW && !flags.contains(Flags::FAULT);
        if !O::HAS_END && !release {
            return 0;
        }
        let _nofs = NoFs::enter();
        from_result(|| {
            // SAFETY: per the caller.
            let inode = unsafe { INode::<O::FileSystem>::from_raw(inode) };
            // SAFETY: the mapping `begin` filled in, still valid.
            let map = unsafe { Mapping::read(iomap) };
            let (pos, len) = range(pos, length)?;
            let written = u64::try_from(written).unwrap_or(0);
            // Only a delayed allocation is given back (iomap's punch
            // contract, and XFS's `IOMAP_DELALLOC && IOMAP_F_NEW`): blocks
            // a write allocated may be under writeback by now.
            if release && map.is_new() && map.kind() == super::map::Kind::Delalloc {
                // SAFETY: as above; `iomap` is the mapping in use.
                unsafe { Self::release_unused(inode, pos, len, written, flags, iomap) };
            }
            if O::HAS_END {
                O::end(inode, pos, len, written, flags, &map).hook()?;
            }
            Ok(0)
        })
    }

    /// Gives back the new blocks of `iomap` past what a write used, except
    /// under dirty page cache (`iomap_write_delalloc_release`, as XFS's
    /// `xfs_buffered_write_iomap_end`). Not for page faults: they run with
    /// `invalidate_lock` held shared, and a fault that fails leaves nothing
    /// dirty to lose.
    ///
    /// # Safety
    ///
    /// `iomap` is the mapping `begin` returned for `pos .. pos + len` of
    /// `inode`, after a write (not a fault) processed `written` bytes.
    unsafe fn release_unused(
        inode: &INode<O::FileSystem>,
        pos: u64,
        len: u64,
        written: u64,
        flags: Flags,
        iomap: *mut b::iomap,
    ) {
        let bs = 1u64 << inode.block_bits();
        let round_up = |v: u64| v.checked_add(bs - 1).map(|v| v & !(bs - 1));
        // The first block the write did not reach (all of them if none).
        let start = if written == 0 { Some(pos & !(bs - 1)) } else { pos.checked_add(written).and_then(round_up) };
        let end = pos.checked_add(len).and_then(round_up);
        let (Some(start), Some(end)) = (start, end) else { return };
        let (Ok(start), Ok(end)) = (i64::try_from(start), i64::try_from(end)) else { return };
        if start >= end {
            return;
        }
        let release = || {
            // SAFETY: a referenced inode with `invalidate_lock` held
            // exclusive; `iomap` is the mapping in use (caller).
            unsafe {
                b::iomap_write_delalloc_release(
                    inode.as_ptr(),
                    start,
                    end,
                    flags.bits(),
                    iomap,
                    Some(Self::release_range),
                )
            }
        };
        if flags.contains(Flags::ZERO) {
            // Zeroing runs with `invalidate_lock` held already.
            release();
        } else {
            let _inval = InvalidateLock::lock(inode);
            release();
        }
    }

    /// The `iomap_punch_t` of [`Self::release_unused`].
    ///
    /// # Safety
    ///
    /// Called by `iomap_write_delalloc_release` with the inode it was given
    /// (referenced, `invalidate_lock` held) and a range of its mapping.
    unsafe extern "C" fn release_range(
        inode: *mut b::inode,
        offset: b::loff_t,
        length: b::loff_t,
        _iomap: *mut b::iomap,
    ) {
        // SAFETY: per the caller.
        let inode = unsafe { INodeView::<O::FileSystem>::from_raw(inode) };
        if let Ok((offset, len)) = range(offset, length) {
            O::release_new(inode, offset, len);
        }
    }

    /// # Safety
    ///
    /// Called by iomap's write path with a referenced inode and the
    /// mapping in use.
    unsafe extern "C" fn valid(inode: *mut b::inode, iomap: *const b::iomap) -> bool {
        let _nofs = NoFs::enter();
        // SAFETY: per the caller.
        let inode = unsafe { INode::<O::FileSystem>::from_raw(inode) };
        // SAFETY: a mapping `begin` filled in.
        let cookie = unsafe { (*iomap).validity_cookie };
        O::valid(inode, cookie)
    }
}
