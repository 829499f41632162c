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
//! bios. Without [`WritebackOps::map`] there is no `writepages`. Dirty
//! data over a hole is skipped by iomap (a shared mapping's stores past EOF,
//! which a truncate up brings inside EOF); over an unwritten mapping it
//! would read back as zeros, so that is refused with `EIO` and a dmesg line
//! unless the filesystem has a completion to convert it. The answer is a
//! [`super::WritebackMapping`], which cannot be a delayed allocation or
//! new blocks.
//!
//! The folio helpers (`dirty_folio`, `release_folio`,
//! `invalidate_folio`, `is_partially_uptodate`, `error_remove_folio`) are
//! iomap's and the page cache's own.

use crate::kfs::HookResult;
use super::{map::Kind, ops::{checked, ReadTable}, Flags, Mapping, WritebackOps};
use crate::kfs::{
    bindings as b,
    vfs::{
        file::{ReadOf, WritebackOf},
        FileSystem, INodeView, NoFs,
    },
};
use core::{marker::PhantomData, ptr::NonNull};
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
        writeback_submit: if WritebackOf::<T>::HAS_COMPLETE {
            Some(Self::writeback_submit)
        } else {
            Some(b::iomap_ioend_writeback_submit)
        },
    };

    /// Sends the context's ioend, with its completion deferred to the super
    /// block's workqueue when the filesystem must see it
    /// ([`WritebackOps::needs_completion`]).
    ///
    /// # Safety
    ///
    /// Called by `iomap_writepages` with our context holding an ioend.
    unsafe extern "C" fn writeback_submit(
        wpc: *mut b::iomap_writepage_ctx,
        error: kernel::ffi::c_int,
    ) -> kernel::ffi::c_int {
        // SAFETY: our context with its pending ioend (caller).
        let (inode, ioend) = unsafe { ((*wpc).inode, (*wpc).wb_ctx.cast::<b::iomap_ioend>()) };
        // SAFETY: an initialised inode of `T`, under writeback.
        let inode = unsafe { INodeView::<T>::from_raw(inode) };
        // SAFETY: the ioend iomap built; read before submission.
        let (offset, size, flags) = unsafe { ((*ioend).io_offset, (*ioend).io_size, (*ioend).io_flags) };
        let unwritten = u32::from(flags) & b::IOMAP_IOEND_UNWRITTEN != 0;
        let defer = if WritebackOf::<T>::HAS_NEEDS_COMPLETION {
            let offset = u64::try_from(offset).unwrap_or(0);
            WritebackOf::<T>::needs_completion(inode, offset, size as u64, unwritten)
        } else {
            unwritten
        };
        match inode.super_block().endio() {
            // SAFETY: the context and the super block's completion queue,
            // which lives until after every writeback of this super block
            // ended (see `SbState`).
            Some(q) if defer => unsafe { b::kfs_helper_writeback_submit_deferred(wpc, error, q.as_ptr()) },
            // SAFETY: our context (caller).
            _ => unsafe { b::iomap_ioend_writeback_submit(wpc, error) },
        }
    }

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
        // Allocation (delayed allocation's blocks) must not recurse into
        // the filesystem through reclaim.
        let _nofs = NoFs::enter();
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
                let map = Mapping::from(WritebackOf::<T>::map(inode, pos, u64::from(len)).hook()?);
                // Writeback asks like a read (no flag): never new blocks.
                let map = checked(inode, pos, Flags::NONE, map)?;
                // SAFETY: the context's mapping is ours to fill; `s_bdev`
                // is the filesystem's device.
                unsafe { map.fill(&raw mut (*wpc).iomap, (*inode.super_block().ptr()).s_bdev) };
                map
            };
            // A hole is iomap's to skip: blocks past EOF that a shared
            // mapping dirtied (`iomap_dirty_folio` marks the whole folio)
            // come back inside EOF after a truncate up, with nothing to
            // write. Unwritten blocks under dirty data would read back as
            // zeros unless the completion converts them.
            // (A delayed allocation cannot be the answer: `WritebackMapping`
            // has no way to say it.)
            let unwritten = matches!(map.kind(), Kind::Unwritten { .. });
            if unwritten && !WritebackOf::<T>::HAS_COMPLETE {
                pr_err!(
                    "{}: inode {}: dirty data at {} over unwritten blocks: not written\n",
                    inode.super_block().id(),
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

/// The completion queue of a super block whose filesystem implements
/// [`WritebackOps::complete`]: a workqueue (`WQ_MEM_RECLAIM`) and the list
/// of ended ioends it completes, in process context.
///
/// # Invariants
///
/// `self.0` came from `kfs_helper_endio_alloc` and is freed only in `drop`.
pub(in crate::kfs) struct EndIo(NonNull<b::kfs_endio>);

// SAFETY: the queue is used from any context through its own spinlock; the
// pointer is only freed in `drop`.
unsafe impl Send for EndIo {}
// SAFETY: see `Send`.
unsafe impl Sync for EndIo {}

impl EndIo {
    /// A queue for filesystem `T`'s super block on device `id`.
    pub(in crate::kfs) fn new<T: FileSystem>(id: &CStr) -> Result<Self> {
        // SAFETY: `id` is NUL-terminated (the workqueue copies its name);
        // `complete::<T>` has the callback type the helper expects.
        let q = unsafe { b::kfs_helper_endio_alloc(id.as_char_ptr(), Some(complete::<T>)) };
        NonNull::new(q).map(Self).ok_or(ENOMEM)
    }

    fn as_ptr(&self) -> *mut b::kfs_endio {
        self.0.as_ptr()
    }
}

impl Drop for EndIo {
    fn drop(&mut self) {
        // SAFETY: type invariant; `destroy_workqueue` first runs whatever
        // is still queued.
        unsafe { b::kfs_helper_endio_free(self.0.as_ptr()) };
    }
}

/// Completes one (merged) ioend: the filesystem's completion, then iomap's
/// (`iomap_finish_ioends`: ends the folios' writeback, records an error).
///
/// # Safety
///
/// Called by the completion work with an ended write ioend of a `T` inode
/// whose folios are still under writeback (so the inode is not evicted).
unsafe extern "C" fn complete<T: FileSystem>(ioend: *mut b::iomap_ioend) {
    let _nofs = NoFs::enter();
    // SAFETY: per the caller.
    let (inode, offset, size) = unsafe { ((*ioend).io_inode, (*ioend).io_offset, (*ioend).io_size) };
    // SAFETY: as above.
    let mut error = unsafe { b::kfs_helper_ioend_status(ioend) };
    // SAFETY: an initialised inode of `T` that eviction waits for (its
    // folios are under writeback until `iomap_finish_ioends` below).
    let inode = unsafe { INodeView::<T>::from_raw(inode) };
    let io_error = (error != 0).then(|| Error::from_errno(error));
    let res = WritebackOf::<T>::complete(inode, u64::try_from(offset).unwrap_or(0), size as u64, io_error).hook();
    if let Err(e) = res {
        if error == 0 {
            pr_err!("{}: inode {}: completing the write of {}+{} failed: error {}\n",
                inode.super_block().id(), inode.ino(), offset, size, e.to_errno());
            error = e.to_errno();
        }
    }
    // SAFETY: the ioend (and the ones merged into it), done with; nothing
    // touches the inode after this.
    unsafe { b::iomap_finish_ioends(ioend, error) };
}
