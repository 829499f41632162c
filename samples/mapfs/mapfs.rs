// SPDX-License-Identifier: GPL-2.0

//! mapfs: a small extent-based block filesystem whose file data goes only
//! through iomap, built on the safe wrappers in `rust/`.
//!
//! The on-disk format is described in `Documentation/mapfs/format.rst` and
//! implemented in [`format`], shared with `mkfs.mapfs` and `fsck.mapfs`.
//! The filesystem has no `unsafe`: everything that touches C goes through
//! `kfs` (the wrapper tree in `rust/`, compiled into this crate). Each mapfs
//! module forbids `unsafe_code`; the crate root cannot, because `module!`
//! expands to unsafe glue here.

use kernel::prelude::*;

#[path = "../../rust/mod.rs"]
pub mod kfs;

/// The on-disk format, shared by path with the userspace tools.
#[path = "format/mod.rs"]
pub mod format;

mod alloc;
mod dir;
mod inode;
mod iomap;
mod super_block;

module! {
    type: MapfsModule,
    name: "mapfs",
    authors: ["mapfs developers"],
    description: "mapfs: a block filesystem on safe Rust iomap wrappers",
    license: "GPL",
}

#[pin_data]
struct MapfsModule {
    #[pin]
    _fs: kfs::vfs::Registration<super_block::MapFs>,
}

impl kernel::InPlaceModule for MapfsModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _fs <- kfs::vfs::Registration::new(module),
        })
    }
}
