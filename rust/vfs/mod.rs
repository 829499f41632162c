// SPDX-License-Identifier: GPL-2.0

//! VFS glue: filesystem types, super blocks, inodes, directories and metadata
//! buffers.

pub mod buffer;
pub mod dir;
pub mod file;
pub mod fs_type;
pub mod inode;
pub mod super_block;

pub use buffer::{Buffer, BufferGuard};
pub use dir::DirEmitter;
pub use fs_type::{FileSystem, Registration};
pub use inode::{Attrs, INode, INodeParams, INodeType, NewINode, Timespec};
pub use super_block::{now_seconds, random_u32, Lookup, NewSuperBlock, StatFs, SuperBlock};
