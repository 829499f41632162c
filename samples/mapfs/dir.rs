// SPDX-License-Identifier: GPL-2.0

//! Directories: entries in the directory's own blocks, found through its
//! extent map, and the namespace operations that change them.
//!
//! Every change runs with the directory's `i_rwsem` held exclusive (the
//! VFS takes it), so two changes of one directory never interleave; the
//! bytes of a block are changed under its buffer lock, with the checksum.
//!
//! A `readdir` position is `file block * block size + byte offset in the
//! block`; entries never move once written (a delete merges the record into
//! its predecessor), so a position stays valid across concurrent changes.

#![forbid(unsafe_code)]

use crate::format::{dir, extent::Mapping, inode::FileType, recover, reserve::Growth, symlink};
use crate::kfs::vfs::{BufferGuard, CreateKind, Created, DirEmitter, DirOperations, INode, INodeType, Locked, Lookup};
use crate::MapFs;
use kernel::{prelude::*, sync::aref::ARef, types::ScopeGuard};

/// mapfs's directory operations.
pub(crate) struct Dir;

#[vtable]
impl DirOperations for Dir {
    type FileSystem = MapFs;

    fn lookup(dir: &INode<MapFs>, name: &[u8]) -> Result<Option<ARef<INode<MapFs>>>> {
        let found = lookup(dir, name)?;
        #[cfg(mapfs_misuse)]
        crate::misuse::after_lookup(dir, name, &found);
        Ok(found)
    }

    fn read_dir(dir: &INode<MapFs>, emitter: &mut DirEmitter) -> Result {
        read_dir(dir, emitter)
    }

    fn create(dir: &Locked<MapFs>, name: &[u8], kind: CreateKind<'_>, mode: u16) -> Result<Created<MapFs>> {
        create(dir, name, kind, mode)
    }

    fn tmpfile(dir: &INode<MapFs>, kind: CreateKind<'_>, mode: u16) -> Result<Created<MapFs>> {
        let inode = make_inode(dir, kind, mode)?;
        // No entry names it: it lives only while open, unless `linkat`
        // names it (`link`, below, takes it off the list then).
        crate::inode::orphan_add(&inode)?;
        Ok(inode)
    }

    fn link(dir: &Locked<MapFs>, name: &[u8], inode: &Locked<MapFs>) -> Result {
        // An `O_TMPFILE` file getting its first name: the wrapper raised
        // its link count from 0; off the orphan list first, its link
        // count on stable storage before the entry can be.
        let named = inode.nlink() == 1 && crate::inode::is_orphan(inode);
        if named {
            crate::inode::orphan_del(inode)?;
        }
        if let Err(e) = add_entry(dir, name, inode) {
            if named {
                // Unnamed again (the wrapper drops the count back to 0).
                let _ = crate::inode::orphan_add(inode);
            }
            return Err(e);
        }
        Ok(())
    }

    fn unlink(dir: &Locked<MapFs>, name: &[u8], inode: &Locked<MapFs>) -> Result {
        remove_entry(dir, name)?;
        // The wrapper drops the link count next: at zero the inode lives on
        // only while open, so it goes on the orphan list.
        if inode.nlink() <= 1 {
            crate::inode::orphan_add(inode)?;
        }
        Ok(())
    }

    fn rmdir(dir: &Locked<MapFs>, name: &[u8], inode: &Locked<MapFs>) -> Result {
        if !is_empty(inode)? {
            return Err(ENOTEMPTY);
        }
        remove_entry(dir, name)?;
        crate::inode::orphan_add(inode)
    }

    fn rename(
        old_dir: &Locked<MapFs>,
        old_name: &[u8],
        inode: &INode<MapFs>,
        new_dir: &Locked<MapFs>,
        new_name: &[u8],
        target: Option<&INode<MapFs>>,
    ) -> Result {
        rename(old_dir, old_name, inode, new_dir, new_name, target)
    }

    fn rename_whiteout(
        old_dir: &Locked<MapFs>,
        old_name: &[u8],
        inode: &INode<MapFs>,
        new_dir: &Locked<MapFs>,
        new_name: &[u8],
        target: Option<&INode<MapFs>>,
        whiteout: CreateKind<'_>,
    ) -> Result<Created<MapFs>> {
        rename_whiteout(old_dir, old_name, inode, new_dir, new_name, target, whiteout)
    }

    fn exchange(
        old_dir: &Locked<MapFs>,
        old_name: &[u8],
        inode: &INode<MapFs>,
        new_dir: &Locked<MapFs>,
        new_name: &[u8],
        other: &INode<MapFs>,
    ) -> Result {
        exchange(old_dir, old_name, inode, new_dir, new_name, other)
    }
}

/// `DT_*` for a mapfs directory-entry type code.
fn dt_type(code: u8) -> u8 {
    match FileType::from_dirent_type(code) {
        Some(FileType::Regular) => 8,
        Some(FileType::Directory) => 4,
        Some(FileType::Symlink) => 10,
        Some(FileType::CharDevice) => 2,
        Some(FileType::BlockDevice) => 6,
        Some(FileType::Fifo) => 1,
        Some(FileType::Socket) => 12,
        None => 0,
    }
}

/// Copies directory block `fb` of `dir` into `out`; `Ok(false)` past the end.
/// The extent map lock is released before the block is read, and the block
/// is copied so that no lock is held while entries go to user memory.
fn read_dir_block(dir: &INode<MapFs>, fb: u64, out: &mut KVec<u8>) -> Result<bool> {
    if fb >= dir_blocks(dir)? {
        return Ok(false);
    }
    let sb = dir.super_block();
    let buf = sb.read_block(dir_block(dir, fb)?)?;
    let mut guard = buf.lock()?;
    verify(dir, fb, &mut guard)?;
    out.clear();
    out.extend_from_slice(guard.data(), GFP_KERNEL)?;
    Ok(true)
}

/// Verifies the checksum of directory block `fb` (locked in `guard`) unless
/// it was verified since it was read from the disk or last changed: a
/// lookup in a large directory would otherwise checksum every block it
/// passes, every time.
fn verify(dir: &INode<MapFs>, fb: u64, guard: &mut BufferGuard<'_>) -> Result {
    if !guard.checked() {
        let seed = dir.super_block().data().seed;
        dir::verify_csum(guard.data(), seed, dir_ino(dir)?).map_err(|e| bad_block(dir, fb, e))?;
        guard.set_checked();
    }
    Ok(())
}

/// A corrupt directory block: logged, `EUCLEAN`.
fn bad_block(dir: &INode<MapFs>, fb: u64, e: dir::DirError) -> Error {
    crate::inode::corrupt(dir.super_block(), dir.ino(), format_args!("directory block {}: {}", fb, e))
}

/// `ENAMETOOLONG` or `EINVAL` for a name no entry can have.
fn check_name(name: &[u8]) -> Result {
    if name.len() > dir::MAX_NAME_LEN {
        Err(ENAMETOOLONG)
    } else if !dir::valid_name(name) {
        Err(EINVAL)
    } else {
        Ok(())
    }
}

/// Finds `name` in `dir`.
fn lookup(dir: &INode<MapFs>, name: &[u8]) -> Result<Option<ARef<INode<MapFs>>>> {
    if name.len() > dir::MAX_NAME_LEN {
        return Err(ENAMETOOLONG);
    }
    match find_entry(dir, name)? {
        Some((_, _, ino)) => crate::inode::iget(dir.super_block(), ino).map(Some),
        None => Ok(None),
    }
}

/// Emits the entries of `dir` from the emitter's position on.
fn read_dir(dir: &INode<MapFs>, emitter: &mut DirEmitter) -> Result {
    let bits = dir.block_bits();
    let bs = 1u64 << bits;
    let Ok(start) = u64::try_from(emitter.pos()) else {
        return Ok(());
    };
    // Shifts and masks, not `/` and `%`: no division-by-zero panic path
    // (which this kernel's objtool does not know as noreturn).
    let mut fb = start >> bits;
    let mut from = (start & (bs - 1)) as usize;
    let mut block = KVec::new();
    while read_dir_block(dir, fb, &mut block)? {
        for entry in dir::iter_from(&block, from) {
            let entry = entry.map_err(|e| bad_block(dir, fb, e))?;
            if !emitter.emit(entry.name, u64::from(entry.ino), dt_type(entry.file_type)) {
                return Ok(());
            }
            let next = fb * bs + entry.next_offset() as u64;
            emitter.set_pos(i64::try_from(next).map_err(|_| EOVERFLOW)?);
        }
        fb += 1;
        from = 0;
        emitter.set_pos(i64::try_from(fb * bs).map_err(|_| EOVERFLOW)?);
    }
    Ok(())
}

/// The disk block of directory block `fb` of `dir`.
fn dir_block(dir: &INode<MapFs>, fb: u64) -> Result<u64> {
    match dir.data().map.lock().extents.lookup(fb) {
        Mapping::Mapped { disk_block, unwritten: false, .. } => Ok(disk_block),
        _ => Err(crate::inode::corrupt(dir.super_block(), dir.ino(), format_args!("directory block {} is not mapped", fb))),
    }
}

/// Number of blocks of `dir`.
fn dir_blocks(dir: &INode<MapFs>) -> Result<u64> {
    let bits = dir.block_bits();
    let size = u64::try_from(dir.size()).map_err(|_| EUCLEAN)?;
    Ok(size.checked_add((1 << bits) - 1).ok_or(EUCLEAN)? >> bits)
}

fn dir_ino(dir: &INode<MapFs>) -> Result<u32> {
    u32::try_from(dir.ino()).map_err(|_| EINVAL)
}

/// Runs `f` on directory block `fb` of `dir`, locked, checksum verified; a
/// `Some` from `f` means it changed the block (with the format code's
/// editing functions, which store the new checksum): the buffer is dirtied.
fn with_block<R>(
    dir: &INode<MapFs>,
    fb: u64,
    f: impl FnOnce(&mut [u8]) -> Result<Option<R>, dir::DirError>,
) -> Result<Option<R>> {
    let sb = dir.super_block();
    let buf = sb.read_block(dir_block(dir, fb)?)?;
    let mut guard = buf.lock()?;
    verify(dir, fb, &mut guard)?;
    let r = f(guard.data_mut()).map_err(|e| bad_block(dir, fb, e))?;
    if r.is_some() {
        guard.mark_dirty();
    }
    Ok(r)
}

/// Where entry `name` of `dir` is: `(file block, offset, inode number)`.
fn find_entry(dir: &INode<MapFs>, name: &[u8]) -> Result<Option<(u64, usize, u32)>> {
    scan_blocks(dir, |block| Ok(dir::find(block, name)?.map(|e| (e.offset, e.ino))))
        .map(|found| found.map(|(fb, (off, ino))| (fb, off, ino)))
}

/// Calls `f` with each block of `dir` in order, verified, until it returns
/// `Some`: `(file block, what f returned)`. The blocks are read in place,
/// under their buffer lock, so `f` must not fault or take another buffer.
fn scan_blocks<R>(
    dir: &INode<MapFs>,
    mut f: impl FnMut(&[u8]) -> Result<Option<R>, dir::DirError>,
) -> Result<Option<(u64, R)>> {
    let sb = dir.super_block();
    for fb in 0..dir_blocks(dir)? {
        let buf = sb.read_block(dir_block(dir, fb)?)?;
        let mut guard = buf.lock()?;
        verify(dir, fb, &mut guard)?;
        if let Some(r) = f(guard.data()).map_err(|e| bad_block(dir, fb, e))? {
            return Ok(Some((fb, r)));
        }
    }
    Ok(None)
}

/// Counts the entries of every block of `dir` into `names`, indexed by
/// inode number ([`recover::count_block`]), at a mount recovering the
/// namespace ([`crate::inode::recover_namespace`]).
pub(crate) fn count_names(dir: &INode<MapFs>, names: &mut [recover::Names]) -> Result {
    let d = dir_ino(dir)?;
    let mut first = true;
    scan_blocks(dir, |block| {
        recover::count_block(names, d, core::mem::take(&mut first), block)?;
        Ok(None::<()>)
    })?;
    Ok(())
}

/// The directory-entry type code of `inode`.
fn entry_type(inode: &INode<MapFs>) -> Result<u8> {
    FileType::from_mode(inode.attrs().mode).map(|t| t.dirent_type()).ok_or(EINVAL)
}

/// Adds entry `name` for `ino` of type `ft` to `dir`, in the first block
/// with room or in a new block at the end.
fn insert(dir: &Locked<MapFs>, name: &[u8], ino: u32, ft: u8) -> Result {
    check_name(name)?;
    let sb = dir.super_block();
    let d = sb.data();
    let dino = dir_ino(dir)?;
    let blocks = dir_blocks(dir)?;
    for fb in 0..blocks {
        let done = with_block(dir, fb, |buf| match dir::insert(buf, d.seed, dino, ino, name, ft) {
            Ok(_) => Ok(Some(())),
            Err(dir::DirError::NoRoom) => Ok(None),
            Err(e) => Err(e),
        })?;
        if done.is_some() {
            return Ok(());
        }
    }
    // A new block at the end. Its extent may make the tree grow: that
    // growth is reserved first, so that ENOSPC comes from here and never
    // from writing the directory's inode back (which would lose the
    // entries of the new block).
    let bs = u64::from(sb.block_size());
    let goal = {
        let mut m = dir.data().map.lock();
        crate::inode::reserve_tree(dir, &mut m, Growth::new_extent(1))?;
        m.extents.last().map(|e| e.disk_end())
    };
    let (disk, _) = d.alloc_blocks(sb, goal, 1)?;
    let res = (|| -> Result {
        let buf = sb.new_block(disk)?;
        let mut guard = buf.lock()?;
        let bad = |_| EIO;
        dir::init_block(guard.data_mut(), d.seed, dino).map_err(bad)?;
        dir::insert(guard.data_mut(), d.seed, dino, ino, name, ft).map_err(bad)?;
        guard.mark_dirty();
        drop(guard);
        let mut m = dir.data().map.lock();
        let ext = crate::format::extent::Extent { file_block: blocks, disk_block: disk, len: 1, unwritten: false };
        m.edit(dir.super_block(), dir.ino(), |l| l.insert(ext, |_| {}))?;
        m.add_blocks(1);
        crate::inode::update_blocks(dir, &m);
        Ok(())
    })();
    if let Err(e) = res {
        sb.forget_block(disk);
        let _ = d.free_blocks(sb, disk, 1);
        return Err(e);
    }
    dir.set_size(((blocks + 1) * bs) as i64)?;
    dir.mark_dirty();
    Ok(())
}

/// Adds entry `name` for `inode` to `dir` (link).
fn add_entry(dir: &Locked<MapFs>, name: &[u8], inode: &INode<MapFs>) -> Result {
    let ino = u32::try_from(inode.ino()).map_err(|_| EINVAL)?;
    insert(dir, name, ino, entry_type(inode)?)
}

/// Removes entry `name` of `dir`.
fn remove_entry(dir: &INode<MapFs>, name: &[u8]) -> Result {
    let (fb, off, _) = find_entry(dir, name)?.ok_or(ENOENT)?;
    let d = dir.super_block().data();
    let dino = dir_ino(dir)?;
    with_block(dir, fb, |buf| dir::remove(buf, d.seed, dino, off).map(Some))?;
    Ok(())
}

/// Whether directory `dir` has no entry but `.` and `..`.
fn is_empty(dir: &INode<MapFs>) -> Result<bool> {
    let busy = scan_blocks(dir, |block| Ok((!dir::is_empty(block)?).then_some(())))?;
    Ok(busy.is_none())
}

/// Points entry `name` of `dir` at `ino` of type `ft`.
fn set_entry(dir: &INode<MapFs>, name: &[u8], ino: u32, ft: u8) -> Result {
    let (fb, off, _) = find_entry(dir, name)?.ok_or(ENOENT)?;
    let d = dir.super_block().data();
    let dino = dir_ino(dir)?;
    with_block(dir, fb, |buf| dir::set_entry(buf, d.seed, dino, off, ino, ft).map(Some))?;
    Ok(())
}

/// Moves an entry (see [`DirOperations::rename`]).
fn rename(
    old_dir: &Locked<MapFs>,
    old_name: &[u8],
    inode: &INode<MapFs>,
    new_dir: &Locked<MapFs>,
    new_name: &[u8],
    target: Option<&INode<MapFs>>,
) -> Result {
    add_new_name(inode, new_dir, new_name, target)?;
    remove_entry(old_dir, old_name)?;
    moved(inode, old_dir, new_dir)
}

/// Moves an entry and leaves a whiteout in its place (see
/// [`DirOperations::rename_whiteout`]). The whiteout is made first and
/// written with no entry naming it, so a failure to add the new name frees
/// it again (dropped `Created`); the old entry is then rewritten in place to
/// name it, which needs no new space.
fn rename_whiteout(
    old_dir: &Locked<MapFs>,
    old_name: &[u8],
    inode: &INode<MapFs>,
    new_dir: &Locked<MapFs>,
    new_name: &[u8],
    target: Option<&INode<MapFs>>,
    whiteout: CreateKind<'_>,
) -> Result<Created<MapFs>> {
    let whiteout = make_inode(old_dir, whiteout, 0)?;
    add_new_name(inode, new_dir, new_name, target)?;
    set_entry(old_dir, old_name, dir_ino(&whiteout)?, entry_type(&whiteout)?)?;
    moved(inode, old_dir, new_dir)?;
    Ok(whiteout)
}

/// Points `new_name` of `new_dir` at `inode`: a new entry, or the entry of
/// `target`, which then goes on the orphan list if it loses its last link.
fn add_new_name(inode: &INode<MapFs>, new_dir: &Locked<MapFs>, new_name: &[u8], target: Option<&INode<MapFs>>) -> Result {
    let (ino, ft) = (dir_ino(inode)?, entry_type(inode)?);
    match target {
        Some(t) => {
            if t.is_dir() && !is_empty(t)? {
                return Err(ENOTEMPTY);
            }
            set_entry(new_dir, new_name, ino, ft)?;
            // The wrapper drops the target's links next.
            if t.is_dir() || t.nlink() <= 1 {
                crate::inode::orphan_add(t)?;
            }
            Ok(())
        }
        None => insert(new_dir, new_name, ino, ft),
    }
}

/// Re-points the `..` of `inode` if it is a directory that moved from
/// `old_dir` to another parent.
fn moved(inode: &INode<MapFs>, old_dir: &INode<MapFs>, new_dir: &INode<MapFs>) -> Result {
    if inode.is_dir() && old_dir.ino() != new_dir.ino() {
        set_parent(inode, new_dir)?;
    }
    Ok(())
}

/// Points the `..` entry of directory `dir` at `parent` (it moved there).
fn set_parent(dir: &INode<MapFs>, parent: &INode<MapFs>) -> Result {
    set_entry(dir, b"..", dir_ino(parent)?, FileType::Directory.dirent_type())?;
    dir.mark_dirty();
    Ok(())
}

/// Swaps two entries (see [`DirOperations::exchange`]): both entries are
/// rewritten in place (no block is allocated); the first is put back if
/// the second cannot be rewritten.
fn exchange(
    old_dir: &Locked<MapFs>,
    old_name: &[u8],
    inode: &INode<MapFs>,
    new_dir: &Locked<MapFs>,
    new_name: &[u8],
    other: &INode<MapFs>,
) -> Result {
    let (a, fa) = (dir_ino(inode)?, entry_type(inode)?);
    let (b, fb) = (dir_ino(other)?, entry_type(other)?);
    set_entry(old_dir, old_name, b, fb)?;
    if let Err(e) = set_entry(new_dir, new_name, a, fa) {
        let _ = set_entry(old_dir, old_name, a, fa);
        return Err(e);
    }
    moved(inode, old_dir, new_dir)?;
    moved(other, new_dir, old_dir)
}

/// Creates an inode of kind `kind` and its entry `name` in `dir`.
fn create(dir: &Locked<MapFs>, name: &[u8], kind: CreateKind<'_>, mode: u16) -> Result<Created<MapFs>> {
    // Before an inode is allocated; `insert` checks again for link/rename.
    check_name(name)?;
    let inode = make_inode(dir, kind, mode)?;
    insert(dir, name, dir_ino(&inode)?, entry_type(&inode)?)?;
    Ok(inode)
}

/// Makes an inode of kind `asked` for directory `dir` and writes it, with
/// its first block for a directory or a long symlink; no entry names it
/// yet. Dropping the result frees it all again.
fn make_inode(dir: &INode<MapFs>, asked: CreateKind<'_>, mode: u16) -> Result<Created<MapFs>> {
    let typ = asked.typ();
    let sb = dir.super_block();
    let d = sb.data();
    let bs = sb.block_size();
    if let INodeType::Symlink(t) = typ {
        if t.len() > symlink::max_symlink_len(bs) {
            return Err(ENAMETOOLONG);
        }
    }
    let target: &[u8] = match typ {
        INodeType::Symlink(t) => t,
        _ => &[],
    };
    // Everything that can fail on the arguments alone fails before an
    // inode number is taken.
    let inline = match typ {
        INodeType::Symlink(t) if symlink::is_inline_len(t.len()) => {
            let mut raw = crate::format::inode::Inode::default();
            symlink::set_inline(&mut raw, t).map_err(|_| EINVAL)?;
            Some(raw.data)
        }
        _ => None,
    };
    let (ino, generation) = d.alloc_inode(sb)?;
    let new = match sb.get_inode(u64::from(ino)) {
        Ok(Lookup::New(new)) => new,
        Ok(Lookup::Cached(_)) | Err(_) => {
            let _ = d.free_inode(sb, ino);
            fs_err!(sb, "new inode {} is still in the inode cache\n", ino);
            return Err(EIO);
        }
    };
    {
        let mut m = new.data().map.lock();
        m.generation = generation;
    }
    let kind = match typ {
        INodeType::Dir => 1,
        INodeType::Symlink(_) => 2,
        // Regular files and special files: nothing but the inode.
        _ => 0,
    };
    if inline.is_some() {
        let mut m = new.data().map.lock();
        m.inline = inline;
        m.flags |= crate::format::inode::FLAG_INLINE;
    }
    // From here on, a failure drops `inode`, which drops its links: its
    // eviction frees whatever it got.
    let inode = match new.init_created(dir, asked, mode) {
        Ok(inode) => inode,
        Err(e) => {
            // The inode was marked bad and evicted (not deleted: it never
            // had a link): its number is free again.
            let _ = d.free_inode(sb, ino);
            return Err(e);
        }
    };
    {
        // Birth time: the creation's own timestamp, to the nanosecond.
        let c = inode.attrs().ctime;
        inode.data().map.lock().crtime = crate::format::inode::Timestamp { sec: c.sec, nsec: c.nsec };
    }
    let res = (|| -> Result {
        let goal = dir.data().map.lock().extents.first().map(|e| e.disk_block);
        if kind == 1 || (kind == 2 && !symlink::is_inline_len(target.len())) {
            let (disk, _) = d.alloc_blocks(sb, goal, 1)?;
            {
                let mut m = inode.data().map.lock();
                let undo = ScopeGuard::new(|| {
                    let _ = d.free_blocks(sb, disk, 1);
                });
                let ext = crate::format::extent::Extent { file_block: 0, disk_block: disk, len: 1, unwritten: false };
                m.edit(sb, inode.ino(), |l| l.insert(ext, |_| {}))?;
                undo.dismiss();
                // Added: an inherited ACL may have taken an xattr block.
                m.add_blocks(1);
                crate::inode::update_blocks(&inode, &m);
            }
            let buf = sb.new_block(disk)?;
            let mut guard = buf.lock()?;
            if kind == 1 {
                dir::init_first_block(guard.data_mut(), d.seed, ino, dir_ino(dir)?).map_err(|_| EIO)?;
            } else {
                guard.data_mut().get_mut(..target.len()).ok_or(EINVAL)?.copy_from_slice(target);
            }
            guard.mark_dirty();
            if kind == 1 {
                inode.set_size(i64::from(bs))?;
            }
        }
        crate::inode::write_inode(&inode)
    })();
    res.map(|()| inode)
}
