// SPDX-License-Identifier: GPL-2.0

//! Mounting mapfs: reading and checking the super block.

#![forbid(unsafe_code)]

use crate::format::{
    self, crc32c::fs_seed, layout::Geometry, layout::ROOT_INO, layout::SUPERBLOCK_SIZE,
    super_block::Superblock,
};
use crate::kfs::vfs::{DirEmitter, FileSystem, INode, NewSuperBlock, StatFs, SuperBlock};
use crate::kfs::fmt::Shown;
use kernel::{prelude::*, sync::aref::ARef};

/// The mapfs filesystem type.
pub(crate) struct MapFs;

/// What a mounted mapfs keeps about its device.
pub(crate) struct MapfsSb {
    /// Where every region is.
    pub(crate) geo: Geometry,
    /// The checksum seed (from the UUID).
    pub(crate) seed: u32,
    /// The super block as read at mount.
    pub(crate) sb: Superblock,
}

impl FileSystem for MapFs {
    const NAME: &'static CStr = c"mapfs";
    const MAGIC: u32 = format::super_block::SB_MAGIC;
    type Data = MapfsSb;
    type INodeData = crate::inode::MapfsInode;
    type ReadIomap = crate::iomap::ReadMap;

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
        if !sb.is_read_only() {
            // Data and namespace changes arrive with the write path.
            pr_notice!("{}: this build of mapfs reads only: mounting read-only\n", id);
            sb.set_read_only();
        }
        Ok(MapfsSb { geo, seed: fs_seed(&disk.uuid), sb: disk })
    }

    fn root(sb: &SuperBlock<Self>) -> Result<ARef<INode<Self>>> {
        crate::inode::iget(sb, ROOT_INO)
    }

    fn init_inode_data() -> impl PinInit<Self::INodeData, Error> {
        crate::inode::MapfsInode::new()
    }

    fn statfs(sb: &SuperBlock<Self>) -> Result<StatFs> {
        let d = sb.data();
        Ok(StatFs {
            block_size: d.geo.block_size(),
            blocks: d.geo.block_count,
            free_blocks: d.sb.free_blocks,
            files: u64::from(d.geo.inode_count),
            free_files: u64::from(d.sb.free_inodes),
            name_len: format::dir::MAX_NAME_LEN as u32,
        })
    }

    fn lookup(dir: &INode<Self>, name: &[u8]) -> Result<Option<ARef<INode<Self>>>> {
        crate::dir::lookup(dir, name)
    }

    fn read_dir(dir: &INode<Self>, emitter: &mut DirEmitter) -> Result {
        crate::dir::read_dir(dir, emitter)
    }
}
