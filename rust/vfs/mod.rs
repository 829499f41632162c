// SPDX-License-Identifier: GPL-2.0

//! VFS glue: filesystem types, super blocks, inodes, files and directories.

pub mod fs_type;
pub mod super_block;

pub use fs_type::{FileSystem, Registration};
pub use super_block::NewSuperBlock;
