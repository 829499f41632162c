// expect: E0308
//! Issue 11, item 5: a mapping hook (`WriteOps::begin` gets an `&INode`)
//! calling `iomap_truncate_page` would re-enter iomap with the folio
//! locked. Without a `FileGuard` there is no call to make.
#![forbid(unsafe_code)]

use crate::kfs::iomap::{truncate_page, Flags, Mapping};
use crate::kfs::vfs::INode;
use crate::MapFs;
use kernel::prelude::*;

pub(crate) fn begin(inode: &INode<MapFs>, pos: u64, _len: u64, _flags: Flags) -> Result<Mapping> {
    truncate_page(inode, pos)?;
    Err(EIO)
}
