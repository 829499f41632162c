// SPDX-License-Identifier: GPL-2.0

//! Namespace recovery after an unclean shutdown: which inodes no entry
//! names, and which link counts disagree with the entries.
//!
//! mapfs has no journal. One namespace change writes a directory block,
//! one or two inode slots and, for a last unlink, the super block (the
//! orphan list's head); write-back takes them to the disk in any order, so
//! a crash can leave:
//!
//! - an inode in use that no entry names: a create whose entry never
//!   reached the disk, or an unlink whose entry removal did while the
//!   link count (or the orphan list naming the inode) did not;
//! - an entry naming an inode whose link count is already 0 (the slot of
//!   an unlink reached the disk, the directory block did not): freeing it
//!   as an orphan would leave the entry naming a free slot;
//! - a link count above or below the number of entries (`link`, `rename`
//!   over a file, `unlink` of one of several names, half on the disk).
//!
//! After a read-write mount of an image not cleanly unmounted, the kernel
//! counts the entries of every directory in use ([`count_block`], into one
//! [`Names`] per inode number) and then asks [`decide`] about every inode
//! in use. The outcome is the namespace of one side of each interrupted
//! change, as log recovery gives on XFS: an inode no entry names is freed
//! (its create or its unlink is complete), a link count becomes the number
//! of entries, and no orphan pointer survives (the kernel rebuilds the
//! orphan list from the inodes it frees). A directory's link count
//! becomes 2 and one per subdirectory, so that a parent whose `mkdir` or
//! `rmdir` was cut short counts the subdirectories that are there.
//!
//! The counting does not follow the tree from the root: every directory in
//! use counts, reachable or not, so a subtree whose top lost its entry
//! keeps its files (the top is kept and reported; fsck.mapfs moves it to
//! `lost+found`). A directory whose link count is 0 is not read: `rmdir`
//! removes only empty directories, and it is treated as empty.

use super::check::MAX_LINKS;
use super::dir::{self, DirError};
use super::inode::{FileType, Inode};
use super::layout::ROOT_INO;

/// What the entries of all directories say about one inode number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Names {
    /// Entries naming it, other than `.` and `..` (saturating).
    pub refs: u16,
    /// For a directory: its own entries other than `.` and `..`
    /// (saturating).
    pub children: u16,
    /// For a directory: those of its entries typed as directories
    /// (saturating).
    pub subdirs: u16,
    /// For a directory: whether its blocks were counted.
    pub counted: bool,
}

/// Counts the live entries of `buf`, a block of directory `dir_ino` (the
/// first block when `first`, whose `.` and `..` the caller checked), into
/// `names`, indexed by inode number. An entry naming a number past the
/// end of `names`, or a `.` or `..` anywhere else, is an error: the caller
/// then trusts no count and changes nothing.
pub fn count_block(names: &mut [Names], dir_ino: u32, first: bool, buf: &[u8]) -> Result<(), DirError> {
    let d = usize::try_from(dir_ino).map_err(|_| DirError::BadDots)?;
    if d >= names.len() {
        return Err(DirError::BadDots);
    }
    let (mut children, mut subdirs) = (0u16, 0u16);
    let dir_type = FileType::Directory.dirent_type();
    for (i, r) in dir::iter_from(buf, 0).enumerate() {
        let e = r?;
        if first && i < 2 {
            continue;
        }
        if e.name == b"." || e.name == b".." {
            return Err(DirError::BadDots);
        }
        let n = usize::try_from(e.ino)
            .ok()
            .and_then(|i| names.get_mut(i))
            .filter(|_| e.ino != 0)
            .ok_or(DirError::BadInode { offset: e.offset, ino: e.ino })?;
        n.refs = n.refs.saturating_add(1);
        children = children.saturating_add(1);
        if e.file_type == dir_type {
            subdirs = subdirs.saturating_add(1);
        }
    }
    let me = &mut names[d];
    me.children = me.children.saturating_add(children);
    me.subdirs = me.subdirs.saturating_add(subdirs);
    me.counted = true;
    Ok(())
}

/// What to do with one inode in use ([`decide`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to change.
    Keep,
    /// Keep it, with this link count and no orphan pointer.
    Fix {
        /// The link count to store.
        nlink: u32,
    },
    /// No entry names it: free it (blocks, slot, number).
    Free,
    /// A directory with entries that no entry names: kept as it is (its
    /// orphan pointer cleared); fsck.mapfs reattaches it.
    Unnamed,
    /// A directory named by more than one entry, or a file by more than
    /// [`MAX_LINKS`]: damage, not an interrupted change; left to
    /// fsck.mapfs.
    Damaged,
}

/// Decides about inode `ino`, in use, its slot `inode`, given what the
/// entries of every directory say about it (`names`, complete: every
/// directory in use was counted).
pub fn decide(ino: u32, inode: &Inode, names: &Names) -> Decision {
    let fix = |nlink: u32| {
        if nlink == inode.nlink && inode.next_orphan == 0 {
            Decision::Keep
        } else {
            Decision::Fix { nlink }
        }
    };
    let refs = u32::from(names.refs);
    // A directory's link count: its entry, its `.`, and the `..` of each
    // subdirectory (an `rmdir`'d one, not read, has none).
    let dir_links = 2 + u32::from(names.subdirs);
    if ino == ROOT_INO {
        // Named by nothing (its `..` is itself), never freed.
        return fix(dir_links);
    }
    if inode.file_type() == Some(FileType::Directory) {
        let empty = !names.counted || names.children == 0;
        match refs {
            0 if empty => Decision::Free,
            0 => Decision::Unnamed,
            // Among them an `rmdir` whose entry removal did not reach the
            // disk: the empty directory gets its two links back.
            1 => fix(dir_links),
            _ => Decision::Damaged,
        }
    } else if refs == 0 {
        Decision::Free
    } else if refs > MAX_LINKS {
        Decision::Damaged
    } else {
        fix(refs)
    }
}
