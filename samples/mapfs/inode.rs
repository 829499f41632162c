// SPDX-License-Identifier: GPL-2.0

//! Inodes: reading them from the inode table and writing them back, what
//! mapfs keeps per inode, and changes to a file's block map.

#![forbid(unsafe_code)]

use crate::format::{
    check, dir,
    emap::{Array, Arrays, ExtentMap, MapError, NoMemory},
    extent::{Extent, ExtentError},
    inode::{FileType, Inode, Timestamp, FLAG_APPEND, FLAG_IMMUTABLE, FLAG_INLINE, FLAG_NOATIME, INODE_DATA_SIZE},
    layout::{INODE_SIZE, ROOT_INO},
    recover::{self, Decision, Names},
    reserve::{extent_bound, Counts, Growth},
    xattr::InodeExt,
    symlink,
    tree::{self, TreeCtx, TreeItem, WalkError},
};
use crate::kfs::vfs::{DevNum, INode, INodeFlags, INodeParams, INodeType, INodeView, Lookup, Shift, SuperBlock, Timespec};
use crate::alloc::Pool;
use crate::MapFs;
use kernel::{alloc::KVVec, new_mutex, prelude::*, sync::aref::ARef, sync::Mutex};

/// The arrays an [`ExtentMap`] lives in: `KVVec`s (vmalloc beyond a few
/// pages: the leaves of a file of a million extents need some 30 MB).
pub(crate) struct KArrays;

impl Arrays for KArrays {
    type Of<T: Copy> = KVVec<T>;
}

impl<T: Copy> Array<T> for KVVec<T> {
    fn items(&self) -> &[T] {
        self
    }

    fn items_mut(&mut self) -> &mut [T] {
        self
    }

    fn try_reserve(&mut self, additional: usize) -> Result<(), NoMemory> {
        self.reserve(additional, GFP_KERNEL).map_err(|_| NoMemory)
    }

    fn try_push(&mut self, x: T) -> Result<(), NoMemory> {
        self.push(x, GFP_KERNEL).map_err(|_| NoMemory)
    }

    fn try_resize(&mut self, n: usize, fill: T) -> Result<(), NoMemory> {
        if n <= self.len() {
            self.truncate(n);
            return Ok(());
        }
        self.resize(n, fill, GFP_KERNEL).map_err(|_| NoMemory)
    }

    fn shorten(&mut self, n: usize) {
        self.truncate(n);
    }
}

impl From<NoMemory> for Error {
    fn from(_: NoMemory) -> Self {
        ENOMEM
    }
}

/// The in-memory extent map of a file or directory, and the on-disk inode
/// fields the VFS does not keep.
#[derive(Default)]
pub(crate) struct FileMap {
    /// The extents, as the leaves of the on-disk tree (O(log n) lookups
    /// and edits; writeback writes the leaves that changed).
    pub(crate) extents: ExtentMap<KArrays>,
    /// Delayed allocations: file blocks a buffered write or a write fault
    /// reserved (in the allocator, see [`Self::delalloc_blocks`]) whose disk
    /// blocks writeback has not chosen yet ([`crate::iomap`]). Kept as
    /// extents whose "disk block" is their own first file block, a stand-in
    /// that lets the map merge neighbours: it names no disk block, and
    /// nothing here ever reaches the disk (it is never encoded). Never
    /// overlaps [`Self::extents`]. An [`ExtentMap`] too: random small
    /// writes into a large sparse file make many of them.
    pub(crate) delalloc: ExtentMap<KArrays>,
    /// Blocks in [`Self::delalloc`]: reserved in the allocator, counted in
    /// `st_blocks` but not in [`Self::blocks`] (which is what the disk says).
    pub(crate) delalloc_blocks: u64,
    /// File blocks of unwritten extents handed out to a write or a write
    /// fault (or allocated by writeback for a delayed allocation) that no
    /// completion has converted yet: the blocks a
    /// completion may convert, splitting extents, with no chance to
    /// reserve ([`reserve_tree`]). Kept as [`Self::delalloc`] is (each
    /// "disk block" its own file block); never on disk. Blocks whose I/O
    /// failed stay here until they are unmapped: that only reserves more.
    pub(crate) handed_out: ExtentMap<KArrays>,
    /// Blocks in [`Self::handed_out`].
    pub(crate) handed_out_blocks: u64,
    /// The root of the tree as it is on disk (read by `iget` or written by
    /// `write_inode`), written again as it is while the map is not dirty
    /// (the map writes a new index over loaded leaves only when it changes).
    pub(crate) disk_root: Option<[u8; INODE_DATA_SIZE]>,
    /// Bumped by every change of the map: the validity cookie of mappings.
    pub(crate) seq: u64,
    /// Blocks owned: data and tree blocks.
    pub(crate) blocks: u64,
    /// Blocks promised (in the allocator) to this map's extent tree, so
    /// that `write_inode` never fails for lack of space (see
    /// [`reserve_tree`]).
    pub(crate) tree_reserved: u64,
    /// The size on disk of a regular file: how far completed writes (and
    /// size changes by truncate or fallocate) reach. The inode is written
    /// with this, never past it, so after a crash no file extends over
    /// blocks whose data never reached the disk.
    pub(crate) disk_size: u64,
    /// Creation time.
    pub(crate) crtime: Timestamp,
    /// Generation number.
    pub(crate) generation: u32,
    /// On-disk `FLAG_*` bits.
    pub(crate) flags: u32,
    /// The inode's data area of an inline symlink.
    pub(crate) inline: Option<[u8; INODE_DATA_SIZE]>,
    /// The extended attributes, as a list of entries (see
    /// [`crate::format::xattr`]): the in-inode ones, then the block's.
    pub(crate) xattrs: KVec<u8>,
    /// The xattr block (0: none), counted in [`Self::blocks`].
    pub(crate) xattr_block: u64,
    /// An xattr block no longer needed: freed once the inode that no
    /// longer points at it is in the buffers (as tree blocks are).
    pub(crate) xattr_freed: Option<u64>,
    /// The attributes changed since the xattr block was last written.
    pub(crate) xattr_dirty: bool,
}

impl FileMap {
    /// Edits the extent map of inode `ino` of `sb` with `f` (one
    /// [`ExtentMap`] operation; on an error nothing changed).
    pub(crate) fn edit(
        &mut self,
        sb: &SuperBlock<MapFs>,
        ino: u64,
        f: impl FnOnce(&mut ExtentMap<KArrays>) -> Result<(), MapError>,
    ) -> Result {
        self.seq = self.seq.wrapping_add(1);
        edit_map(&mut self.extents, sb, ino, "extent map", f)
    }

    /// Edits the delayed allocations of inode `ino` with `f`, as
    /// [`Self::edit`] edits the extents (nothing on disk changes).
    pub(crate) fn edit_delalloc(
        &mut self,
        sb: &SuperBlock<MapFs>,
        ino: u64,
        f: impl FnOnce(&mut ExtentMap<KArrays>) -> Result<(), MapError>,
    ) -> Result {
        self.seq = self.seq.wrapping_add(1);
        edit_map(&mut self.delalloc, sb, ino, "delayed allocation", f)
    }

    /// Drops the delayed allocations of file blocks `first .. first +
    /// count` and gives their reservation back; returns how many blocks
    /// that was.
    pub(crate) fn drop_delalloc(&mut self, sb: &SuperBlock<MapFs>, ino: u64, first: u64, count: u64) -> Result<u64> {
        let end = first.saturating_add(count);
        if self.delalloc.iter_from(first).next().is_none_or(|e| e.file_block >= end) {
            return Ok(0);
        }
        let mut dropped = 0u64;
        self.edit_delalloc(sb, ino, |l| l.remove(first, count, |r| dropped += r.len))?;
        self.delalloc_blocks = self.delalloc_blocks.saturating_sub(dropped);
        sb.data().unreserve(dropped);
        Ok(dropped)
    }

    /// Notes file blocks `first .. first + count` (of unwritten extents)
    /// as handed out ([`Self::handed_out`]). The caller reserved for them
    /// first ([`Growth::handout`]).
    pub(crate) fn hand_out(&mut self, sb: &SuperBlock<MapFs>, ino: u64, first: u64, count: u64) -> Result {
        let len = u32::try_from(count).map_err(|_| EINVAL)?;
        let mut known = 0u64;
        let ext = Extent { file_block: first, disk_block: first, len, unwritten: false };
        edit_map(&mut self.handed_out, sb, ino, "handed-out blocks", |l| l.insert(ext, |r| known += r.len))?;
        self.handed_out_blocks = self.handed_out_blocks.saturating_add(count.saturating_sub(known));
        Ok(())
    }

    /// File blocks `first .. first + count` are no longer handed out
    /// (converted, or unmapped).
    pub(crate) fn settle(&mut self, sb: &SuperBlock<MapFs>, ino: u64, first: u64, count: u64) -> Result {
        let end = first.saturating_add(count);
        if self.handed_out.iter_from(first).next().is_none_or(|e| e.file_block >= end) {
            return Ok(());
        }
        let mut gone = 0u64;
        edit_map(&mut self.handed_out, sb, ino, "handed-out blocks", |l| l.remove(first, count, |r| gone += r.len))?;
        self.handed_out_blocks = self.handed_out_blocks.saturating_sub(gone);
        Ok(())
    }

    /// What [`extent_bound`] needs to know of this map.
    fn counts(&self) -> Counts {
        Counts {
            // The xattr block counts as data here: that only makes the
            // bound larger.
            data_blocks: self.blocks.saturating_sub(self.extents.tree_blocks() as u64),
            extents: self.extents.len() as u64,
            handed_out: self.handed_out_blocks,
            delalloc: self.delalloc_blocks,
        }
    }

    /// Counts `n` more blocks owned (bounded by the device's block count,
    /// so saturating never loses anything real).
    pub(crate) fn add_blocks(&mut self, n: u64) {
        self.blocks = self.blocks.saturating_add(n);
    }

    /// Counts `n` blocks fewer. `iget` checked the count against the map,
    /// so this cannot go below zero unless memory and disk disagree: then
    /// it is `EUCLEAN` with a dmesg line, never a wrapped count (or, with
    /// overflow checks, a kernel BUG).
    pub(crate) fn sub_blocks(&mut self, sb: &SuperBlock<MapFs>, ino: u64, n: u64) -> Result {
        self.blocks = self.blocks.checked_sub(n).ok_or_else(|| {
            fs_err!(sb, "inode {}: block count {} of a file that frees {} blocks\n", ino, self.blocks, n);
            crate::super_block::fs_error(sb);
            EUCLEAN
        })?;
        Ok(())
    }

    /// The disk ranges mapped in file blocks `start .. end`, as
    /// `(disk block, count)`.
    fn ranges_in(&self, start: u64, end: u64) -> Result<KVVec<(u64, u64)>> {
        let mut out = KVVec::new();
        for e in self.extents.iter_from(start) {
            if e.file_block >= end {
                break;
            }
            let a = start.max(e.file_block);
            let b = end.min(e.end());
            out.push((e.disk_block + (a - e.file_block), b - a), GFP_KERNEL)?;
        }
        Ok(out)
    }
}

/// Runs `f` on `map` (the `what` of inode `ino`): `ENOMEM` when memory
/// ran out, `EUCLEAN` and a dmesg line when the edit is invalid.
fn edit_map(
    map: &mut ExtentMap<KArrays>,
    sb: &SuperBlock<MapFs>,
    ino: u64,
    what: &str,
    f: impl FnOnce(&mut ExtentMap<KArrays>) -> Result<(), MapError>,
) -> Result {
    map.set_block_size(sb.data().geo.block_size());
    f(map).map_err(|e| match e {
        MapError::NoMemory => ENOMEM,
        MapError::Extent(e) => {
            fs_err!(sb, "inode {}: {} edit failed: {:?}\n", ino, what, e);
            crate::super_block::fs_error(sb);
            EUCLEAN
        }
    })
}

/// Sets the reservation of `m`'s extent tree to what it needs after the
/// change `g` (about to be made): a tree for as many extents as the map
/// can then reach before it is asked again ([`extent_bound`]: writeback and
/// I/O completions change maps where `ENOSPC` can no longer be returned,
/// and draw on this), so that `write_inode` never runs out of space.
/// `ENOSPC` when the filesystem cannot promise that much; a reservation
/// larger than needed (conversions completed, blocks freed) shrinks.
pub(crate) fn reserve_tree(inode: &INodeView<MapFs>, m: &mut FileMap, g: Growth) -> Result {
    set_tree_reservation(inode, m, g, Some(Pool::Keep))
}

/// [`reserve_tree`] for a write into preallocated (unwritten) space: it may
/// take the filesystem's pool ([`crate::format::reserve::pool_blocks`]),
/// so that such writes still work on a full filesystem, as fallocate
/// promised.
pub(crate) fn reserve_tree_prealloc(inode: &INodeView<MapFs>, m: &mut FileMap, g: Growth) -> Result {
    set_tree_reservation(inode, m, g, Some(Pool::MayUse))
}

/// Gives back what `m`'s tree reservation holds beyond its need, never
/// reserving more (after a completion, which cannot fail for space).
pub(crate) fn trim_tree_reservation(inode: &INodeView<MapFs>, m: &mut FileMap) {
    let _ = set_tree_reservation(inode, m, Growth::default(), None);
}

/// `grow`: where more may be reserved from; `None`: nowhere, only give
/// back.
fn set_tree_reservation(inode: &INodeView<MapFs>, m: &mut FileMap, g: Growth, grow: Option<Pool>) -> Result {
    let d = inode.super_block().data();
    let (need, have) = tree_need_have(inode, m, g)?;
    if need > have {
        if let Some(pool) = grow {
            d.reserve(need - have, pool)?;
            m.tree_reserved += need - have;
        }
    } else if need < have {
        let spare = (have - need).min(m.tree_reserved);
        d.unreserve(spare);
        m.tree_reserved -= spare;
    }
    Ok(())
}

/// What `m`'s tree may need after the change `g`, the blocks of a packed
/// tree of [`extent_bound`] extents, and what it has towards that: its
/// tree's blocks and its reservation. The reservation keeps `have >= need`.
fn tree_need_have(inode: &INodeView<MapFs>, m: &FileMap, g: Growth) -> Result<(u64, u64)> {
    let n = usize::try_from(extent_bound(m.counts(), g)).unwrap_or(usize::MAX);
    let bs = inode.super_block().data().geo.block_size();
    let need = tree::plan(n, bs).map(|p| p.blocks as u64).map_err(|_| EFBIG)?;
    Ok((need, (m.extents.tree_blocks() as u64).saturating_add(m.tree_reserved)))
}

/// Gives the reservations of `m` back (the inode leaves memory): its
/// tree's, and any delayed allocation left without data (eviction dropped
/// the page cache; dirty data would have been written first).
pub(crate) fn release_tree_reservation(inode: &INodeView<MapFs>, m: &mut FileMap) {
    let d = inode.super_block().data();
    if m.tree_reserved != 0 {
        d.unreserve(m.tree_reserved);
        m.tree_reserved = 0;
    }
    if m.delalloc_blocks != 0 {
        d.unreserve(m.delalloc_blocks);
        m.delalloc_blocks = 0;
    }
    m.delalloc.clear(|_| {});
    m.handed_out.clear(|_| {});
    m.handed_out_blocks = 0;
}

/// Sets `i_blocks` from the map's block count, delayed allocations
/// included (as XFS counts them).
pub(crate) fn update_blocks(inode: &INodeView<MapFs>, m: &FileMap) {
    inode.set_blocks(m.blocks.saturating_add(m.delalloc_blocks) << (inode.block_bits() - 9));
}

/// What mapfs keeps per inode.
#[pin_data]
pub(crate) struct MapfsInode {
    /// The extent map. Innermost lock: taken inside `iomap_begin` and by
    /// directory code, never held across a call that may take folio locks or
    /// fault in user memory.
    #[pin]
    pub(crate) map: Mutex<FileMap>,
}

impl MapfsInode {
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            map <- new_mutex!(FileMap::default(), "mapfs_inode_map"),
        }? Error)
    }
}

fn ts(t: Timestamp) -> Timespec {
    Timespec { sec: t.sec, nsec: t.nsec }
}

/// A corrupt on-disk structure: logged with what and where, `EUCLEAN` to the
/// caller (what ext4 and XFS return as `EFSCORRUPTED`). The super block
/// records the error: its `ERRORS` state reaches the disk with the next
/// super block write (sync, unmount), so fsck checks it even when the
/// filesystem is later unmounted cleanly.
pub(crate) fn corrupt(sb: &SuperBlock<MapFs>, ino: u64, what: core::fmt::Arguments<'_>) -> Error {
    fs_err!(sb, "inode {}: {}\n", ino, what);
    crate::super_block::fs_error(sb);
    EUCLEAN
}

/// Reads a block into `out` (exactly one block long).
fn read_into(sb: &SuperBlock<MapFs>, block: u64, out: &mut [u8]) -> Result {
    let buf = sb.read_block(block)?;
    let guard = buf.lock()?;
    let src = guard.data();
    if src.len() != out.len() {
        return Err(EIO);
    }
    out.copy_from_slice(src);
    Ok(())
}

/// Returns inode `ino`, from the inode cache or read from disk.
pub(crate) fn iget(sb: &SuperBlock<MapFs>, ino: u32) -> Result<ARef<INode<MapFs>>> {
    iget_checked(sb, ino, false)
}

/// Returns inode `ino` of the orphan list, which has no link left.
fn iget_orphan(sb: &SuperBlock<MapFs>, ino: u32) -> Result<ARef<INode<MapFs>>> {
    iget_checked(sb, ino, true)
}

/// Reads inode `ino` (unless cached) and checks it whole before anything
/// trusts it: fields, extent tree, then the relations between them
/// ([`check::check_inode`]), no block claimed twice, every block and the
/// inode itself in use in the bitmaps, and a directory's `.` and `..`. A
/// link count of 0 is only right for an orphan (`unlinked`).
fn iget_checked(sb: &SuperBlock<MapFs>, ino: u32, unlinked: bool) -> Result<ARef<INode<MapFs>>> {
    let new = match sb.get_inode(u64::from(ino))? {
        Lookup::Cached(inode) => return Ok(inode),
        Lookup::New(new) => new,
    };
    let d = sb.data();
    let ino64 = u64::from(ino);
    let (block, off) = d
        .geo
        .inode_location(ino)
        .ok_or_else(|| corrupt(sb, ino64, format_args!("inode number out of range")))?;
    let (raw, ext) = {
        let buf = sb.read_block(block)?;
        let guard = buf.lock()?;
        let bytes = guard.data().get(off..off + d.geo.inode_bytes()).ok_or(EIO)?;
        let raw = Inode::decode(bytes, d.seed, ino)
            .map_err(|e| corrupt(sb, ino64, format_args!("bad inode: {}", e)))?;
        let ext = match d.geo.has_xattrs() && !raw.is_free() {
            true => Some(InodeExt::decode(bytes, d.seed, ino)
                .map_err(|e| corrupt(sb, ino64, format_args!("extended attributes: {}", e)))?),
            false => None,
        };
        (raw, ext)
    };
    if raw.is_free() {
        return Err(corrupt(sb, ino64, format_args!("a directory entry refers to a free inode")));
    }
    let bs = d.geo.block_size();
    let ft = raw
        .validate(bs)
        .map_err(|e| corrupt(sb, ino64, format_args!("invalid inode: {}", e)))?;
    if ino == ROOT_INO && ft != FileType::Directory {
        return Err(corrupt(sb, ino64, format_args!("the root is not a directory")));
    }
    let mut extents = KVVec::new();
    let mut tree_blocks = KVVec::new();
    let mut leaves = KVVec::new();
    if raw.has_extents() {
        load_extents(sb, ino, &raw, &mut extents, &mut tree_blocks, &mut leaves)?;
    }
    let ext = ext.unwrap_or_default();
    let xattrs = crate::xattr::load(sb, ino, &ext)?;
    check::check_inode_with(&raw, ft, &extents, &tree_blocks, u64::from(ext.block != 0), bs, unlinked)
        .map_err(|e| corrupt(sb, ino64, format_args!("{}", e)))?;
    check_blocks(sb, ino, &extents, &tree_blocks, ext.block)?;
    if ft == FileType::Directory {
        // The first block maps (check_inode: whole blocks from 0).
        let first = extents.first().map(|e| e.disk_block).ok_or(EUCLEAN)?;
        check_dots(sb, ino, first)?;
    }
    let mut target = KVec::new();
    let typ = match ft {
        FileType::Regular => INodeType::Reg,
        FileType::Directory => INodeType::Dir,
        FileType::Symlink => {
            read_symlink(sb, &raw, &extents, &mut target)?;
            INodeType::Symlink(&target)
        }
        FileType::CharDevice => INodeType::Chr(DevNum::decode(raw.rdev)),
        FileType::BlockDevice => INodeType::Blk(DevNum::decode(raw.rdev)),
        FileType::Fifo => INodeType::Fifo,
        FileType::Socket => INodeType::Sock,
    };
    let map = build_map(bs, &extents, &tree_blocks, &leaves).map_err(|e| match e {
        MapError::NoMemory => ENOMEM,
        MapError::Extent(e) => corrupt(sb, ino64, format_args!("extent tree: {}", e)),
    })?;
    drop(extents);
    {
        let mut m = new.data().map.lock();
        m.inline = (raw.flags & FLAG_INLINE != 0).then_some(raw.data);
        m.extents = map;
        m.disk_root = raw.has_extents().then_some(raw.data);
        m.blocks = raw.blocks;
        m.disk_size = raw.size;
        m.crtime = raw.crtime;
        m.generation = raw.generation;
        m.flags = raw.flags;
        m.xattrs = xattrs;
        m.xattr_block = ext.block;
    }
    let size = i64::try_from(raw.size).map_err(|_| EUCLEAN)?;
    #[cfg(mapfs_misuse)]
    let size = crate::misuse::inode_size(&new, matches!(typ, INodeType::Reg), size);
    new.init(INodeParams {
        typ,
        mode: raw.mode & 0o7777,
        uid: raw.uid,
        gid: raw.gid,
        nlink: raw.nlink,
        size,
        blocks: raw.blocks.saturating_mul(u64::from(bs / 512)),
        atime: ts(raw.atime),
        mtime: ts(raw.mtime),
        ctime: ts(raw.ctime),
        flags: INodeFlags::from_bits(raw.flags, VFS_FLAGS),
    })
}

/// The on-disk bits of the flags the VFS enforces (see [`INodeFlags`]).
const VFS_FLAGS: [u32; 3] = [FLAG_IMMUTABLE, FLAG_APPEND, FLAG_NOATIME];

/// Records the flags `chattr` set (written with the inode).
pub(crate) fn set_flags(inode: &INode<MapFs>, flags: INodeFlags) -> Result {
    let mut m = inode.data().map.lock();
    m.flags = (m.flags & !(FLAG_IMMUTABLE | FLAG_APPEND | FLAG_NOATIME)) | flags.to_bits(VFS_FLAGS);
    Ok(())
}

/// Checks that no block of inode `ino` (extents and tree blocks) is
/// claimed twice within it, and that the bitmaps mark the inode and every
/// one of its blocks in use: a block the bitmap calls free would be handed
/// out again while this file still maps it.
fn check_blocks(sb: &SuperBlock<MapFs>, ino: u32, extents: &[Extent], tree_blocks: &[u64], xattr_block: u64) -> Result {
    let ino64 = u64::from(ino);
    let mut ranges = KVVec::with_capacity(extents.len() + tree_blocks.len() + 1, GFP_KERNEL)?;
    if xattr_block != 0 {
        ranges.push((xattr_block, 1), GFP_KERNEL)?;
    }
    for e in extents {
        ranges.push((e.disk_block, u64::from(e.len)), GFP_KERNEL)?;
    }
    for &b in tree_blocks {
        ranges.push((b, 1), GFP_KERNEL)?;
    }
    check::check_claims(&mut ranges).map_err(|e| corrupt(sb, ino64, format_args!("{}", e)))?;
    let a = sb.data().alloc.lock();
    if !a.inode_in_use(ino) {
        return Err(corrupt(sb, ino64, format_args!("in use, but free in the inode bitmap")));
    }
    if let Some(&(start, len)) = ranges.iter().find(|&&(start, len)| !a.blocks_in_use(start, len)) {
        return Err(corrupt(sb, ino64, format_args!("blocks {}+{} mapped, but free in the block bitmap", start, len)));
    }
    if let Some(b) = crate::format::super_block::backup_sb_block(&a.sb) {
        if ranges.iter().any(|&(start, len)| start <= b && b - start < len) {
            return Err(corrupt(sb, ino64, format_args!("maps block {}, the backup super block", b)));
        }
    }
    Ok(())
}

/// Checks the `.` and `..` entries of directory `ino`, whose first block
/// is disk block `first`; the root is its own parent.
fn check_dots(sb: &SuperBlock<MapFs>, ino: u32, first: u64) -> Result {
    let d = sb.data();
    let buf = sb.read_block(first)?;
    let guard = buf.lock()?;
    let bad = |e| corrupt(sb, u64::from(ino), format_args!("directory block 0: {}", e));
    dir::verify_csum(guard.data(), d.seed, ino).map_err(bad)?;
    let parent = dir::check_dots(guard.data(), ino, d.geo.inode_count).map_err(bad)?;
    if (ino == ROOT_INO) != (parent == ino) {
        return Err(bad(dir::DirError::BadDots));
    }
    Ok(())
}

/// The extent map of extents `extents` read from a tree whose blocks are
/// `nodes`; `leaves` says where each leaf block's extents start (`(index
/// in extents, disk block)`; none: the root holds them).
fn build_map(bs: u32, extents: &[Extent], nodes: &[u64], leaves: &[(usize, u64)]) -> Result<ExtentMap<KArrays>, MapError> {
    let mut map = ExtentMap::default();
    map.set_block_size(bs);
    if leaves.is_empty() {
        map.load_leaf(None, extents)?;
    }
    for (k, &(start, disk)) in leaves.iter().enumerate() {
        let end = leaves.get(k + 1).map_or(extents.len(), |l| l.0);
        map.load_leaf(Some(disk), extents.get(start..end).ok_or(MapError::Extent(ExtentError::BadRange))?)?;
    }
    // The leaves are a subsequence of the nodes (both in walk order).
    let mut next_leaf = leaves.iter().peekable();
    for &b in nodes {
        if next_leaf.peek().is_some_and(|l| l.1 == b) {
            next_leaf.next();
        } else {
            map.load_index_block(b)?;
        }
    }
    Ok(map)
}

/// Walks the extent tree of `raw` into `out` (its tree blocks into
/// `nodes`, and where each leaf block starts in `out` into `leaves`).
fn load_extents(
    sb: &SuperBlock<MapFs>,
    ino: u32,
    raw: &Inode,
    out: &mut KVVec<Extent>,
    nodes: &mut KVVec<u64>,
    leaves: &mut KVVec<(usize, u64)>,
) -> Result {
    let d = sb.data();
    let bs = d.geo.block_size() as usize;
    let depth = tree::root_depth(&raw.data)
        .map_err(|e| corrupt(sb, ino.into(), format_args!("extent tree root: {}", e)))?;
    let mut scratch = KVec::from_elem(0u8, bs * usize::from(depth), GFP_KERNEL)?;
    let ctx = TreeCtx { geo: &d.geo, ino, seed: d.seed };
    let res = tree::walk(
        &ctx,
        &raw.data,
        true,
        &mut scratch,
        |block, buf| read_into(sb, block, buf),
        |item| {
            match item {
                TreeItem::Extent(e) => out.push(e, GFP_KERNEL)?,
                TreeItem::Node { disk_block, depth, .. } => {
                    nodes.push(disk_block, GFP_KERNEL)?;
                    if depth == 0 {
                        leaves.push((out.len(), disk_block), GFP_KERNEL)?;
                    }
                }
            }
            Ok(())
        },
    );
    match res {
        Ok(()) => Ok(()),
        Err(WalkError::Io(e)) => Err(e),
        Err(WalkError::Corrupt { block: Some(b), error }) => {
            Err(corrupt(sb, ino.into(), format_args!("extent tree block {}: {}", b, error)))
        }
        Err(WalkError::Corrupt { block: None, error }) => {
            Err(corrupt(sb, ino.into(), format_args!("extent tree root: {}", error)))
        }
    }
}

/// Reads a symlink's target into `out`.
fn read_symlink(sb: &SuperBlock<MapFs>, raw: &Inode, extents: &[Extent], out: &mut KVec<u8>) -> Result {
    if let Ok(t) = symlink::inline_target(raw) {
        out.extend_from_slice(t, GFP_KERNEL)?;
        return Ok(());
    }
    let len = usize::try_from(raw.size).map_err(|_| EUCLEAN)?;
    let first = extents.first().filter(|e| e.file_block == 0 && !e.unwritten).ok_or(EUCLEAN)?;
    let buf = sb.read_block(first.disk_block)?;
    let guard = buf.lock()?;
    out.extend_from_slice(guard.data().get(..len).ok_or(EUCLEAN)?, GFP_KERNEL)?;
    Ok(())
}

fn stamp(t: crate::kfs::vfs::Timespec) -> Timestamp {
    Timestamp { sec: t.sec, nsec: t.nsec }
}

/// Writes the extent tree of `m` (inode `ino`): its root into `root`, and
/// the tree blocks that changed into the buffers. The tree's blocks come
/// from those it has, then from the inode's reservation ([`reserve_tree`]),
/// then from free space; should free space run out, the leaves are packed
/// full, a tree the reservation covers. The blocks the tree no longer
/// uses go to `freed`, to be freed once the slot that stops pointing at
/// them is in the buffers. Returns how many of them (the first ones pushed)
/// are to go back to the tree's reservation when freed.
fn write_tree(
    inode: &INodeView<MapFs>,
    m: &mut FileMap,
    ino: u32,
    root: &mut [u8; INODE_DATA_SIZE],
    freed: &mut KVVec<u64>,
) -> Result<usize> {
    let sb = inode.super_block();
    let d = sb.data();
    let bs = d.geo.block_size();
    let too_big = |e: crate::format::tree::TreeError| {
        fs_err!(sb, "inode {}: extent tree: {:?}\n", ino, e);
        EFBIG
    };
    let mut need = m.extents.blocks_needed().map_err(too_big)?;
    let goal = m.extents.first().map(|e| e.disk_block);
    let mut repacked = false;
    while m.extents.tree_blocks() < need {
        let b = if m.tree_reserved > 0 {
            let b = d.alloc_reserved_run(sb, goal, 1)?.0;
            m.tree_reserved -= 1;
            b
        } else {
            match d.alloc_blocks(sb, goal, 1) {
                Ok((b, _)) => b,
                Err(e) if e == ENOSPC && !repacked => {
                    // Part-full leaves need more blocks than the tree the
                    // reservation was made for: pack them.
                    m.extents.repack()?;
                    repacked = true;
                    need = m.extents.blocks_needed().map_err(too_big)?;
                    continue;
                }
                // Not reserved (a map this mount never grew, whose on-disk
                // tree another writer laid out): may fail, leaving the
                // old tree.
                Err(e) => return Err(e),
            }
        };
        if let Err(e) = m.extents.add_spare(b) {
            d.free_blocks(sb, b, 1)?;
            return Err(e.into());
        }
        m.add_blocks(1);
    }
    let mut scratch = KVec::from_elem(0u8, bs as usize, GFP_KERNEL)?;
    let ctx = TreeCtx { geo: &d.geo, ino, seed: d.seed };
    let res = m.extents.encode(&ctx, root, &mut scratch, |disk, bytes| {
        let buf = sb.new_block(disk)?;
        let mut g = buf.lock()?;
        g.data_mut().copy_from_slice(bytes);
        g.mark_dirty();
        Ok::<(), Error>(())
    });
    match res {
        Ok(()) => {}
        Err(WalkError::Io(e)) => return Err(e),
        Err(WalkError::Corrupt { error, .. }) => {
            return Err(corrupt(sb, inode.ino(), format_args!("cannot encode the extent tree: {:?}", error)));
        }
    }
    let surplus = m.extents.tree_blocks().saturating_sub(need);
    freed.reserve(surplus, GFP_KERNEL)?;
    let pushed = freed.len();
    while let Some(b) = m.extents.take_spare() {
        freed.push(b, GFP_KERNEL)?;
        m.sub_blocks(sb, inode.ino(), 1)?;
    }
    update_blocks(inode, m);
    // The reservation was sized with these blocks counted as the tree's
    // (set_tree_reservation): as many as it now lacks to cover the bound
    // again go back to it, or a later write_tree that must grow the tree,
    // on a full filesystem, would find the space gone where it can no
    // longer say ENOSPC (a packed tree of the bound fits the tree's blocks
    // and its reservation; these are part of that).
    let short = tree_need_have(inode, m, Growth::default()).map_or(0, |(need, have)| need.saturating_sub(have));
    Ok((freed.len() - pushed).min(usize::try_from(short).unwrap_or(usize::MAX)))
}

/// Writes `inode` into its inode table slot, and its extent tree blocks
/// when the extents changed. A regular file is written with its on-disk
/// size (see [`FileMap::disk_size`]). A tree that grows takes its new
/// blocks from the inode's reservation ([`reserve_tree`]), so this does not
/// fail for lack of space; one that shrinks keeps its first blocks and
/// frees the rest only once the new tree is in the buffers. On an error the
/// inode stays dirty.
pub(crate) fn write_inode(inode: &INodeView<MapFs>) -> Result {
    let res = write_inode_once(inode);
    if res.is_err() {
        inode.mark_dirty();
    }
    res
}

fn write_inode_once(inode: &INodeView<MapFs>) -> Result {
    let sb = inode.super_block();
    let d = sb.data();
    if d.is_read_only() {
        // A read-only mount has nothing to write. One that became
        // read-only at a corruption (errors=remount-ro) may: a size that a
        // writeback completion advanced, blocks it converted. They never
        // reach the disk now, and whoever waits for them (fsync, msync)
        // must hear so rather than take them for durable.
        return if d.error_ro.load(kernel::sync::atomic::Relaxed) { Err(EROFS) } else { Ok(()) };
    }
    let ino = u32::try_from(inode.ino()).map_err(|_| EINVAL)?;
    let a = inode.attrs();
    let bs = d.geo.block_size();
    let size = u64::try_from(a.size).map_err(|_| EINVAL)?;
    let mut raw = Inode {
        mode: a.mode,
        uid: a.uid,
        gid: a.gid,
        nlink: a.nlink,
        size,
        atime: stamp(a.atime),
        mtime: stamp(a.mtime),
        ctime: stamp(a.ctime),
        rdev: a.rdev.encode(),
        ..Inode::default()
    };
    let mut freed = KVVec::new();
    let mut to_reserve = 0;
    let mut ext = None;
    {
        let mut m = inode.data().map.lock();
        raw.crtime = m.crtime;
        raw.generation = m.generation;
        raw.flags = m.flags;
        if inode.is_reg() {
            raw.size = size.min(m.disk_size);
        }
        // Lock order: the map, then the allocator.
        raw.next_orphan = d.alloc.lock().orphan_next(ino);
        if let Some(inline) = m.inline {
            raw.data = inline;
        } else if !raw.file_type().is_some_and(|t| t.has_extents()) {
            // A special file: no data, the data area stays zero.
        } else {
            m.extents.set_block_size(bs);
            match m.disk_root.filter(|_| !m.extents.is_dirty()) {
                // Unchanged: the root on disk, over the blocks on disk.
                Some(root) => raw.data = root,
                None => to_reserve = write_tree(inode, &mut m, ino, &mut raw.data, &mut freed)?,
            }
            m.disk_root = Some(raw.data);
        }
        raw.blocks = m.blocks;
        if d.geo.has_xattrs() {
            ext = Some(crate::xattr::store(sb, ino, &mut m)?);
            if let Some(b) = m.xattr_freed.take() {
                freed.push(b, GFP_KERNEL)?;
            }
        }
    }
    write_slot(sb, ino, &raw, ext.as_ref())?;
    // The new tree and the slot pointing at it are in the buffers: the
    // blocks the old tree (or the attributes) needed beyond it can go, the
    // first `to_reserve` of them back to the tree's reservation.
    let (back, gone) = freed.split_at(to_reserve.min(freed.len()));
    let mut rereserved = 0;
    let res: Result = back.iter().try_for_each(|&b| {
        sb.forget_block(b);
        d.check_writable()?;
        d.free_to_reserved(sb, b, 1)?;
        rereserved += 1;
        Ok(())
    });
    // What the allocator now holds promised is the tree's, even when a
    // later block could not be freed.
    if rereserved > 0 {
        inode.data().map.lock().tree_reserved += rereserved;
    }
    res?;
    for &b in gone {
        sb.forget_block(b);
        d.free_blocks(sb, b, 1)?;
    }
    Ok(())
}

/// Decodes inode `ino`'s slot of the inode table.
fn read_slot(sb: &SuperBlock<MapFs>, ino: u32) -> Result<Inode> {
    let d = sb.data();
    let (block, off) = d.geo.inode_location(ino).ok_or(EUCLEAN)?;
    let buf = sb.read_block(block)?;
    let guard = buf.lock()?;
    let bytes = guard.data().get(off..off + INODE_SIZE).ok_or(EIO)?;
    Inode::decode(bytes, d.seed, ino).map_err(|e| corrupt(sb, ino.into(), format_args!("bad inode: {}", e)))
}

/// Points the on-disk slot of orphan `ino` at `next` (the inode after it on
/// the orphan list), in place: `ino` may be in memory or not.
fn set_next_orphan(sb: &SuperBlock<MapFs>, ino: u32, next: u32) -> Result {
    edit_slot(sb, ino, |raw| raw.next_orphan = next)
}

/// Changes the on-disk slot of inode `ino` in place with `f` (the buffer
/// is dirtied for write-back); for an inode not in memory, or one whose
/// in-memory copy does not hold the fields `f` changes.
fn edit_slot(sb: &SuperBlock<MapFs>, ino: u32, f: impl FnOnce(&mut Inode)) -> Result {
    let d = sb.data();
    let (block, off) = d.geo.inode_location(ino).ok_or(EUCLEAN)?;
    let buf = sb.read_block(block)?;
    let mut guard = buf.lock()?;
    let slot = guard.data_mut().get_mut(off..off + INODE_SIZE).ok_or(EIO)?;
    let mut raw = Inode::decode(slot, d.seed, ino)
        .map_err(|e| corrupt(sb, ino.into(), format_args!("bad inode: {}", e)))?;
    f(&mut raw);
    raw.encode(slot, d.seed, ino)?;
    guard.mark_dirty();
    Ok(())
}

/// Takes inode `ino` off the orphan list, on disk too: the inode that
/// pointed at it points past it, or (it was the head, or not listed) the
/// super block is written.
fn unlist_orphan(sb: &SuperBlock<MapFs>, ino: u32) -> Result {
    let relink = {
        let mut a = sb.data().alloc.lock();
        let relink = a.orphan_remove(ino);
        if relink.is_none() {
            a.write_super(|b| sb.read_block(b), false)?;
        }
        relink
    };
    if let Some((pred, next)) = relink {
        set_next_orphan(sb, pred, next)?;
    }
    Ok(())
}

/// Puts `inode`, which is losing its last link, on the orphan list: if the
/// machine crashes while it is still open, the next mount (or fsck) frees
/// it instead of leaking it.
pub(crate) fn orphan_add(inode: &INodeView<MapFs>) -> Result {
    let ino = u32::try_from(inode.ino()).map_err(|_| EINVAL)?;
    let sb = inode.super_block();
    {
        // The new head goes to the super block's buffer at once, so that
        // writeback takes it to the disk with the inode (there is no
        // journal to order the two).
        let mut a = sb.data().alloc.lock();
        a.orphan_add(ino)?;
        a.write_super(|b| sb.read_block(b), false)?;
    }
    inode.mark_dirty();
    Ok(())
}

/// Whether `inode` is on the orphan list.
pub(crate) fn is_orphan(inode: &INodeView<MapFs>) -> bool {
    let Ok(ino) = u32::try_from(inode.ino()) else { return false };
    inode.super_block().data().alloc.lock().is_orphan(ino)
}

/// Takes `inode`, an orphan that is getting a name (an `O_TMPFILE` file
/// given one by `linkat`, its link count now 1), off the orphan list. Its
/// slot, with that link count, is on stable storage first, before any
/// entry the caller adds next: a mount never frees an inode an entry
/// names. A crash in between leaves an inode with one link and no entry
/// (fsck.mapfs reports it, as after an unlink that stopped half way).
pub(crate) fn orphan_del(inode: &INodeView<MapFs>) -> Result {
    let ino = u32::try_from(inode.ino()).map_err(|_| EINVAL)?;
    let sb = inode.super_block();
    write_inode(inode)?;
    sb.sync_device()?;
    unlist_orphan(sb, ino)?;
    // Its own slot stops pointing into the list.
    inode.mark_dirty();
    Ok(())
}

/// At a read-write mount: frees every inode of the on-disk orphan list, as
/// their last close would have. The list is checked on the way (numbers in
/// range, in use, no loop); at a bad entry it is cut there, with a dmesg
/// line, and fsck.mapfs has the rest. An entry that still has links (the
/// crash came between listing it and dropping its last link) leaves the
/// list and is kept.
pub(crate) fn process_orphans(sb: &SuperBlock<MapFs>) -> Result {
    let d = sb.data();
    if d.is_read_only() {
        return Ok(());
    }
    let mut chain = KVec::new();
    let mut linked = KVec::new();
    let mut seen = 0u64;
    let mut ino = d.alloc.lock().sb.orphan_head;
    while ino != 0 {
        seen += 1;
        if seen > u64::from(d.geo.inode_count) || chain.contains(&ino) || linked.contains(&ino) {
            pr_err!("{}: the orphan list loops at inode {}: cut there; run fsck.mapfs\n", sb.id(), ino);
            break;
        }
        let raw = match read_slot(sb, ino) {
            Ok(raw) if !raw.is_free() => raw,
            _ => {
                pr_err!("{}: orphan list entry {} is not an inode in use: cut there; run fsck.mapfs\n",
                    sb.id(), ino);
                break;
            }
        };
        if raw.nlink == 0 && ino != ROOT_INO {
            chain.push(ino, GFP_KERNEL)?;
        } else {
            // Put on the list as its last link went, written before the
            // link count dropped, and then the machine stopped: it keeps
            // its links, and leaves the list. (So does a damaged root.)
            linked.push(ino, GFP_KERNEL)?;
        }
        ino = raw.next_orphan;
    }
    for &o in linked.iter() {
        set_next_orphan(sb, o, 0)?;
    }
    free_orphans(sb, &chain)?;
    if !chain.is_empty() {
        pr_info!("{}: freed {} inode(s) unlinked while open before an unclean shutdown\n",
            sb.id(), chain.len());
    }
    Ok(())
}

/// Makes `chain`, inodes in use without a link, the orphan list (the
/// super block names its head, each slot the next), then frees them one
/// by one, each leaving the list as it goes: a crash part way leaves the
/// rest listed for the next mount.
fn free_orphans(sb: &SuperBlock<MapFs>, chain: &[u32]) -> Result {
    {
        let mut a = sb.data().alloc.lock();
        a.set_orphans(chain)?;
        a.write_super(|b| sb.read_block(b), false)?;
    }
    for (i, &o) in chain.iter().enumerate() {
        set_next_orphan(sb, o, chain.get(i + 1).copied().unwrap_or(0))?;
    }
    for &ino in chain.iter() {
        // No link: the last reference's `iput` evicts it (the super block
        // is not active yet) and `delete_inode` frees it.
        match iget_orphan(sb, ino) {
            Ok(inode) => drop(inode),
            Err(e) => pr_err!("{}: orphan inode {}: error {}\n", sb.id(), ino, e.to_errno()),
        }
    }
    Ok(())
}

/// At a read-write mount of an image that was not cleanly unmounted, in
/// place of [`process_orphans`]: counts the entries of every directory in
/// use, then frees every inode no entry names and sets every other link
/// count to the number of entries ([`recover`] has the rules and why).
/// The orphan list is rebuilt from the inodes freed. The slots, not the
/// inode bitmap, say which inodes exist (both are written back in any
/// order): a bit is set for a slot in use that an entry names, and an
/// unnamed slot whose bit is clear is cleared alone (its blocks may have
/// been handed out again since). Nothing is freed or relinked unless
/// every directory was read and every entry made sense (only the bitmap
/// bit of a directory in use may have been set by then): on an error the
/// caller falls back to the orphan list.
///
/// Runs before the root is returned, so nothing else uses the
/// filesystem: every directory read here is evicted at its last `iput`
/// (the super block is not active yet), and the slots are changed in
/// place.
pub(crate) fn recover_namespace(sb: &SuperBlock<MapFs>) -> Result {
    let d = sb.data();
    let count = d.geo.inode_count;
    let in_use = |ino: u32| d.alloc.lock().inode_in_use(ino);
    let claim = |ino: u32| d.alloc.lock().claim_inode(sb, &d.geo, d.seed, ino);
    let mut names = KVVec::from_elem(Names::default(), count as usize, GFP_KERNEL)?;
    // The inode bitmap is a block of its own, written back in any order
    // with the slots: a slot is what says whether an inode exists.
    let mut claimed = 0u32;
    // Pass 1: every directory's entries. One with no link is not read
    // (`rmdir` leaves it empty); a root without one fails `iget`.
    let mut dirs = 0u32;
    for ino in 1..count {
        let used = in_use(ino);
        let Some(raw) = recovery_slot(sb, ino, used)? else { continue };
        if raw.is_free()
            || raw.file_type() != Some(FileType::Directory)
            || (raw.nlink == 0 && ino != ROOT_INO)
        {
            continue;
        }
        if !used {
            claim(ino)?;
            claimed += 1;
        }
        let dir = iget(sb, ino)?;
        crate::dir::count_names(&dir, &mut names)?;
        dirs += 1;
    }
    // Pass 2: every inode against its entries.
    let mut free = KVec::new();
    let (mut fixed, mut unnamed, mut damaged, mut dangling) = (0u32, 0u32, 0u32, 0u32);
    let (mut cleared, mut numbers) = (0u32, 0u32);
    for ino in 1..count {
        let n = names.get(ino as usize).copied().unwrap_or_default();
        let used = in_use(ino);
        // The root is named by nothing but itself.
        let named = n.refs != 0 || ino == ROOT_INO;
        let Some(raw) = recovery_slot(sb, ino, used)? else {
            dangling += u32::from(n.refs);
            continue;
        };
        if raw.is_free() {
            if named {
                dangling += u32::from(n.refs);
            } else if used {
                // A number taken whose slot never reached the disk, or
                // freed whose bitmap bit did not: nothing else to free.
                d.free_inode(sb, ino)?;
                numbers += 1;
            }
            continue;
        }
        if !used {
            if !named {
                // Freed (its bitmap bit reached the disk, the cleared
                // slot did not), or a create of which only the slot
                // reached it. Its blocks may belong to others by now:
                // only the slot is cleared.
                write_slot(sb, ino, &Inode::default(), None)?;
                cleared += 1;
                continue;
            }
            claim(ino)?;
            claimed += 1;
        }
        match recover::decide(ino, &raw, &n) {
            Decision::Keep => {}
            Decision::Fix { nlink } => {
                edit_slot(sb, ino, |r| {
                    r.nlink = nlink;
                    r.next_orphan = 0;
                })?;
                fixed += 1;
            }
            Decision::Free => {
                edit_slot(sb, ino, |r| r.nlink = 0)?;
                free.push(ino, GFP_KERNEL)?;
            }
            Decision::Unnamed => {
                pr_warn!("{}: directory inode {} has entries and no name; run fsck.mapfs\n", sb.id(), ino);
                edit_slot(sb, ino, |r| r.next_orphan = 0)?;
                unnamed += 1;
            }
            Decision::Damaged => {
                pr_warn!("{}: inode {}: {} entries name it; run fsck.mapfs\n", sb.id(), ino, n.refs);
                damaged += 1;
            }
        }
    }
    free_orphans(sb, &free)?;
    pr_info!("{}: namespace recovered ({} directories read): {} inode(s) no entry names freed, {} link count(s) corrected\n",
        sb.id(), dirs, free.len(), fixed);
    if claimed != 0 || cleared != 0 || numbers != 0 {
        pr_info!("{}: inode bitmap: {} inode(s) in use marked so, {} unnamed slot(s) marked free cleared, {} number(s) with a free slot freed\n",
            sb.id(), claimed, cleared, numbers);
    }
    if dangling != 0 || unnamed != 0 || damaged != 0 {
        pr_warn!("{}: {} entries name free inodes, {} directories have no name, {} inodes are damaged: run fsck.mapfs\n",
            sb.id(), dangling, unnamed, damaged);
    }
    Ok(())
}

/// Slot `ino` as [`recover_namespace`] reads it: checked (a bad one is
/// corruption) when the bitmap marks it in use (`used`); otherwise a slot
/// that does not decode is `None`, not in use either way.
fn recovery_slot(sb: &SuperBlock<MapFs>, ino: u32, used: bool) -> Result<Option<Inode>> {
    if used {
        return read_slot(sb, ino).map(Some);
    }
    let d = sb.data();
    let (block, off) = d.geo.inode_location(ino).ok_or(EUCLEAN)?;
    let buf = sb.read_block(block)?;
    let guard = buf.lock()?;
    let bytes = guard.data().get(off..off + INODE_SIZE).ok_or(EIO)?;
    Ok(Inode::decode(bytes, d.seed, ino).ok())
}

/// Encodes `raw` and, with the xattr feature, its extension `ext` into
/// inode `ino`'s slot of the inode table. A free slot is zeroed whole.
fn write_slot(sb: &SuperBlock<MapFs>, ino: u32, raw: &Inode, ext: Option<&InodeExt>) -> Result {
    let d = sb.data();
    let (block, off) = d.geo.inode_location(ino).ok_or(EINVAL)?;
    let buf = sb.read_block(block)?;
    let mut guard = buf.lock()?;
    let slot = guard.data_mut().get_mut(off..off + d.geo.inode_bytes()).ok_or(EIO)?;
    if raw.is_free() {
        slot.fill(0);
    }
    raw.encode(slot, d.seed, ino)?;
    if let (Some(ext), false) = (ext, raw.is_free()) {
        ext.encode(slot, d.seed, ino).map_err(|_| EIO)?;
    }
    guard.mark_dirty();
    Ok(())
}

/// Frees everything of an inode without links: its blocks, its slot (written
/// back free, mode 0) and its number. Errors are logged: eviction cannot
/// fail, and fsck.mapfs finds what was left behind.
pub(crate) fn delete_inode(inode: &INodeView<MapFs>) {
    let sb = inode.super_block();
    let d = sb.data();
    if d.is_read_only() {
        return;
    }
    let Ok(ino) = u32::try_from(inode.ino()) else { return };
    let metadata = !inode.is_reg();
    let res = (|| -> Result {
        let mut m = inode.data().map.lock();
        for e in m.extents.iter() {
            if metadata {
                for b in e.disk_block..e.disk_block + u64::from(e.len) {
                    sb.forget_block(b);
                }
            }
            d.free_blocks(sb, e.disk_block, u64::from(e.len))?;
        }
        let mut tree_res = Ok(());
        m.extents.clear(|b| {
            sb.forget_block(b);
            if let Err(e) = d.free_blocks(sb, b, 1) {
                tree_res = Err(e);
            }
        });
        tree_res?;
        let xattr = core::mem::take(&mut m.xattr_block);
        for b in [Some(xattr).filter(|&b| b != 0), m.xattr_freed.take()].into_iter().flatten() {
            sb.forget_block(b);
            d.free_blocks(sb, b, 1)?;
        }
        m.xattrs.clear();
        m.blocks = 0;
        m.seq = m.seq.wrapping_add(1);
        drop(m);
        write_slot(sb, ino, &Inode::default(), None)?;
        unlist_orphan(sb, ino)?;
        d.free_inode(sb, ino)
    })();
    if let Err(e) = res {
        fs_err!(sb, "inode {}: could not free it: error {}; run fsck.mapfs\n", ino, e.to_errno());
    }
}

/// Moves the mapping of every block of `inode` from `first + count` on down
/// by `count` (the blocks in between are unmapped already), or from
/// `first` on up by `count` ([`FileOperations::shift`]). No block is
/// allocated or freed; an insert may split one extent, which the tree
/// reservation covers.
///
/// [`FileOperations::shift`]: crate::kfs::vfs::FileOperations::shift
pub(crate) fn shift(inode: &INodeView<MapFs>, first: u64, count: u64, dir: Shift) -> Result {
    let mut m = inode.data().map.lock();
    reserve_tree(inode, &mut m, Growth::split())?;
    // The same move for the extents and for the two in-memory lists kept
    // beside them.
    let moved = |l: &mut ExtentMap<KArrays>| match dir {
        Shift::Down => l.shift_down(first, count),
        Shift::Up => l.shift_up(first, count),
    };
    let (sb, ino) = (inode.super_block(), inode.ino());
    let res = m.edit(sb, ino, moved);
    // The wrapper wrote back and dropped the page cache from `first` on,
    // so no delayed allocation is left there; should one be, it moves
    // with its data's file offset.
    let res = res.and_then(|()| if m.delalloc.is_empty() { Ok(()) } else { m.edit_delalloc(sb, ino, moved) });
    // Blocks whose I/O failed stay handed out; they move with their
    // extents.
    let res = res.and_then(|()| {
        if m.handed_out.is_empty() {
            return Ok(());
        }
        edit_map(&mut m.handed_out, sb, ino, "handed-out blocks", moved)
    });
    drop(m);
    inode.mark_dirty();
    res
}

/// Unmaps file blocks `first .. first + count` of `inode` and frees them.
/// A hole punched inside an extent cuts it in two: the tree's growth is
/// reserved first (`ENOSPC` before anything changed, as on XFS).
pub(crate) fn unmap(inode: &INodeView<MapFs>, first: u64, count: u64) -> Result {
    let max = crate::format::extent::MAX_FILE_BLOCKS;
    let count = count.min(max.saturating_sub(first));
    if count == 0 {
        return Ok(());
    }
    let sb = inode.super_block();
    let d = sb.data();
    let mut m = inode.data().map.lock();
    if first + count < max {
        reserve_tree(inode, &mut m, Growth::split())?;
    }
    m.settle(sb, inode.ino(), first, count)?;
    if m.drop_delalloc(sb, inode.ino(), first, count)? != 0 {
        update_blocks(inode, &m);
    }
    let ranges = m.ranges_in(first, first + count)?;
    if ranges.is_empty() {
        return Ok(());
    }
    m.edit(sb, inode.ino(), |l| l.remove(first, count, |_| {}))?;
    for (disk, len) in ranges.iter() {
        d.free_blocks(sb, *disk, *len)?;
        m.sub_blocks(sb, inode.ino(), *len)?;
    }
    update_blocks(inode, &m);
    trim_tree_reservation(inode, &mut m);
    drop(m);
    inode.mark_dirty();
    Ok(())
}
