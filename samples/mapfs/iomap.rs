// SPDX-License-Identifier: GPL-2.0

//! Mapping file ranges for iomap.

#![forbid(unsafe_code)]

use crate::format::extent::{lookup, Mapping as Extent};
use crate::kfs::iomap::{Flags, Mapping, Operations};
use crate::kfs::vfs::INode;
use crate::super_block::MapFs;
use kernel::prelude::*;

/// The mappings for reads: an extent as mapped or unwritten, else a hole up
/// to the next extent.
pub(crate) struct ReadMap;

impl Operations for ReadMap {
    type FileSystem = MapFs;

    fn begin(inode: &INode<MapFs>, pos: u64, _len: u64, _flags: Flags) -> Result<Mapping> {
        let bits = inode.block_bits();
        let fb = pos >> bits;
        let found = lookup(&inode.data().map.lock().extents, fb);
        let offset = fb << bits;
        Ok(match found {
            Extent::Mapped { disk_block, len, unwritten } => {
                let length = len.checked_shl(bits).ok_or(EIO)?;
                let addr = disk_block.checked_shl(bits).ok_or(EIO)?;
                if unwritten {
                    Mapping::unwritten(offset, length, addr)
                } else {
                    Mapping::mapped(offset, length, addr)
                }
            }
            Extent::Hole { len, .. } => Mapping::hole(offset, len.saturating_mul(1 << bits)),
        })
    }
}
