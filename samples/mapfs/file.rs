// SPDX-License-Identifier: GPL-2.0

//! Regular files: which iomap mappings their data goes through
//! ([`crate::iomap`]), and the block-map changes truncate and fallocate ask
//! for.

#![forbid(unsafe_code)]

use crate::format::extent::MAX_FILE_BLOCKS;
use crate::iomap::{preallocate, DirectMap, ReadMap, ReportMap, WriteMap, WritebackMap};
use crate::kfs::vfs::{FileGuard, FileOperations, Locked, Shift};
use crate::MapFs;
use kernel::prelude::*;

/// mapfs's regular-file operations.
pub(crate) struct File;

#[vtable]
impl FileOperations for File {
    type FileSystem = MapFs;
    type Read = ReadMap;
    type Write = WriteMap;
    type Report = ReportMap;
    type Writeback = WritebackMap;
    type Direct = DirectMap;

    const LARGE_FOLIOS: bool = true;

    fn set_size(file: &FileGuard<MapFs>, old: u64, new: u64) -> Result {
        // Holes or unwritten blocks lie between the old and a larger new
        // size, so the new size can go to disk at once (as XFS does).
        file.data().map.lock().disk_size = new;
        file.mark_dirty();
        if new >= old {
            return Ok(());
        }
        let bits = file.block_bits();
        let first = new.checked_add((1 << bits) - 1).ok_or(EFBIG)? >> bits;
        crate::inode::unmap(file, first, MAX_FILE_BLOCKS.saturating_sub(first))
    }

    fn allocate(file: &Locked<MapFs>, first: u64, count: u64) -> Result {
        preallocate(file, first, count)
    }

    fn punch(file: &FileGuard<MapFs>, first: u64, count: u64) -> Result {
        crate::inode::unmap(file, first, count)
    }

    fn shift(file: &FileGuard<MapFs>, first: u64, count: u64, dir: Shift) -> Result {
        crate::inode::shift(file, first, count, dir)
    }
}
