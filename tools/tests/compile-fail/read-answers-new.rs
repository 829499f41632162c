// expect: E0599
//! A read answered "new blocks" (`IOMAP_F_NEW`) is zeroed by iomap instead
//! of read: the file's data would read back as zeros. `ReadOps::begin`
//! answers with a `ReadMapping`, which has no `new_blocks`, and a
//! `Mapping` (which has) does not convert into one.
#![forbid(unsafe_code)]

use crate::kfs::iomap::{ReadMapping, ReadOps};
use crate::kfs::vfs::INode;
use crate::MapFs;
use kernel::prelude::*;

struct ZeroingReads;

#[vtable]
impl ReadOps for ZeroingReads {
    type FileSystem = MapFs;

    fn begin(_inode: &INode<MapFs>, pos: u64, _len: u64) -> Result<ReadMapping> {
        Ok(ReadMapping::mapped(pos, 4096, 0).new_blocks())
    }
}
