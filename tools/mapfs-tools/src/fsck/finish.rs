//! Pass 5: link counts, bitmaps and superblock counters.

use std::collections::HashMap;
use std::io;

use mapfs_format::inode::FileType;
use mapfs_format::super_block::{STATE_CLEAN, STATE_ERRORS};

use super::Checker;
use crate::dev::Device;
use crate::fs::BitmapAlloc;

/// At most this many lines per kind of bitmap difference.
const MAX_BITMAP_LINES: usize = 20;

impl<D: Device> Checker<D> {
    /// Link counts: a directory has 2 + its subdirectories, anything else
    /// the number of entries naming it.
    pub(super) fn check_link_counts(&mut self) -> io::Result<()> {
        self.verbose("Pass 5: link counts, bitmaps and counters");
        let mut subdirs: HashMap<u32, u32> = HashMap::new();
        for (&d, &p) in &self.parent {
            if d != p && self.files.contains_key(&d) {
                let n = subdirs.entry(p).or_default();
                *n = n.saturating_add(1);
            }
        }
        let inos: Vec<(u32, FileType)> = self.files.iter().map(|(&i, f)| (i, f.ft)).collect();
        for (ino, ft) in inos {
            let want = if ft == FileType::Directory {
                subdirs.get(&ino).copied().unwrap_or(0).saturating_add(2)
            } else {
                self.refs.get(&ino).copied().unwrap_or(0)
            };
            let mut inode = match self.fs.read_inode(ino) {
                Ok(i) => i,
                Err(_) => match self.files.get(&ino) {
                    Some(f) => f.inode,
                    None => continue,
                },
            };
            if inode.nlink != want {
                self.problem(
                    format!("inode {ino}: link count {}, should be {want}", inode.nlink),
                    Some("fixed"),
                );
                inode.nlink = want;
                self.fs.write_inode(ino, &inode)?;
                if let Some(f) = self.files.get_mut(&ino) {
                    f.inode = inode;
                }
            }
        }
        Ok(())
    }

    fn report_runs(&mut self, what: &str, expected: &BitmapAlloc, found: &BitmapAlloc, unit: &str) {
        let mut lines = 0usize;
        let mut extra = 0u64;
        for (want, msg, action) in [
            (true, "in use but marked free in the", "marked in use"),
            (false, "marked in use in the", "marked free"),
        ] {
            let mut i = 0u64;
            while i < expected.nbits {
                // Skip equal bytes quickly.
                if i & 7 == 0 {
                    let byte = (i / 8) as usize;
                    if expected.bits.get(byte) == found.bits.get(byte) && i + 8 <= expected.nbits {
                        i += 8;
                        continue;
                    }
                }
                if expected.get(i) == want && found.get(i) != want {
                    let start = i;
                    while i < expected.nbits && expected.get(i) == want && found.get(i) != want {
                        i += 1;
                    }
                    let obj = if i - start == 1 {
                        format!("{unit} {start}")
                    } else {
                        format!("{unit}s {start}-{}", i - 1)
                    };
                    let tail = if want {
                        String::new()
                    } else {
                        " but not used (leaked)".to_string()
                    };
                    let msg = format!("{obj}: {msg} {what} bitmap{tail}");
                    if lines < MAX_BITMAP_LINES {
                        self.problem(msg, Some(action));
                        lines += 1;
                    } else {
                        extra += 1;
                    }
                } else {
                    i += 1;
                }
            }
        }
        if extra > 0 {
            self.problem(
                format!("{what} bitmap: {extra} more differences"),
                Some("fixed"),
            );
        }
    }

    /// Bitmaps against what is really in use; rewrites differing blocks.
    pub(super) fn check_bitmaps_against_use(&mut self) -> io::Result<()> {
        let mut inodes = BitmapAlloc::new(u64::from(self.fs.sb.inode_count));
        inodes.set_range(0, 1, true);
        for &ino in self.files.keys() {
            inodes.set_range(u64::from(ino), 1, true);
        }
        let disk_inodes = std::mem::replace(&mut self.disk_inodes, BitmapAlloc::new(0));
        let disk_blocks = std::mem::replace(&mut self.disk_blocks, BitmapAlloc::new(0));
        self.report_runs("inode", &inodes, &disk_inodes, "inode");
        let owned = self.owned.clone();
        self.report_runs("block", &owned, &disk_blocks, "block");
        if inodes != disk_inodes
            || owned != disk_blocks
            || self.bitmap_damaged
            || self.bitmaps_stale
        {
            for (map, region) in [
                (&inodes, self.fs.sb.inode_bitmap),
                (&owned, self.fs.sb.block_bitmap),
            ] {
                for i in 0..region.len {
                    let want = self.fs.encode_bitmap_block(map, region, i);
                    let have = self.fs.read_block(region.start + i)?;
                    if want != have {
                        self.fs.write_block(region.start + i, &want)?;
                    }
                }
            }
        }
        self.final_inodes = Some(inodes);
        Ok(())
    }

    /// Superblock free counts and state.
    pub(super) fn check_superblock_counts(&mut self) -> io::Result<()> {
        let free_blocks = self.owned.count_free();
        let free_inodes = self.final_inodes.as_ref().map_or(0, |m| m.count_free());
        let free_inodes = u32::try_from(free_inodes).unwrap_or(u32::MAX);
        if self.fs.sb.free_blocks != free_blocks && !self.counts_stale {
            self.problem(
                format!(
                    "superblock: free block count {}, should be {free_blocks}",
                    self.fs.sb.free_blocks
                ),
                Some("fixed"),
            );
        }
        if self.fs.sb.free_inodes != free_inodes && !self.counts_stale {
            self.problem(
                format!(
                    "superblock: free inode count {}, should be {free_inodes}",
                    self.fs.sb.free_inodes
                ),
                Some("fixed"),
            );
        }
        let not_clean = self.fs.sb.state & STATE_CLEAN == 0 || self.fs.sb.state & STATE_ERRORS != 0;
        if self.problems > 0 || self.sb_dirty || (self.opts.repair && not_clean) {
            self.fs.sb.free_blocks = free_blocks;
            self.fs.sb.free_inodes = free_inodes;
            if self.unfixed == 0 {
                self.fs.sb.state = (self.fs.sb.state | STATE_CLEAN) & !STATE_ERRORS;
            }
            self.fs.sb.check_time = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            self.fs.write_sb()?;
        }
        Ok(())
    }
}
