// expect: E0308
//! A direct write's completion (`DirectOps::write_done`) may run on the
//! direct-I/O workqueue after the writer dropped `i_rwsem`: it gets an
//! `&INode`, not the `FileGuard` that zeroing the page cache requires, so
//! it cannot change the page cache behind a concurrent truncate or write.
#![forbid(unsafe_code)]

use crate::kfs::iomap::{zero_range, DirectOps, Flags, Mapping};
use crate::kfs::vfs::INode;
use crate::MapFs;
use kernel::prelude::*;

pub(crate) struct Dio;

#[vtable]
impl DirectOps for Dio {
    type FileSystem = MapFs;

    fn begin(_inode: &INode<MapFs>, _pos: u64, _len: u64, _flags: Flags) -> Result<Mapping> {
        Err(EIO)
    }

    fn write_done(inode: &INode<MapFs>, offset: u64, len: u64, _unwritten: bool) -> Result {
        zero_range(inode, offset, len)?;
        Ok(())
    }
}
