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

use kernel::{
    prelude::*,
    sync::{aref::ARef, atomic::{Atomic, Relaxed}, Mutex},
};

#[path = "../../rust/mod.rs"]
pub mod kfs;

/// The on-disk format, shared by path with the userspace tools.
#[path = "format/mod.rs"]
pub mod format;

// First: its `fs_err!` is used by the modules after it.
#[macro_use]
mod errors;
mod alloc;
mod dir;
mod file;
mod inode;
mod iomap;
mod super_block;
mod xattr;
// Misuse on purpose, only in the test variant (`tools/misuse`).
#[cfg(mapfs_misuse)]
mod misuse;

use kfs::vfs::{
    FileSystem, INode, INodeFlags, Locked, MountOption, MountOptions, NewSuperBlock, OptionKind, OptionValue,
    SuperBlock, Timespec,
};

/// The mapfs filesystem type. Its C tables are implemented where they
/// belong: super block operations in [`super_block`], directories in
/// [`dir`], regular files in [`file`] and their iomap mappings in [`iomap`].
pub(crate) struct MapFs;

/// What a mounted mapfs keeps about its device.
pub(crate) struct MapfsSb {
    /// Where every region is.
    pub(crate) geo: format::layout::Geometry,
    /// The checksum seed (from the UUID).
    pub(crate) seed: u32,
    /// Bitmaps, counters and the super block to write.
    pub(crate) alloc: Pin<KBox<Mutex<alloc::Alloc>>>,
    /// Mounted read-only: nothing is written (changes on remount).
    pub(crate) read_only: Atomic<bool>,
    /// A corrupt structure was found: the super block is written with
    /// `STATE_ERRORS`, which only fsck clears.
    pub(crate) errors: Atomic<bool>,
    /// `errors=remount-ro`: the first corruption found makes the
    /// filesystem read-only ([`super_block::fs_error`]).
    pub(crate) remount_ro_on_error: Atomic<bool>,
    /// Read-only because of a corruption: every change fails with `EROFS`,
    /// and only the super block (marked with errors) is written again.
    pub(crate) error_ro: Atomic<bool>,
    /// The rate limit of its error lines (`fs_err!`).
    pub(crate) log: errors::ErrorLog,
    /// Mounted read-write from an image that was not cleanly unmounted:
    /// the mount recovers the namespace ([`inode::recover_namespace`])
    /// instead of trusting the orphan list alone.
    pub(crate) unclean: bool,
}

/// What mapfs does when it finds a corrupt structure (`errors=`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum OnError {
    /// Refuse the operation with `EUCLEAN`, log it, and go on (the default).
    Continue,
    /// Also become read-only until unmounted (`EROFS` for every change).
    RemountRo,
}

/// mapfs's mount options; `None`: not given.
#[derive(Default)]
pub(crate) struct Options {
    /// `errors=continue|remount-ro`.
    pub(crate) errors: Option<OnError>,
    /// `misuse=...` (the test variant only: [`misuse`]).
    #[cfg(mapfs_misuse)]
    pub(crate) misuse: Option<usize>,
}

/// Option 0, `errors=`, in both builds; its choices in [`OnError`]'s order.
const ERRORS: MountOption =
    MountOption { name: c"errors", kind: OptionKind::Choice(&[c"continue", c"remount-ro"]) };

impl MountOptions for Options {
    #[cfg(not(mapfs_misuse))]
    const OPTIONS: &'static [MountOption] = &[ERRORS];
    #[cfg(mapfs_misuse)]
    const OPTIONS: &'static [MountOption] =
        &[ERRORS, MountOption { name: c"misuse", kind: OptionKind::Choice(misuse::CHOICES) }];

    fn set(&mut self, option: usize, value: OptionValue) -> Result {
        self.errors = match (option, value) {
            (0, OptionValue::Choice(0)) => Some(OnError::Continue),
            (0, OptionValue::Choice(1)) => Some(OnError::RemountRo),
            #[cfg(mapfs_misuse)]
            (1, OptionValue::Choice(c)) => return misuse::set_option(self, c),
            _ => return Err(EINVAL),
        };
        Ok(())
    }
}

impl MapfsSb {
    /// Whether the filesystem is mounted read-only now (or became so after
    /// a corruption, with `errors=remount-ro`).
    pub(crate) fn is_read_only(&self) -> bool {
        self.read_only.load(Relaxed)
    }

    /// `EROFS` when nothing may change. On a read-only mount the VFS
    /// refuses changes itself; this catches the filesystem that became
    /// read-only after a corruption while mounted read-write: the wrapper
    /// asks it first in every operation that changes something
    /// ([`FileSystem::check_writable`]), and the write and writeback
    /// mapping hooks and the allocator ask it too, for what was under way.
    pub(crate) fn check_writable(&self) -> Result {
        if self.is_read_only() {
            Err(EROFS)
        } else {
            Ok(())
        }
    }

    /// Allocates up to `max` blocks near `goal` (see
    /// [`alloc::Alloc::alloc_blocks`]).
    pub(crate) fn alloc_blocks(&self, sb: &SuperBlock<MapFs>, goal: Option<u64>, max: u64) -> Result<(u64, u64)> {
        self.check_writable()?;
        self.alloc.lock().alloc_blocks(sb, &self.geo, self.seed, goal, max)
    }

    /// Promises `n` blocks to an inode's extent-tree growth (see
    /// [`alloc::Alloc::reserve`]).
    pub(crate) fn reserve(&self, n: u64, pool: alloc::Pool) -> Result {
        self.check_writable()?;
        self.alloc.lock().reserve(n, pool)
    }

    /// Promises up to `max` blocks (a delayed allocation): how many.
    pub(crate) fn reserve_some(&self, max: u64) -> Result<u64> {
        self.check_writable()?;
        self.alloc.lock().reserve_some(max)
    }

    /// Takes back a promise of `n` blocks.
    pub(crate) fn unreserve(&self, n: u64) {
        self.alloc.lock().unreserve(n)
    }

    /// Allocates up to `max` contiguous blocks of those promised by
    /// [`Self::reserve`] or [`Self::reserve_some`] (see
    /// [`alloc::Alloc::alloc_reserved`]).
    pub(crate) fn alloc_reserved_run(&self, sb: &SuperBlock<MapFs>, goal: Option<u64>, max: u64) -> Result<(u64, u64)> {
        self.alloc.lock().alloc_reserved(sb, &self.geo, self.seed, goal, max)
    }

    /// Frees blocks and promises them again at once: blocks of
    /// [`Self::alloc_reserved_run`] given back, or tree blocks an inode's
    /// tree reservation takes over.
    pub(crate) fn free_to_reserved(&self, sb: &SuperBlock<MapFs>, start: u64, len: u64) -> Result {
        self.alloc.lock().free_to_reserved(sb, &self.geo, self.seed, start, len)
    }

    /// Frees blocks.
    pub(crate) fn free_blocks(&self, sb: &SuperBlock<MapFs>, start: u64, len: u64) -> Result {
        self.check_writable()?;
        self.alloc.lock().free_blocks(sb, &self.geo, self.seed, start, len)
    }

    /// Allocates an inode number and its generation.
    pub(crate) fn alloc_inode(&self, sb: &SuperBlock<MapFs>) -> Result<(u32, u32)> {
        self.check_writable()?;
        self.alloc.lock().alloc_inode(sb, &self.geo, self.seed)
    }

    /// Frees an inode number.
    pub(crate) fn free_inode(&self, sb: &SuperBlock<MapFs>, ino: u32) -> Result {
        self.check_writable()?;
        self.alloc.lock().free_inode(sb, &self.geo, self.seed, ino)
    }
}

#[vtable]
impl FileSystem for MapFs {
    const NAME: &'static CStr = c"mapfs";
    const MAGIC: u32 = format::super_block::SB_MAGIC;
    const MAX_LINKS: u32 = format::check::MAX_LINKS;
    type Data = MapfsSb;
    type INodeData = inode::MapfsInode;
    type Super = super_block::Super;
    type Dir = dir::Dir;
    type File = file::File;
    type Xattr = xattr::Xattr;
    type Options = Options;

    fn fill_super(sb: &mut NewSuperBlock<Self>, options: &Options) -> Result<MapfsSb> {
        let data = super_block::fill_super(sb, options)?;
        #[cfg(mapfs_misuse)]
        misuse::after_fill_super(sb, options);
        Ok(data)
    }

    fn root(sb: &SuperBlock<Self>) -> Result<ARef<INode<Self>>> {
        let recovered = sb.data().unclean && match inode::recover_namespace(sb) {
            Ok(()) => true,
            Err(e) => {
                pr_err!("{}: recovering the namespace: error {}: nothing freed, the orphan list used instead; run fsck.mapfs\n",
                    sb.id(), e.to_errno());
                false
            }
        };
        if !recovered {
            if let Err(e) = inode::process_orphans(sb) {
                pr_err!("{}: processing the orphan list: error {}\n", sb.id(), e.to_errno());
            }
        }
        inode::iget(sb, format::layout::ROOT_INO)
    }

    fn init_inode_data() -> impl PinInit<Self::INodeData, Error> {
        inode::MapfsInode::new()
    }

    fn reconfigure(sb: &SuperBlock<Self>, read_only: Option<bool>, options: &Options) -> Result {
        super_block::reconfigure(sb, read_only, options)
    }

    fn check_writable(sb: &SuperBlock<Self>) -> Result {
        sb.data().check_writable()
    }

    fn corruption_found(sb: &SuperBlock<Self>) {
        super_block::fs_error(sb)
    }

    fn birth_time(inode: &INode<Self>) -> Option<Timespec> {
        let t = inode.data().map.lock().crtime;
        Some(Timespec { sec: t.sec, nsec: t.nsec })
    }

    fn set_flags(inode: &Locked<Self>, flags: INodeFlags) -> Result {
        inode::set_flags(inode, flags)
    }
}

module! {
    type: MapfsModule,
    name: "mapfs",
    authors: ["mapfs developers"],
    description: "mapfs: a block filesystem on safe Rust iomap wrappers",
    license: "GPL",
    // What `mount -t mapfs` asks for (`request_module("fs-mapfs")`), so an
    // installed module loads on demand, as MODULE_ALIAS_FS does in C.
    alias: ["fs-mapfs"],
}

/// The module: registers mapfs when loaded, unregisters it when unloaded.
type MapfsModule = kfs::vfs::FsModule<MapFs>;
