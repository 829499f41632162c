// SPDX-License-Identifier: GPL-2.0

//! The super block: mounting (reading and checking it), the super block
//! operations, remounting, and the clean/not-clean state on disk.

#![forbid(unsafe_code)]

use crate::alloc::Alloc;
use crate::format::{
    self, crc32c::fs_seed, super_block::{Superblock, STATE_CLEAN, STATE_ERRORS}, layout::SUPERBLOCK_SIZE,
};
use crate::inode::{delete_inode, release_tree_reservation, write_inode};
use crate::kfs::fmt::Shown;
use crate::kfs::vfs::{Buffer, INodeView, NewSuperBlock, StatFs, SuperBlock, SuperOperations};
use crate::{MapFs, MapfsSb, OnError, Options};
use kernel::{
    new_mutex,
    prelude::*,
    seq_file::{seq_print, SeqFile},
    sync::atomic::{Atomic, Full, Relaxed, Release},
};

/// mapfs's super block operations.
pub(crate) struct Super;

/// Reads and checks the super block, sets the block size, loads the
/// allocator ([`crate::kfs::vfs::FileSystem::fill_super`]).
pub(crate) fn fill_super(sb: &mut NewSuperBlock<MapFs>, options: &Options) -> Result<MapfsSb> {
    // The super block is the first 1024 bytes of the device, whatever the
    // block size: read it with the smallest block size the device allows.
    sb.min_block_size(SUPERBLOCK_SIZE as u32)?;
    let mut raw = [0u8; SUPERBLOCK_SIZE];
    {
        let buf = sb.read_block(0)?;
        let guard = buf.lock()?;
        let src = guard.data().get(..SUPERBLOCK_SIZE).ok_or(EINVAL)?;
        raw.copy_from_slice(src);
    }
    // The device name, copied: `sb` is changed below.
    let mut idbuf = [0u8; 32];
    let idlen = {
        let src = sb.id().to_bytes();
        let n = src.len().min(idbuf.len());
        idbuf[..n].copy_from_slice(&src[..n]);
        n
    };
    let id = core::str::from_utf8(&idbuf[..idlen]).unwrap_or("?");
    let disk = Superblock::decode(&raw).map_err(|e| {
        pr_err!("{}: not a valid mapfs super block: {}\n", id, Shown(e));
        EINVAL
    })?;
    let geo = disk.validate(sb.device_bytes()).map_err(|e| {
        pr_err!("{}: refusing to mount: {}\n", id, Shown(e));
        EINVAL
    })?;
    let bs = geo.block_size();
    if sb.set_block_size(bs).is_err() {
        pr_err!("{}: the device cannot use the filesystem's block size {}\n", id, bs);
        return Err(EINVAL);
    }
    sb.set_max_bytes(i64::try_from(format::max_file_size(bs)).unwrap_or(i64::MAX));
    if geo.has_xattrs() {
        // POSIX ACLs live in extended attributes.
        sb.enable_posix_acl()?;
    }
    if disk.unknown_ro_compat() != 0 && !sb.is_read_only() {
        pr_warn!("{}: unknown read-only-compatible features {:#x}: mounting read-only\n",
            id, disk.unknown_ro_compat());
        sb.set_read_only();
    }
    let seed = fs_seed(&disk.uuid);
    let mut alloc = Alloc::load(|b| sb.read_block(b), &geo, seed, &disk, id)?;
    let read_only = sb.is_read_only();
    let unclean = !read_only && disk.state & STATE_CLEAN == 0;
    if !read_only {
        if unclean {
            pr_warn!("{}: was not cleanly unmounted: recovering the namespace\n", id);
        }
        if disk.state & STATE_ERRORS != 0 {
            pr_warn!("{}: corruption was found on this filesystem: run fsck.mapfs\n", id);
        }
        begin_writing(&mut alloc, |b| sb.read_block(b))?;
    }
    let alloc = KBox::pin_init(new_mutex!(alloc, "mapfs_alloc"), GFP_KERNEL)?;
    Ok(MapfsSb {
        geo,
        seed,
        alloc,
        read_only: Atomic::new(read_only),
        errors: Atomic::new(false),
        remount_ro_on_error: Atomic::new(options.errors == Some(OnError::RemountRo)),
        error_ro: Atomic::new(false),
        log: crate::errors::ErrorLog::new(),
        unclean,
    })
}

#[vtable]
impl SuperOperations for Super {
    type FileSystem = MapFs;

    fn statfs(sb: &SuperBlock<MapFs>) -> Result<StatFs> {
        let d = sb.data();
        // Blocks promised to extent-tree growth are not free to use.
        let (free_blocks, free_inodes) = {
            let a = d.alloc.lock();
            (a.available(), a.sb.free_inodes)
        };
        Ok(StatFs {
            block_size: d.geo.block_size(),
            blocks: d.geo.block_count,
            free_blocks,
            files: u64::from(d.geo.inode_count),
            free_files: u64::from(free_inodes),
            name_len: format::dir::MAX_NAME_LEN as u32,
        })
    }

    fn write_inode(inode: &INodeView<MapFs>) -> Result {
        write_inode(inode)
    }

    fn evict_inode(inode: &INodeView<MapFs>, deleted: bool) {
        release_tree_reservation(inode, &mut inode.data().map.lock());
        if deleted {
            delete_inode(inode);
        }
    }

    fn sync_fs(sb: &SuperBlock<MapFs>, _wait: bool) -> Result {
        record_state(sb, false)
    }

    fn freeze(sb: &SuperBlock<MapFs>) -> Result {
        // Synced and held still: a snapshot of the device is clean.
        record_state(sb, true)
    }

    fn unfreeze(sb: &SuperBlock<MapFs>) -> Result {
        record_state(sb, false)
    }

    fn put_super(sb: &SuperBlock<MapFs>) {
        if record_state(sb, true).is_err() {
            pr_err!("{}: could not record the clean state at unmount\n", sb.id());
        }
    }

    fn show_options(sb: &SuperBlock<MapFs>, m: &SeqFile) -> Result {
        if sb.data().remount_ro_on_error.load(Relaxed) {
            seq_print!(m, ",errors=remount-ro");
        }
        Ok(())
    }
}

/// A corrupt structure was found (the caller logged what): the super block
/// will carry `STATE_ERRORS`, and with `errors=remount-ro` the filesystem
/// stops changing anything: every later change fails with `EROFS` (see
/// [`MapfsSb::check_writable`]), dirty data is not written back, and only
/// the super block, marked with errors and not clean, is written again
/// (at sync and unmount). Takes no lock, so callers may hold any.
pub(crate) fn fs_error(sb: &SuperBlock<MapFs>) {
    let d = sb.data();
    d.errors.store(true, Relaxed);
    if d.remount_ro_on_error.load(Relaxed) && !d.is_read_only() && !d.error_ro.xchg(true, Full) {
        d.read_only.store(true, Release);
        pr_crit!("{}: corruption found: read-only from now on (errors=remount-ro); unmount and run fsck.mapfs\n",
            sb.id());
    }
}

/// A remount: `errors=` when given, and a switch between read-only and
/// read-write ([`crate::kfs::vfs::FileSystem::reconfigure`]). A
/// filesystem that became read-only after a corruption stays so until it is
/// unmounted and checked.
pub(crate) fn reconfigure(sb: &SuperBlock<MapFs>, read_only: Option<bool>, options: &Options) -> Result {
    let d = sb.data();
    let error_ro = d.error_ro.load(Relaxed);
    if read_only == Some(false) && error_ro {
        pr_err!("{}: read-only after a corruption: unmount and run fsck.mapfs before writing\n", sb.id());
        return Err(EROFS);
    }
    if let Some(e) = options.errors {
        d.remount_ro_on_error.store(e == OnError::RemountRo, Relaxed);
    }
    let Some(read_only) = read_only else { return Ok(()) };
    let mut a = d.alloc.lock();
    if read_only {
        if error_ro {
            a.sb.state |= STATE_ERRORS;
        }
        // Everything was synced: the image is clean while read-only, unless
        // writes stopped at a corruption.
        a.write_super(|b| sb.read_block(b), !error_ro)?;
        d.read_only.store(true, Relaxed);
    } else {
        if a.sb.unknown_ro_compat() != 0 {
            pr_err!("{}: unknown read-only-compatible features {:#x}: cannot write\n",
                sb.id(), a.sb.unknown_ro_compat());
            return Err(EROFS);
        }
        begin_writing(&mut a, |b| sb.read_block(b))?;
        d.read_only.store(false, Relaxed);
        drop(a);
        // What a read-only mount left on the orphan list goes now.
        if let Err(e) = crate::inode::process_orphans(sb) {
            pr_err!("{}: processing the orphan list: error {}\n", sb.id(), e.to_errno());
        }
    }
    Ok(())
}

/// The filesystem becomes writable (a read-write mount, or a remount from
/// read-only): count the mount, stamp it, and record the image as not
/// clean until `put_super`, `freeze` or a remount read-only.
fn begin_writing<'a>(alloc: &mut Alloc, read: impl Fn(u64) -> Result<Buffer<'a>>) -> Result {
    alloc.sb.mount_count = alloc.sb.mount_count.wrapping_add(1);
    alloc.sb.mount_time = crate::kfs::vfs::now_seconds();
    alloc.write_super(read, false)
}

/// Writes the counts kept in memory to the super block, marked clean or not
/// (a sync: not clean; unmount and freeze: clean). Nothing to write on a
/// read-only mount; after a corruption made it read-only, the super block
/// marked with errors and not clean.
fn record_state(sb: &SuperBlock<MapFs>, clean: bool) -> Result {
    let d = sb.data();
    let error_ro = d.error_ro.load(Relaxed);
    if d.is_read_only() && !error_ro {
        return Ok(());
    }
    let mut a = d.alloc.lock();
    // `fs_error` sets `errors` before `error_ro`.
    if d.errors.load(Relaxed) {
        a.sb.state |= STATE_ERRORS;
    }
    a.write_super(|b| sb.read_block(b), clean && !error_ro)
}
