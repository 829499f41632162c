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

/// A filesystem's `iomap_ops`.
pub trait Operations: Send + Sync + 'static {
    /// The filesystem whose inodes this maps.
    type FileSystem: FileSystem;

    /// Maps the range starting at byte `pos` of `inode`, up to `len` bytes:
    /// the returned mapping must cover `pos` and may be shorter or longer
    /// than asked (a wrong answer fails the I/O with `EIO`).
    fn begin(inode: &INode<Self::FileSystem>, pos: u64, len: u64, flags: Flags) -> Result<Mapping>;
}

/// The C table for `O`.
pub(crate) struct Table<O: Operations>(PhantomData<O>);

impl<O: Operations> Table<O> {
    pub(crate) const OPS: b::iomap_ops = b::iomap_ops {
        iomap_begin: Some(Self::begin),
        iomap_end: None,
        iomap_next: None,
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
            let map = O::begin(inode, pos, len, Flags(flags))?;
            if map.check(pos, inode.block_bits()).is_err() {
                pr_err!(
                    "iomap_begin of inode {} returned an invalid mapping for pos {}: {:?}\n",
                    inode.ino(),
                    pos,
                    map
                );
                return Err(EIO);
            }
            // SAFETY: `iomap` is valid for writes (caller guarantee); `s_bdev`
            // is the filesystem's device, open while it is mounted.
            unsafe { map.fill(iomap, (*inode.super_block().ptr()).s_bdev) };
            Ok(0)
        })
    }
}
