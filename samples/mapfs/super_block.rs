// SPDX-License-Identifier: GPL-2.0

//! Mounting mapfs: reading and checking the super block.

#![forbid(unsafe_code)]

use crate::format::{
    self, crc32c::fs_seed, layout::Geometry, layout::ROOT_INO, layout::SUPERBLOCK_SIZE,
    super_block::{Superblock, STATE_CLEAN},
};
use crate::kfs::vfs::{Buffer, DirEmitter, FileSystem, INode, INodeType, NewSuperBlock, StatFs, SuperBlock, Timespec};
use crate::kfs::fmt::Shown;
use crate::alloc::Alloc;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{new_mutex, prelude::*, sync::aref::ARef, sync::Mutex};

/// The mapfs filesystem type.
pub(crate) struct MapFs;

/// What a mounted mapfs keeps about its device.
pub(crate) struct MapfsSb {
    /// Where every region is.
    pub(crate) geo: Geometry,
    /// The checksum seed (from the UUID).
    pub(crate) seed: u32,
    /// Bitmaps, counters and the super block to write.
    pub(crate) alloc: Pin<KBox<Mutex<Alloc>>>,
    /// Mounted read-only: nothing is written (changes on remount).
    pub(crate) read_only: AtomicBool,
}

impl MapfsSb {
    /// Whether the filesystem is mounted read-only now.
    pub(crate) fn is_read_only(&self) -> bool {
        self.read_only.load(Ordering::Relaxed)
    }

    /// Allocates up to `max` blocks near `goal` (see [`Alloc::alloc_blocks`]).
    pub(crate) fn alloc_blocks(&self, sb: &SuperBlock<MapFs>, goal: Option<u64>, max: u64) -> Result<(u64, u64)> {
        if self.is_read_only() {
            return Err(EROFS);
        }
        self.alloc.lock().alloc_blocks(sb, &self.geo, self.seed, goal, max)
    }

    /// Frees blocks.
    pub(crate) fn free_blocks(&self, sb: &SuperBlock<MapFs>, start: u64, len: u64) -> Result {
        self.alloc.lock().free_blocks(sb, &self.geo, self.seed, start, len)
    }

    /// Allocates an inode number and its generation.
    pub(crate) fn alloc_inode(&self, sb: &SuperBlock<MapFs>) -> Result<(u32, u32)> {
        if self.is_read_only() {
            return Err(EROFS);
        }
        self.alloc.lock().alloc_inode(sb, &self.geo, self.seed)
    }

    /// Frees an inode number.
    pub(crate) fn free_inode(&self, sb: &SuperBlock<MapFs>, ino: u32) -> Result {
        self.alloc.lock().free_inode(sb, &self.geo, self.seed, ino)
    }
}

impl FileSystem for MapFs {
    const NAME: &'static CStr = c"mapfs";
    const MAGIC: u32 = format::super_block::SB_MAGIC;
    type Data = MapfsSb;
    type INodeData = crate::inode::MapfsInode;
    type Iomap = crate::iomap::FileOps;

    fn fill_super(sb: &mut NewSuperBlock<Self>) -> Result<MapfsSb> {
        // The super block is the first 1024 bytes of the device, whatever the
        // block size: read it with the smallest block size the device allows.
        sb.min_block_size(SUPERBLOCK_SIZE as u32)?;
        let mut raw = [0u8; SUPERBLOCK_SIZE];
        {
            let buf = sb.read_block(0)?;
            let guard = buf.lock();
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
        if disk.unknown_ro_compat() != 0 && !sb.is_read_only() {
            pr_warn!("{}: unknown read-only-compatible features {:#x}: mounting read-only\n",
                id, disk.unknown_ro_compat());
            sb.set_read_only();
        }
        let seed = fs_seed(&disk.uuid);
        let mut alloc = Alloc::load(|b| sb.read_block(b), &geo, seed, &disk)?;
        let read_only = sb.is_read_only();
        if !read_only {
            if disk.state & STATE_CLEAN == 0 {
                pr_warn!("{}: was not cleanly unmounted: run fsck.mapfs\n", id);
            }
            begin_writing(&mut alloc, |b| sb.read_block(b))?;
        }
        let alloc = KBox::pin_init(new_mutex!(alloc, "mapfs_alloc"), GFP_KERNEL)?;
        Ok(MapfsSb { geo, seed, alloc, read_only: AtomicBool::new(read_only) })
    }

    fn root(sb: &SuperBlock<Self>) -> Result<ARef<INode<Self>>> {
        crate::inode::iget(sb, ROOT_INO)
    }

    fn init_inode_data() -> impl PinInit<Self::INodeData, Error> {
        crate::inode::MapfsInode::new()
    }

    fn statfs(sb: &SuperBlock<Self>) -> Result<StatFs> {
        let d = sb.data();
        let (free_blocks, free_inodes) = {
            let a = d.alloc.lock();
            (a.sb.free_blocks, a.sb.free_inodes)
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

    fn lookup(dir: &INode<Self>, name: &[u8]) -> Result<Option<ARef<INode<Self>>>> {
        crate::dir::lookup(dir, name)
    }

    fn read_dir(dir: &INode<Self>, emitter: &mut DirEmitter) -> Result {
        crate::dir::read_dir(dir, emitter)
    }

    fn write_inode(inode: &INode<Self>) -> Result {
        crate::inode::write_inode(inode)
    }

    fn evict_inode(inode: &INode<Self>, deleted: bool) {
        if deleted {
            crate::inode::delete_inode(inode);
        }
    }

    fn sync_fs(sb: &SuperBlock<Self>, _wait: bool) -> Result {
        record_state(sb, false)
    }

    fn reconfigure(sb: &SuperBlock<Self>, read_only: bool) -> Result {
        let d = sb.data();
        let mut a = d.alloc.lock();
        if read_only {
            // Everything was synced: the image is clean while read-only.
            a.write_super(|b| sb.read_block(b), true)?;
            d.read_only.store(true, Ordering::Relaxed);
        } else {
            if a.sb.unknown_ro_compat() != 0 {
                pr_err!("unknown read-only-compatible features {:#x}: cannot write\n",
                    a.sb.unknown_ro_compat());
                return Err(EROFS);
            }
            begin_writing(&mut a, |b| sb.read_block(b))?;
            d.read_only.store(false, Ordering::Relaxed);
        }
        Ok(())
    }

    fn birth_time(inode: &INode<Self>) -> Option<Timespec> {
        let t = inode.data().map.lock().crtime;
        Some(Timespec { sec: t.sec, nsec: t.nsec })
    }

    fn freeze(sb: &SuperBlock<Self>) -> Result {
        // Synced and held still: a snapshot of the device is clean.
        record_state(sb, true)
    }

    fn unfreeze(sb: &SuperBlock<Self>) -> Result {
        record_state(sb, false)
    }

    fn put_super(sb: &SuperBlock<Self>) {
        if record_state(sb, true).is_err() {
            pr_err!("could not record the clean state at unmount\n");
        }
    }

    fn truncate_blocks(inode: &INode<Self>, size: u64) -> Result {
        let bits = inode.block_bits();
        let first = size.div_ceil(1 << bits);
        crate::inode::unmap(inode, first, format::extent::MAX_FILE_BLOCKS.saturating_sub(first))
    }

    fn allocate(inode: &INode<Self>, first: u64, count: u64) -> Result {
        crate::iomap::preallocate(inode, first, count)
    }

    fn punch(inode: &INode<Self>, first: u64, count: u64) -> Result {
        crate::inode::unmap(inode, first, count)
    }

    fn create(dir: &INode<Self>, name: &[u8], typ: INodeType<'_>, mode: u16) -> Result<ARef<INode<Self>>> {
        crate::dir::create(dir, name, typ, mode)
    }

    fn link(dir: &INode<Self>, name: &[u8], inode: &INode<Self>) -> Result {
        crate::dir::add_entry(dir, name, inode)
    }

    fn unlink(dir: &INode<Self>, name: &[u8], _inode: &INode<Self>) -> Result {
        crate::dir::remove_entry(dir, name)
    }

    fn rmdir(dir: &INode<Self>, name: &[u8], inode: &INode<Self>) -> Result {
        if !crate::dir::is_empty(inode)? {
            return Err(ENOTEMPTY);
        }
        crate::dir::remove_entry(dir, name)
    }

    fn rename(
        old_dir: &INode<Self>,
        old_name: &[u8],
        inode: &INode<Self>,
        new_dir: &INode<Self>,
        new_name: &[u8],
        target: Option<&INode<Self>>,
    ) -> Result {
        crate::dir::rename(old_dir, old_name, inode, new_dir, new_name, target)
    }
}

/// The filesystem becomes writable (a read-write mount, or a remount from
/// read-only): count the mount, stamp it, and record the image as not
/// clean until `put_super`, `freeze` or a remount read-only.
fn begin_writing(alloc: &mut Alloc, read: impl Fn(u64) -> Result<Buffer>) -> Result {
    alloc.sb.mount_count = alloc.sb.mount_count.wrapping_add(1);
    alloc.sb.mount_time = crate::kfs::vfs::now_seconds();
    alloc.write_super(read, false)
}

/// Writes the counts kept in memory to the super block, marked clean or not
/// (a sync: not clean; unmount and freeze: clean). Nothing to write on a
/// read-only mount.
fn record_state(sb: &SuperBlock<MapFs>, clean: bool) -> Result {
    let d = sb.data();
    if d.is_read_only() {
        return Ok(());
    }
    d.alloc.lock().write_super(|b| sb.read_block(b), clean)
}
