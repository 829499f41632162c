// expect: E0308
//! A create makes the kind of inode the VFS asked for: `init_created`
//! takes the request's `CreateKind`, which only the wrapper makes, not an
//! `INodeType` of the filesystem's choosing (an `O_TMPFILE` that came back
//! a device node would open a device without the `CAP_MKNOD` check of
//! `mknod`; a directory where a file was asked for skews link counts).
#![forbid(unsafe_code)]

use crate::kfs::vfs::{CreateKind, Created, DevNum, INode, INodeType, NewINode};
use crate::MapFs;
use kernel::prelude::*;

pub(crate) fn tmpfile(dir: &INode<MapFs>, new: NewINode<MapFs>, _asked: CreateKind<'_>) -> Result<Created<MapFs>> {
    new.init_created(dir, INodeType::Chr(DevNum::WHITEOUT), 0o666)
}
