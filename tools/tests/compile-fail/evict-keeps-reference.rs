// expect: E0277
//! Issue 11, item 1: `evict_inode` and `write_inode` get an inode that may
//! have no reference left (`i_count == 0`). An `ARef` taken there would
//! outlive `free_inode`. `INodeView` is not `AlwaysRefCounted`: no `ARef`.
#![forbid(unsafe_code)]

use crate::kfs::vfs::INodeView;
use crate::MapFs;
use kernel::sync::aref::ARef;

pub(crate) fn keep(inode: &INodeView<MapFs>) -> ARef<INodeView<MapFs>> {
    ARef::from(inode)
}
