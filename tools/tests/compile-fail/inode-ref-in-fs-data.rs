// expect: E0277
//! Issue 11, item 2: per-super-block data (`FileSystem::Data: Send + Sync`)
//! holding an inode reference would drop it after the super block's inodes
//! were torn down. `INode` is `!Send`, so no `ARef<INode>` (nor a mutex of
//! one) satisfies the bound the data must meet.
#![forbid(unsafe_code)]

use crate::kfs::vfs::INode;
use crate::MapFs;
use kernel::{sync::aref::ARef, sync::Mutex};

struct Data {
    root: Mutex<Option<ARef<INode<MapFs>>>>,
}

fn data_bound<T: Send + Sync>() {}

pub(crate) fn check() {
    data_bound::<Data>();
}
