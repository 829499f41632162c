// SPDX-License-Identifier: GPL-2.0

//! Directories: entries in the directory's own blocks, found through its
//! extent map.
//!
//! A `readdir` position is `file block * block size + byte offset in the
//! block`; entries never move once written (a delete merges the record into
//! its predecessor), so a position stays valid across concurrent changes.

#![forbid(unsafe_code)]

use crate::format::{dir, extent::{lookup as map_block, Mapping}, inode::FileType};
use crate::kfs::vfs::{DirEmitter, INode};
use crate::super_block::MapFs;
use kernel::{prelude::*, sync::aref::ARef};

/// `DT_*` for a mapfs directory-entry type code.
fn dt_type(code: u8) -> u8 {
    match FileType::from_dirent_type(code) {
        Some(FileType::Regular) => 8,
        Some(FileType::Directory) => 4,
        Some(FileType::Symlink) => 10,
        Some(FileType::CharDevice) => 2,
        Some(FileType::BlockDevice) => 6,
        Some(FileType::Fifo) => 1,
        Some(FileType::Socket) => 12,
        None => 0,
    }
}

/// Copies directory block `fb` of `dir` into `out`; `Ok(false)` past the end.
/// The extent map lock is released before the block is read, and the block
/// is copied so that no lock is held while entries go to user memory.
fn read_dir_block(dir: &INode<MapFs>, fb: u64, out: &mut KVec<u8>) -> Result<bool> {
    let sb = dir.super_block();
    let bs = u64::from(sb.block_size());
    let blocks = u64::try_from(dir.size()).map_err(|_| EUCLEAN)?.div_ceil(bs);
    if fb >= blocks {
        return Ok(false);
    }
    let disk = match map_block(&dir.data().map.lock().extents, fb) {
        Mapping::Mapped { disk_block, unwritten: false, .. } => disk_block,
        _ => {
            return Err(crate::inode::corrupt(dir.ino(), format_args!(
                "directory block {} is not mapped", fb)));
        }
    };
    let buf = sb.read_block(disk)?;
    let guard = buf.lock();
    out.clear();
    out.extend_from_slice(guard.data(), GFP_KERNEL)?;
    let ino = u32::try_from(dir.ino()).map_err(|_| EINVAL)?;
    dir::verify_csum(out, sb.data().seed, ino).map_err(|e| {
        crate::inode::corrupt(dir.ino(), format_args!("directory block {}: {}", fb, e))
    })?;
    Ok(true)
}

/// Finds `name` in `dir`.
pub(crate) fn lookup(dir: &INode<MapFs>, name: &[u8]) -> Result<Option<ARef<INode<MapFs>>>> {
    if name.len() > dir::MAX_NAME_LEN {
        return Err(ENAMETOOLONG);
    }
    let mut block = KVec::new();
    let mut fb = 0;
    while read_dir_block(dir, fb, &mut block)? {
        let found = dir::find(&block, name).map_err(|e| {
            crate::inode::corrupt(dir.ino(), format_args!("directory block {}: {}", fb, e))
        })?;
        if let Some(entry) = found {
            return crate::inode::iget(dir.super_block(), entry.ino).map(Some);
        }
        fb += 1;
    }
    Ok(None)
}

/// Emits the entries of `dir` from the emitter's position on.
pub(crate) fn read_dir(dir: &INode<MapFs>, emitter: &mut DirEmitter) -> Result {
    let bs = u64::from(dir.super_block().block_size());
    let Ok(start) = u64::try_from(emitter.pos()) else {
        return Ok(());
    };
    let mut fb = start / bs;
    let mut from = (start % bs) as usize;
    let mut block = KVec::new();
    while read_dir_block(dir, fb, &mut block)? {
        for entry in dir::iter_from(&block, from) {
            let entry = entry.map_err(|e| {
                crate::inode::corrupt(dir.ino(), format_args!("directory block {}: {}", fb, e))
            })?;
            if !emitter.emit(entry.name, u64::from(entry.ino), dt_type(entry.file_type)) {
                return Ok(());
            }
            let next = fb * bs + entry.next_offset() as u64;
            emitter.set_pos(i64::try_from(next).map_err(|_| EOVERFLOW)?);
        }
        fb += 1;
        from = 0;
        emitter.set_pos(i64::try_from(fb * bs).map_err(|_| EOVERFLOW)?);
    }
    Ok(())
}
