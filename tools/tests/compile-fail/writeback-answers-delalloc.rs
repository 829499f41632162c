// expect: E0308
//! Writeback is where a delayed allocation gets its blocks: a writeback
//! mapping hook that answers with a delayed allocation would leave the
//! dirty data unwritten. `WritebackOps::map` answers with a
//! `WritebackMapping`, which a `Mapping` (delalloc or any other) does not
//! convert into.
#![forbid(unsafe_code)]

use crate::kfs::iomap::{Mapping, WritebackMapping, WritebackOps};
use crate::kfs::vfs::INodeView;
use crate::MapFs;
use kernel::prelude::*;

struct LazyWriteback;

#[vtable]
impl WritebackOps for LazyWriteback {
    type FileSystem = MapFs;

    fn map(_inode: &INodeView<MapFs>, pos: u64, _len: u64) -> Result<WritebackMapping> {
        Ok(Mapping::delalloc(pos, 4096))
    }
}
