// SPDX-License-Identifier: GPL-2.0

//! VFS glue: filesystem types, super blocks, inodes, directories, regular
//! files and metadata buffers.
//!
//! One trait per C operations table, each `#[vtable]` (entries a filesystem
//! does not implement stay `NULL`): [`FileSystem`] (`file_system_type` and
//! `fs_context_operations`), [`SuperOperations`], [`DirOperations`],
//! [`FileOperations`], [`XattrOperations`] (`xattr_handler`s); the iomap traits are in [`crate::kfs::iomap`].

pub mod buffer;
pub mod dir;
pub mod file;
pub mod fs_type;
pub mod inode;
pub mod options;
pub(in crate::kfs) mod lock;
pub mod super_block;
pub mod super_ops;
pub mod xattr;

pub use buffer::{Buffer, BufferGuard};
pub use dir::{DirEmitter, DirOperations};
pub use file::{FileGuard, FileOperations, Shift};
pub use fs_type::{FileSystem, FsModule, Registration};
pub use inode::{Attrs, CreateKind, Created, DevNum, INode, INodeFlags, INodeParams, INodeType, INodeView, Locked, NewINode, Timespec};
pub(in crate::kfs) use lock::NoFs;
pub use super_block::{now_seconds, random_u32, Lookup, NewSuperBlock, StatFs, SuperBlock};
pub use options::{MountOption, MountOptions, OptionKind, OptionValue};
pub use super_ops::SuperOperations;
pub use xattr::{SetMode, XattrList, XattrNamespace, XattrOperations, XattrValue};
