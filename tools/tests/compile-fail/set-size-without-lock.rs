// expect: E0599
//! Issue 11, item 5: `i_size_write` needs `i_rwsem`. A directory's size is
//! set through `Locked` (the VFS holds the lock around namespace operations)
//! or `Created` (nobody else can see the inode yet); a plain `&INode` has no
//! `set_size`.
#![forbid(unsafe_code)]

use crate::kfs::vfs::INode;
use crate::MapFs;
use kernel::prelude::*;

pub(crate) fn grow(dir: &INode<MapFs>) -> Result {
    dir.set_size(4096)
}
