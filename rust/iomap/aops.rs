// SPDX-License-Identifier: GPL-2.0

//! `struct address_space_operations` for files whose data goes through iomap.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/iomap.h`](srctree/include/linux/iomap.h).
//!
//! Reads: `read_folio` and `readahead` hand the folio (or the readahead
//! window) to `iomap_read_folio`/`iomap_readahead` with the filesystem's
//! [`ReadOps`](super::ReadOps) and the block-device bio read operations;
//! iomap zero-fills holes, unwritten ranges and blocks past EOF, and reads
//! the rest with bios.
//!
//! Writeback: `writepages` runs `iomap_writepages` with a context whose
//! `writeback_range` maps each dirty range through [`WritebackOps::map`],
//! reusing the previous mapping while it covers the range and
//! [`WritebackOps::valid`] accepts its cookie, and adds the folio range to
//! an ioend (`iomap_add_to_ioend`); `iomap_ioend_writeback_submit` sends the
//! bios. Without [`WritebackOps::map`] there is no `writepages`. Dirty data over a hole is dropped by iomap, so the write path must
//! have allocated blocks for every dirty range; data over an unwritten
//! mapping would read back as zeros, so that is refused with `EIO` and a
//! dmesg line (the write path converts unwritten blocks when it maps them).
//!
//! The folio helpers (`dirty_folio`, `release_folio`,
//! `invalidate_folio`, `is_partially_uptodate`, `error_remove_folio`) are
//! iomap's and the page cache's own.

use super::{map::Kind, ops::{checked, ReadTable}, Flags, Mapping, WritebackOps};
use crate::kfs::{
    bindings as b,
    vfs::{
        file::{ReadOf, WritebackOf},
        FileSystem, INodeView, NoFs,
    },
};
use core::marker::PhantomData;
use kernel::prelude::*;

/// The `address_space_operations` of regular files of filesystem `T`.
pub(in crate::kfs) fn table<T: FileSystem>() -> &'static b::address_space_operations {
    &Aops::<T>::AOPS
}

/// An empty read context that reads with the block-device bio operations.
fn bio_read_ctx() -> b::iomap_read_folio_ctx {
    let mut ctx: b::iomap_read_folio_ctx = pin_init::zeroed();
    ctx.ops = &raw const b::iomap_bio_read_ops;
    ctx
}

struct Aops<T: FileSystem>(PhantomData<T>);

impl<T: FileSystem> Aops<T> {
    const AOPS: b::address_space_operations = b::address_space_operations {
        read_folio: Some(Self::read_folio),
        readahead: Some(Self::readahead),
        writepages: if WritebackOf::<T>::HAS_MAP { Some(Self::writepages) } else { None },
        #[cfg(CONFIG_MIGRATION)]
        migrate_folio: Some(b::filemap_migrate_folio),
        dirty_folio: Some(b::iomap_dirty_folio),
        release_folio: Some(b::iomap_release_folio),
        invalidate_folio: Some(b::iomap_invalidate_folio),
        is_partially_uptodate: Some(b::iomap_is_partially_uptodate),
        error_remove_folio: Some(b::generic_error_remove_folio),
        ..pin_init::zeroed()
    };

    /// # Safety
    ///
    /// Called by the page cache with a locked folio of a `T` regular file
    /// and `invalidate_lock` held shared.
    unsafe extern "C" fn read_folio(_file: *mut b::file, folio: *mut b::folio) -> kernel::ffi::c_int {
        let _nofs = NoFs::enter();
        let mut ctx = bio_read_ctx();
        ctx.cur_folio = folio.cast();
        // SAFETY: a locked folio of a `T` file (caller guarantee); iomap maps
        // it with `T`'s read operations, submits the reads and unlocks the
        // folio when they end (also on error, through the folio's state).
        unsafe {
            b::iomap_read_folio(&ReadTable::<ReadOf<T>>::OPS, &mut ctx, core::ptr::null_mut())
        };
        0
    }

    /// # Safety
    ///
    /// Called by the page cache with the readahead window of a `T` regular
    /// file, `invalidate_lock` held shared.
    unsafe extern "C" fn readahead(rac: *mut b::readahead_control) {
        let _nofs = NoFs::enter();
        let mut ctx = bio_read_ctx();
        ctx.rac = rac.cast();
        // SAFETY: the readahead window of a `T` file (caller guarantee).
        unsafe {
            b::iomap_readahead(&ReadTable::<ReadOf<T>>::OPS, &mut ctx, core::ptr::null_mut())
        };
    }

    const WB_OPS: b::iomap_writeback_ops = b::iomap_writeback_ops {
        writeback_range: Some(Self::writeback_range),
        writeback_submit: Some(b::iomap_ioend_writeback_submit),
    };

    /// # Safety
    ///
    /// Called by the page cache (writeback) with the mapping of a `T`
    /// regular file.
    unsafe extern "C" fn writepages(
        mapping: *mut b::address_space,
        wbc: *mut b::writeback_control,
    ) -> kernel::ffi::c_int {
        let _nofs = NoFs::enter();
        // All-zero is an empty writepage context: no mapping yet (length 0),
        // no pending ioend.
        let mut wpc: b::iomap_writepage_ctx = pin_init::zeroed();
        // SAFETY: `mapping` is the live mapping of an inode (caller).
        wpc.inode = unsafe { (*mapping).host };
        wpc.wbc = wbc;
        wpc.ops = &Self::WB_OPS;
        // SAFETY: a complete context on our stack, alive for the call;
        // iomap submits every ioend before it returns.
        unsafe { b::iomap_writepages(&mut wpc) }
    }

    /// # Safety
    ///
    /// Called by `iomap_writepages` with our context and a locked folio
    /// under writeback, for the dirty range `pos .. pos + len`. The inode
    /// may have no reference left (writeback at its final `iput`).
    unsafe extern "C" fn writeback_range(
        wpc: *mut b::iomap_writepage_ctx,
        folio: *mut b::folio,
        pos: u64,
        len: kernel::ffi::c_uint,
        end_pos: u64,
    ) -> isize {
        let res = (|| -> Result<isize> {
            // SAFETY: our context (see `writepages`), with an initialised
            // inode of `T` (referenced or not: hence a view).
            let inode = unsafe { INodeView::<T>::from_raw((*wpc).inode) };
            // SAFETY: the context's mapping: zeroed or filled by us.
            let cached = unsafe { Mapping::read(&raw const (*wpc).iomap) };
            let reuse = WritebackOf::<T>::HAS_VALID
                && cached.length() != 0
                && pos >= cached.offset()
                && pos - cached.offset() < cached.length()
                && WritebackOf::<T>::valid(inode, cached.cookie());
            let map = if reuse {
                cached
            } else {
                let map = WritebackOf::<T>::map(inode, pos, u64::from(len))?;
                // Writeback asks like a read (no flag): never new blocks.
                let map = checked(inode, pos, Flags::NONE, map)?;
                // SAFETY: the context's mapping is ours to fill; `s_bdev`
                // is the filesystem's device.
                unsafe { map.fill(&raw mut (*wpc).iomap, (*inode.super_block().ptr()).s_bdev) };
                map
            };
            if !matches!(map.kind(), Kind::Mapped { .. }) {
                pr_err!(
                    "inode {}: dirty data at {} over a hole or unwritten blocks: not written\n",
                    inode.ino(),
                    pos
                );
                return Err(EIO);
            }
            let pos = i64::try_from(pos).map_err(|_| EINVAL)?;
            let end_pos = i64::try_from(end_pos).map_err(|_| EINVAL)?;
            // SAFETY: the context holds a mapping covering `pos`; the folio
            // is locked and under writeback (caller guarantee).
            Ok(unsafe { b::iomap_add_to_ioend(wpc, folio, pos, end_pos, len) })
        })();
        res.unwrap_or_else(|e| e.to_errno() as isize)
    }
}
