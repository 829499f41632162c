// SPDX-License-Identifier: GPL-2.0

//! `struct iomap_ops`: how a filesystem maps file ranges for iomap.
//!
//! C header: [`include/linux/iomap.h`](srctree/include/linux/iomap.h).
//!
//! iomap calls `begin` for each stretch of a request and uses the returned
//! [`Mapping`] for as much of the request as it covers. `begin` runs in
//! different contexts depending on the request (see [`Flags`]): for reads
//! (no flags) under the folio lock and the mapping's `invalidate_lock` held
//! shared, so it must take neither `i_rwsem` nor `invalidate_lock`. Keep the
//! filesystem's own mapping lock inside `begin`: never hold it across the
//! return, because iomap then locks folios and faults in user pages.

use super::Mapping;
use crate::kfs::{bindings as b, vfs::{FileSystem, INode}};
use core::marker::PhantomData;
use kernel::{error::from_result, prelude::*};

/// The request flags iomap passes to `begin` (`IOMAP_WRITE`, ...). No flag
/// means a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags(u32);

impl Flags {
    /// A write: buffered write or page fault (never answer with a hole).
    pub const WRITE: Self = Self(b::IOMAP_WRITE);
    /// Zeroing a range (zero range, truncate page): holes are skipped.
    pub const ZERO: Self = Self(b::IOMAP_ZERO);
    /// Reporting (fiemap, seek hole/data): do not allocate.
    pub const REPORT: Self = Self(b::IOMAP_REPORT);
    /// A page fault (`page_mkwrite`), with [`Self::WRITE`].
    pub const FAULT: Self = Self(b::IOMAP_FAULT);
    /// Direct I/O.
    pub const DIRECT: Self = Self(b::IOMAP_DIRECT);
    /// Must not block: return `EAGAIN` instead.
    pub const NOWAIT: Self = Self(b::IOMAP_NOWAIT);
    /// Writeback asking where dirty data goes: like a read (no flag), the
    /// blocks must already be allocated.
    pub const WRITEBACK: Self = Self(0);

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

/// A filesystem's `iomap_ops` and `iomap_write_ops`.
///
/// Contexts (who holds what when iomap calls in):
///
/// - reads (`read_folio`, `readahead`; no flags): the folio lock and the
///   mapping's `invalidate_lock` shared;
/// - buffered writes ([`Flags::WRITE`]): the file's `i_rwsem` exclusive, no
///   folio lock (`begin` runs before iomap locks folios, `end` after);
/// - zeroing ([`Flags::ZERO`]: zero range, truncate page): `i_rwsem` and
///   `invalidate_lock` exclusive;
/// - page faults ([`Flags::WRITE`] | [`Flags::FAULT`]): `invalidate_lock`
///   shared and the folio lock, `i_rwsem` **not** held;
/// - writeback (flags `0`, through [`Operations::begin`]): the folio lock
///   only.
///
/// Every call runs in a no-filesystem-reclaim scope (`memalloc_nofs_save`):
/// allocations cannot recurse into the filesystem. Keep the filesystem's own
/// mapping lock inside each call: never hold it across a return, because
/// iomap then locks folios and faults in user pages.
pub trait Operations: Send + Sync + 'static {
    /// The filesystem whose inodes this maps.
    type FileSystem: FileSystem;

    /// Maps the range starting at byte `pos` of `inode`, up to `len` bytes:
    /// the returned mapping must cover `pos` and may be shorter or longer
    /// than asked (a wrong answer fails the I/O with `EIO`). For
    /// [`Flags::WRITE`] the answer must be mapped (allocate holes, convert
    /// unwritten blocks), never a hole.
    fn begin(inode: &INode<Self::FileSystem>, pos: u64, len: u64, flags: Flags) -> Result<Mapping>;

    /// Called once iomap is done with `map` for the range `pos .. pos +
    /// len` (the part of the request `map` covered), of which `written`
    /// bytes were processed: a short write leaves blocks the filesystem may
    /// want to give back.
    fn end(
        _inode: &INode<Self::FileSystem>,
        _pos: u64,
        _len: u64,
        _written: u64,
        _flags: Flags,
        _map: &Mapping,
    ) -> Result {
        Ok(())
    }

    /// `iomap_valid`: whether a mapping made with validity `cookie` (see
    /// [`Mapping::with_cookie`]) still describes the file. Called by the
    /// write path with the folio locked, and by writeback before it reuses a
    /// cached mapping; a `false` makes iomap ask [`Self::begin`] again.
    fn valid(_inode: &INode<Self::FileSystem>, _cookie: u64) -> bool {
        true
    }
}

/// A scope in which memory allocations do not recurse into filesystems
/// (`memalloc_nofs_save`/`memalloc_nofs_restore`).
pub(crate) struct NoFs(kernel::ffi::c_uint);

impl NoFs {
    pub(crate) fn enter() -> Self {
        // SAFETY: always callable from process context; paired in `drop`.
        Self(unsafe { b::mapfs_helper_memalloc_nofs_save() })
    }
}

impl Drop for NoFs {
    fn drop(&mut self) {
        // SAFETY: restores what `enter` saved, in LIFO order (guards are
        // scoped values).
        unsafe { b::mapfs_helper_memalloc_nofs_restore(self.0) };
    }
}

/// Asks `O` for the mapping at `pos` and checks it.
pub(crate) fn map_checked<O: Operations>(
    inode: &INode<O::FileSystem>,
    pos: u64,
    len: u64,
    flags: Flags,
) -> Result<Mapping> {
    let map = {
        let _nofs = NoFs::enter();
        O::begin(inode, pos, len, flags)?
    };
    let bad = map.check(pos, inode.block_bits()).is_err()
        || (flags.contains(Flags::WRITE) && map.kind() == super::map::Kind::Hole);
    if bad {
        pr_err!(
            "iomap_begin of inode {} returned an invalid mapping for pos {} flags {:#x}: {:?}\n",
            inode.ino(),
            pos,
            flags.bits(),
            map
        );
        return Err(EIO);
    }
    Ok(map)
}

/// The C tables for `O`.
pub(crate) struct Table<O: Operations>(PhantomData<O>);

impl<O: Operations> Table<O> {
    pub(crate) const OPS: b::iomap_ops = b::iomap_ops {
        iomap_begin: Some(Self::begin),
        iomap_end: Some(Self::end),
        iomap_next: None,
    };

    pub(crate) const WRITE_OPS: b::iomap_write_ops = b::iomap_write_ops {
        iomap_valid: Some(Self::valid),
        // SAFETY: all-zero is a valid `iomap_write_ops` (iomap's defaults).
        ..unsafe { core::mem::zeroed() }
    };

    /// # Safety
    ///
    /// Called by iomap with a live inode of filesystem `O::FileSystem` and a
    /// zeroed `iomap` to fill in.
    unsafe extern "C" fn begin(
        inode: *mut b::inode,
        pos: b::loff_t,
        length: b::loff_t,
        flags: kernel::ffi::c_uint,
        iomap: *mut b::iomap,
        _srcmap: *mut b::iomap,
    ) -> kernel::ffi::c_int {
        from_result(|| {
            // SAFETY: iomap passes a live inode of this filesystem.
            let inode = unsafe { INode::<O::FileSystem>::from_raw(inode) };
            let pos = u64::try_from(pos).map_err(|_| EINVAL)?;
            let len = u64::try_from(length).map_err(|_| EINVAL)?;
            let map = map_checked::<O>(inode, pos, len, Flags(flags))?;
            // SAFETY: `iomap` is valid for writes (caller guarantee); `s_bdev`
            // is the filesystem's device, open while it is mounted.
            unsafe { map.fill(iomap, (*inode.super_block().ptr()).s_bdev) };
            Ok(0)
        })
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
        from_result(|| {
            // SAFETY: iomap passes a live inode of this filesystem.
            let inode = unsafe { INode::<O::FileSystem>::from_raw(inode) };
            // SAFETY: the mapping `begin` filled in, still valid.
            let map = unsafe { Mapping::read(iomap) };
            let pos = u64::try_from(pos).map_err(|_| EINVAL)?;
            let len = u64::try_from(length).map_err(|_| EINVAL)?;
            let written = u64::try_from(written).unwrap_or(0);
            let _nofs = NoFs::enter();
            O::end(inode, pos, len, written, Flags(flags), &map)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by iomap's write path with a live inode and the mapping in use.
    unsafe extern "C" fn valid(inode: *mut b::inode, iomap: *const b::iomap) -> bool {
        // SAFETY: iomap passes a live inode of this filesystem.
        let inode = unsafe { INode::<O::FileSystem>::from_raw(inode) };
        // SAFETY: a mapping `begin` filled in.
        let cookie = unsafe { (*iomap).validity_cookie };
        O::valid(inode, cookie)
    }
}
