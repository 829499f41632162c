// expect: E0624
//! Issue 11, item 7: the C object behind a wrapper is out of the
//! filesystem's reach: `as_ptr` is private to the wrapper tree, so no raw
//! `struct inode *` can be passed to a C function or kept past its life.
#![forbid(unsafe_code)]

use crate::kfs::vfs::INode;
use crate::MapFs;

pub(crate) fn raw(inode: &INode<MapFs>) -> usize {
    inode.as_ptr() as usize
}
