// expect: E0599
//! A writeback mapping cannot flag its blocks new: iomap would zero the
//! parts of them the dirty range does not cover instead of leaving the
//! data there. `WritebackMapping` has no `new_blocks` (nor `delalloc`).
#![forbid(unsafe_code)]

use crate::kfs::iomap::{WritebackMapping, WritebackOps};
use crate::kfs::vfs::INodeView;
use crate::MapFs;
use kernel::prelude::*;

struct FreshBlocks;

#[vtable]
impl WritebackOps for FreshBlocks {
    type FileSystem = MapFs;

    fn map(_inode: &INodeView<MapFs>, pos: u64, _len: u64) -> Result<WritebackMapping> {
        Ok(WritebackMapping::unwritten(pos, 4096, 0).new_blocks())
    }
}
