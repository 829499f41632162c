//! Pass 2b: the orphan list.
//!
//! The superblock's `orphan_head` and each listed inode's `next_orphan`
//! chain the in-use inodes whose link count is 0: files unlinked while
//! still open. The kernel frees them at their last close, or at the next
//! read-write mount after a crash; fsck frees them the same way (blocks,
//! tree blocks and slot), instead of moving them to lost+found as other
//! unreferenced inodes are.
//!
//! The list is walked as the kernel's mount walks it. A listed inode that
//! still has links (the crash came between listing it and dropping its
//! last link) leaves the list and is kept, and the walk goes on past it;
//! so does the root directory, which is never freed. A bad entry (out of
//! range, not in use, already on the list) cuts the list there: an inode
//! past the cut is checked like any other (its stale `next_orphan` is
//! cleared and, if nothing names it, it goes to lost+found).

use std::collections::HashSet;
use std::io;

use mapfs_format::extent::mapped_blocks;
use mapfs_format::inode::Inode;
use mapfs_format::layout::ROOT_INO;

use super::{Checker, FileInfo};
use crate::dev::Device;

/// "1 block", "3 blocks".
fn blocks(n: u64) -> String {
    if n == 1 {
        "1 block".into()
    } else {
        format!("{n} blocks")
    }
}

impl<D: Device> Checker<D> {
    /// The inodes the orphan list names with link count 0, read from the
    /// raw slots before the inode scan, which checks them last: a block
    /// one of them shares with a file in use then stays with that file
    /// (the orphan loses it, and is freed without it). Only an order:
    /// [`Self::check_orphans`] decides, after the scan, what is freed.
    pub(super) fn orphan_candidates(&mut self) -> io::Result<HashSet<u32>> {
        let count = self.fs.sb.inode_count;
        let mut out = HashSet::new();
        let mut seen = HashSet::new();
        let mut next = self.fs.sb.orphan_head;
        // Distinct numbers below `count`: at most `count` steps.
        while next != 0 && next < count && seen.insert(next) {
            let raw = self.fs.read_inode_raw(next)?;
            let Ok(inode) = Inode::decode_raw(&raw) else {
                break;
            };
            if inode.is_free() {
                break;
            }
            if inode.nlink == 0 && next != ROOT_INO {
                out.insert(next);
            }
            next = inode.next_orphan;
        }
        Ok(out)
    }

    /// Walks the orphan list, frees its inodes, empties it, and clears
    /// `next_orphan` in inodes not on it. Runs after the inode scan (the
    /// listed inodes' blocks are known and claimed) and before the tree
    /// rewrites and the directory passes, so that freed inodes are neither
    /// rewritten nor taken for lost files.
    pub(super) fn check_orphans(&mut self) -> io::Result<()> {
        self.verbose("Pass 2b: orphan list");
        let count = self.fs.sb.inode_count;
        // The list as it will be freed, and the listed inodes that still
        // have links (taken off it and kept).
        let mut list: Vec<u32> = Vec::new();
        let mut kept: HashSet<u32> = HashSet::new();
        let mut seen: HashSet<u32> = HashSet::new();
        let mut prev: Option<u32> = None;
        let mut next = self.fs.sb.orphan_head;
        // Entries are distinct inode numbers below `count`, so the walk
        // ends within `count` steps; the bound is only a guard.
        for _ in 0..count {
            if next == 0 {
                break;
            }
            let (from, cut) = match prev {
                None => (
                    "orphan list: the superblock's head is inode".to_string(),
                    "list emptied".to_string(),
                ),
                Some(p) => (
                    format!("orphan list: inode {p} points to inode"),
                    format!("list cut after inode {p}"),
                ),
            };
            let entry = self
                .files
                .get(&next)
                .filter(|f| f.inode.mode != 0)
                .map(|f| (f.inode.nlink, f.inode.next_orphan));
            let bad = if next >= count {
                Some(format!(
                    "{from} {next}, out of range (1-{})",
                    count.saturating_sub(1)
                ))
            } else if seen.contains(&next) {
                Some(format!(
                    "{from} {next}, which is already on the list (a loop)"
                ))
            } else if entry.is_none() {
                Some(format!("{from} {next}, which is not in use"))
            } else {
                None
            };
            if let Some(why) = bad {
                self.problem(why, Some(&cut));
                break;
            }
            let (nlink, after) = entry.unwrap_or_default();
            seen.insert(next);
            if next == ROOT_INO || nlink != 0 {
                // Listed as its last link went, then the machine stopped
                // before the link count dropped (or, for the root, damage):
                // it leaves the list and is kept, as the kernel's mount does.
                let why = if next == ROOT_INO {
                    "is the root directory".to_string()
                } else {
                    format!("has link count {nlink} (the crash came before its last link went)")
                };
                self.problem(
                    format!("orphan list: inode {next} {why}"),
                    Some("taken off the list, inode kept"),
                );
                kept.insert(next);
                if let Some(f) = self.files.get_mut(&next) {
                    if f.inode.next_orphan != 0 {
                        f.inode.next_orphan = 0;
                        f.dirty_inode = true;
                    }
                }
            } else {
                self.report_orphan(next);
                list.push(next);
            }
            prev = Some(next);
            next = after;
        }
        for ino in list {
            if let Some(f) = self.files.remove(&ino) {
                self.release(ino, &f)?;
            }
        }
        if self.fs.sb.orphan_head != 0 {
            self.fs.sb.orphan_head = 0;
            self.sb_dirty = true;
        }
        // Inodes not on the list must not point into it.
        let stray: Vec<(u32, u32)> = self
            .files
            .iter()
            .filter(|(i, f)| f.inode.mode != 0 && f.inode.next_orphan != 0 && !kept.contains(i))
            .map(|(&i, f)| (i, f.inode.next_orphan))
            .collect();
        for (ino, n) in stray {
            self.problem(
                format!("inode {ino}: not on the orphan list, but its next-orphan field is {n}"),
                Some("cleared"),
            );
            if let Some(f) = self.files.get_mut(&ino) {
                f.inode.next_orphan = 0;
                f.dirty_inode = true;
            }
        }
        Ok(())
    }

    /// Reports listed inode `ino` (in use, no link) as to be freed.
    fn report_orphan(&mut self, ino: u32) {
        let n = self.files.get(&ino).map_or(0, |f| {
            mapped_blocks(&f.extents).saturating_add(f.tree.len() as u64)
        });
        let msg = format!(
            "inode {ino}: unlinked while open, on the orphan list (expected after a crash)"
        );
        let (pending, done) = if n == 0 {
            ("to be freed".to_string(), "freed".to_string())
        } else {
            (
                format!("to be freed with its {}", blocks(n)),
                format!("freed with its {}", blocks(n)),
            )
        };
        self.problem_pending(msg, &pending, &done);
    }

    /// Frees inode `ino` (already out of `self.files`): its blocks and tree
    /// blocks, its slot and its bitmap bit. The bitmaps as found on disk
    /// and the superblock counts are updated too, as the kernel would have
    /// updated them, so that pass 5 reports no leak for these: it rewrites
    /// the bitmaps from what is in use.
    fn release(&mut self, ino: u32, f: &FileInfo) -> io::Result<()> {
        let runs = f
            .extents
            .iter()
            .map(|e| (e.disk_block, u64::from(e.len)))
            .chain(f.tree.iter().chain(f.xattr_block.iter()).map(|&b| (b, 1)));
        let mut marked = 0u64;
        for (start, len) in runs {
            let end = start.saturating_add(len);
            marked += (start..end).filter(|&b| self.disk_blocks.get(b)).count() as u64;
            self.owned.set_range(start, len, false);
            self.disk_blocks.set_range(start, len, false);
        }
        let sb = &mut self.fs.sb;
        sb.free_blocks = sb.free_blocks.saturating_add(marked).min(sb.block_count);
        if self.disk_inodes.get(u64::from(ino)) {
            self.disk_inodes.set_range(u64::from(ino), 1, false);
            sb.free_inodes = sb
                .free_inodes
                .saturating_add(1)
                .min(sb.inode_count.saturating_sub(1));
        }
        self.bitmaps_stale = true;
        self.sb_dirty = true;
        self.fs.clear_inode(ino)
    }
}
