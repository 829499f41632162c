// expect: E0603
//! Issue 11, item 7: wrapper internals (here the `i_rwsem` guard, which
//! would let the filesystem take the lock inside a mapping hook and
//! deadlock) are `pub(in crate::kfs)`: the filesystem cannot name them.
#![forbid(unsafe_code)]

use crate::kfs::vfs::lock::InodeLock;
use crate::kfs::vfs::INode;
use crate::MapFs;

pub(crate) fn lock_in_begin(inode: &INode<MapFs>) {
    let _guard = InodeLock::lock(inode);
}
