//! Passes 1 and 2: superblock, bitmap blocks, inodes, extent trees and
//! block ownership.

use std::collections::HashSet;
use std::io;

use mapfs_format::xattr::{self, InodeExt};
use mapfs_format::bitmap;
use mapfs_format::extent::{mapped_blocks, Extent, MAX_FILE_BLOCKS};
use mapfs_format::inode::{FileType, Inode, FLAG_INLINE, INODE_DATA_SIZE};
use mapfs_format::layout::{
    bits_per_bitmap_block, Geometry, Region, ROOT_INO, SUPERBLOCK_SIZE,
};
use mapfs_format::super_block::{SbError, Superblock, SB_MAGIC, STATE_CLEAN, STATE_ERRORS};
use mapfs_format::symlink::{max_symlink_len, INLINE_SYMLINK_MAX};
use mapfs_format::tree::{self, NodeKind};

use super::{backup, Checker, FileInfo, FsckOptions, FsckResult, EXIT_OK, EXIT_UNCORRECTED};
use crate::dev::Device;

pub(super) enum Opened {
    /// Nothing more to do (clean and not forced, or the superblock is
    /// unusable).
    Done(FsckResult),
    /// Go on with this superblock; the result holds problems so far. The
    /// flag: the superblock was restored from the backup, whose free
    /// counts are stale (they are recomputed without a report of their
    /// own).
    Fs(FsckResult, Box<Superblock>, Geometry, bool),
}

fn fatal(mut res: FsckResult, msg: String) -> Opened {
    res.lines.push(format!("{msg} (cannot be fixed)"));
    res.problems += 1;
    res.unfixed += 1;
    res.exit = EXIT_UNCORRECTED;
    Opened::Done(res)
}

/// Writes `sb` (fresh checksum) as the primary superblock.
fn put_primary<D: Device>(dev: &mut D, sb: &Superblock) -> io::Result<()> {
    let mut buf = vec![0u8; SUPERBLOCK_SIZE];
    sb.encode(&mut buf)
        .map_err(|e| io::Error::other(e.to_string()))?;
    dev.write_at(0, &buf)
}

/// Pass 1a: the superblock. An unusable primary superblock is replaced by
/// a good backup superblock if there is one (see [`backup::find`]); a
/// primary with a bad checksum takes the fields that never change after
/// mkfs from a good backup that disagrees with it.
pub(super) fn open<D: Device>(dev: &mut D, opts: FsckOptions) -> io::Result<Opened> {
    let mut res = FsckResult::default();
    if dev.size() < SUPERBLOCK_SIZE as u64 {
        return Ok(fatal(
            res,
            format!("superblock: device too small ({} bytes)", dev.size()),
        ));
    }
    let mut buf = vec![0u8; SUPERBLOCK_SIZE];
    dev.read_at(0, &mut buf)?;
    let Ok(primary) = Superblock::decode_raw(&buf) else {
        return Ok(fatal(res, "superblock: unreadable".into()));
    };
    if opts.verbose {
        res.lines.push("Pass 1: superblock and bitmaps".into());
    }
    let (stored, computed) = Superblock::checksums(&buf).unwrap_or((0, 1));
    let csum_ok = stored == computed;
    let csum_msg = format!("bad checksum (stored {stored:#010x}, computed {computed:#010x})");
    // The primary's geometry, or why it cannot be used: (short reason,
    // full message, whether a backup may replace it).
    let checked = if primary.magic != SB_MAGIC {
        Err((
            format!("bad magic number {:#010x}", primary.magic),
            format!("superblock: bad magic number {:#010x} (not a mapfs filesystem, or its superblock is destroyed)", primary.magic),
            true,
        ))
    } else {
        primary.validate(dev.size()).map_err(|e| {
            let extra = if csum_ok {
                String::new()
            } else {
                format!("; {csum_msg}")
            };
            // An intact superblock of a newer format is no damage for a
            // backup to undo.
            let newer =
                csum_ok && matches!(e, SbError::BadVersion(_) | SbError::UnknownIncompat(_));
            (
                format!("{e}{extra}"),
                format!("superblock: {e}{extra}"),
                !newer,
            )
        })
    };
    // Whether the superblock was repaired here (then it is checked whatever
    // its state).
    let mut fixed = false;
    let mut restored = false;
    let (sb, geo) = match checked {
        Ok(geo) => (primary, geo),
        Err((_, msg, false)) => return Ok(fatal(res, msg)),
        Err((why, msg, true)) => match backup::find(dev, &buf, None, opts.backup)? {
            Err(none) => return Ok(fatal(res, format!("{msg}; {none}"))),
            Ok(found) => {
                // The backup as it is: its counters and state are stale,
                // which the check then fixes.
                let mut sb = found.sb;
                sb.state &= !STATE_CLEAN;
                put_primary(dev, &sb)?;
                res.problems += 1;
                res.lines.push(if opts.repair {
                    format!(
                        "superblock: primary superblock damaged ({why}): restored from the backup superblock at block {}",
                        found.block
                    )
                } else {
                    format!(
                        "superblock: primary superblock damaged ({why}); a good backup is at block {} (-y restores it)",
                        found.block
                    )
                });
                fixed = true;
                restored = true;
                (sb, found.geo)
            }
        },
    };
    let (sb, geo) = if fixed || csum_ok {
        (sb, geo)
    } else {
        // A bad checksum: some bytes changed, though every field validates.
        // A good backup that disagrees on a field that never changes after
        // mkfs is right about those fields (a changed UUID alone would
        // fail every other checksum of the filesystem).
        fixed = true;
        res.problems += 1;
        let found = match backup::find(dev, &buf, Some(&sb), opts.backup)? {
            Ok(found) => sb.static_difference(&found.sb).map(|f| (f, found)),
            Err(_) => None,
        };
        match found {
            None => {
                res.lines.push(if opts.repair {
                    format!("superblock: {csum_msg}: recomputed")
                } else {
                    format!("superblock: {csum_msg}")
                });
                (sb, geo)
            }
            Some((field, found)) => {
                let merged = sb.with_static_fields_of(&found.sb);
                let (mut merged, g) = match merged.validate(dev.size()) {
                    Ok(g) => (merged, g),
                    // The counters do not fit the backup's geometry.
                    Err(_) => (found.sb, found.geo),
                };
                merged.state &= !STATE_CLEAN;
                put_primary(dev, &merged)?;
                let msg = format!(
                    "superblock: {csum_msg}; its {field} differs from the backup superblock at block {}",
                    found.block
                );
                res.lines.push(if opts.repair {
                    format!("{msg}: fields that never change after mkfs taken from the backup")
                } else {
                    msg
                });
                (merged, g)
            }
        }
    };
    let unknown_ro = sb.unknown_ro_compat();
    if unknown_ro != 0 {
        return Ok(fatal(
            res,
            format!("superblock: unknown read-only-compatible features {unknown_ro:#x}; this fsck cannot check this filesystem"),
        ));
    }
    if let Some(b) = opts.backup.filter(|_| csum_ok && !fixed) {
        res.warnings.push(format!(
            "fsck.mapfs: the primary superblock is valid; the backup superblock given with -b {b} is not used"
        ));
    }
    if !fixed
        && !opts.force
        && sb.state & STATE_CLEAN != 0
        && sb.state & STATE_ERRORS == 0
        // A clean filesystem has an empty orphan list (the kernel empties
        // it before the last unmount): one that is not gets checked, so
        // that `-p` at boot frees what is listed, as e2fsck does.
        && sb.orphan_head == 0
    {
        res.exit = EXIT_OK;
        res.lines.push(format!(
            "clean, {}/{} files, {}/{} blocks",
            sb.inode_count
                .saturating_sub(1)
                .saturating_sub(sb.free_inodes),
            sb.inode_count.saturating_sub(1),
            sb.block_count.saturating_sub(sb.free_blocks),
            sb.block_count
        ));
        return Ok(Opened::Done(res));
    }
    Ok(Opened::Fs(res, Box::new(sb), geo, restored))
}

/// A node still to visit in the lenient tree scan.
struct Pending {
    block: u64,
    depth: u16,
    lo: u64,
    hi: u64,
}

impl<D: Device> Checker<D> {
    /// Pass 1b: bitmap block checksums and padding; loads the bitmaps.
    pub(super) fn check_bitmaps(&mut self) -> io::Result<()> {
        let per = bits_per_bitmap_block(self.fs.geo.block_size());
        let maps = [
            (
                "inode bitmap",
                self.fs.sb.inode_bitmap,
                u64::from(self.fs.sb.inode_count),
            ),
            (
                "block bitmap",
                self.fs.sb.block_bitmap,
                self.fs.sb.block_count,
            ),
        ];
        for (name, region, nbits) in maps {
            for i in 0..region.len {
                let disk = region.start.saturating_add(i);
                let blk = self.fs.read_block(disk)?;
                if let Err(e) = bitmap::verify_block_csum(self.fs.seed, disk, &blk) {
                    self.problem(
                        format!("{name} block {i} (disk block {disk}): {e}"),
                        Some("rewritten"),
                    );
                    self.bitmap_damaged = true;
                }
                let first = i.saturating_mul(per);
                let valid = per.min(nbits.saturating_sub(first));
                if let Ok(bits) = bitmap::block_bits(&blk) {
                    if !bitmap::all_set(bits, valid, per - valid).unwrap_or(false) {
                        self.problem(
                            format!("{name} block {i} (disk block {disk}): padding bits past the end are not set"),
                            Some("rewritten"),
                        );
                        self.bitmap_damaged = true;
                    }
                }
            }
        }
        self.disk_inodes = self
            .fs
            .read_bitmap(self.fs.sb.inode_bitmap, u64::from(self.fs.sb.inode_count))?;
        self.disk_blocks = self
            .fs
            .read_bitmap(self.fs.sb.block_bitmap, self.fs.sb.block_count)?;
        self.owned.set_range(0, self.fs.geo.data_start, true);
        Ok(())
    }

    /// Pass 2: every inode slot (those on the orphan list last).
    pub(super) fn scan_inodes(&mut self) -> io::Result<()> {
        self.verbose("Pass 2: inodes, extent trees and block ownership");
        let g = self.fs.geo;
        let bs = self.bs();
        let per_block = bs / g.inode_size as u64;
        let chunk_blocks = (256 * 1024 / bs).max(1);
        let orphans = self.orphan_candidates()?;
        let mut later = Vec::new();
        let mut b = 0u64;
        while b < g.inode_table.len {
            let n = chunk_blocks.min(g.inode_table.len - b);
            let mut buf = vec![0u8; (n * bs) as usize];
            self.fs
                .dev
                .read_at((g.inode_table.start + b) * bs, &mut buf)?;
            for (k, raw) in buf.chunks(g.inode_bytes()).enumerate() {
                let ino = b * per_block + k as u64;
                if ino == 0 || ino >= u64::from(g.inode_count) {
                    continue;
                }
                let ino = ino as u32;
                if raw.get(..2) == Some(&[0, 0]) {
                    continue;
                }
                if orphans.contains(&ino) {
                    later.push((ino, raw.to_vec()));
                    continue;
                }
                self.check_inode(ino, raw)?;
            }
            b += n;
        }
        // Orphans last: files in use keep the blocks they share with one.
        for (ino, raw) in later {
            self.check_inode(ino, &raw)?;
        }
        Ok(())
    }

    fn check_inode(&mut self, ino: u32, raw: &[u8]) -> io::Result<()> {
        let (stored, computed) = Inode::checksums(raw, self.fs.seed, ino).unwrap_or((0, 1));
        let csum_ok = stored == computed;
        let Ok(inode) = Inode::decode_raw(raw) else {
            return Ok(());
        };
        let bs = self.fs.geo.block_size();
        let csum_note = if csum_ok {
            String::new()
        } else {
            format!(", bad checksum (stored {stored:#010x}, computed {computed:#010x})")
        };
        let ft = match inode.validate(bs) {
            Ok(ft) => ft,
            Err(e) => {
                self.problem(
                    format!("inode {ino}: {e}{csum_note}"),
                    Some("inode cleared"),
                );
                return self.fs.clear_inode(ino);
            }
        };
        if inode.has_extents() {
            if let Err(e) = tree::check_header(&inode.data, NodeKind::Root, None) {
                self.problem(
                    format!("inode {ino}: extent tree root: {e}{csum_note}"),
                    Some("inode cleared"),
                );
                return self.fs.clear_inode(ino);
            }
        }
        if ft == FileType::Symlink && inode.flags & FLAG_INLINE == 0 {
            if inode.size <= INLINE_SYMLINK_MAX as u64 || inode.size > max_symlink_len(bs) as u64 {
                self.problem(
                    format!(
                        "inode {ino}: symlink of {} bytes stored in a block",
                        inode.size
                    ),
                    Some("inode cleared"),
                );
                return self.fs.clear_inode(ino);
            }
        }
        let mut info = FileInfo {
            inode,
            ft,
            extents: Vec::new(),
            tree: Vec::new(),
            dirty_tree: false,
            xattr_block: None,
            new_ext: None,
            dirty_inode: !csum_ok,
        };
        if !csum_ok {
            self.problem(
                format!(
                    "inode {ino}: bad checksum (stored {stored:#010x}, computed {computed:#010x})"
                ),
                Some("recomputed"),
            );
        }
        if inode.has_extents() {
            self.scan_tree(ino, &mut info)?;
            self.claim(ino, &mut info);
        }
        self.check_xattrs(ino, raw, &mut info)?;
        self.check_type_rules(ino, &mut info);
        self.files.insert(ino, info);
        Ok(())
    }

    /// Checks the extended attributes of inode `ino` (its slot is `raw`):
    /// the extension, the xattr block (in the data area, owned by no one
    /// else, owner and checksum right) and the attributes as a whole (no
    /// name twice). What is wrong is dropped: a bad extension loses every
    /// attribute, a bad block the attributes it held.
    fn check_xattrs(&mut self, ino: u32, raw: &[u8], info: &mut FileInfo) -> io::Result<()> {
        if !self.fs.geo.has_xattrs() {
            return Ok(());
        }
        let ext = match InodeExt::decode(raw, self.fs.seed, ino) {
            Ok(ext) => ext,
            Err(e) => {
                self.problem(
                    format!("inode {ino}: extended attributes: {e}"),
                    Some("attributes removed"),
                );
                info.new_ext = Some(InodeExt::default());
                return Ok(());
            }
        };
        // The in-inode entries first: a name twice there loses them all
        // (and the block, which is then owned by no one and freed).
        if let Err(e) = xattr::check_list(ext.entries()) {
            self.problem(
                format!("inode {ino}: extended attributes: {e}"),
                Some("attributes removed"),
            );
            info.new_ext = Some(InodeExt::default());
            return Ok(());
        }
        if ext.block == 0 {
            return Ok(());
        }
        let b = ext.block;
        let why = if !self.fs.geo.data().contains(b) {
            Some("is outside the data area".to_string())
        } else if Some(b) == self.backup_block || self.owned.get(b) {
            Some(format!("is also used by {}", self.owner_desc(b, ino)))
        } else {
            let buf = self.fs.read_block(b)?;
            match xattr::decode_block(&buf, self.fs.seed, ino, b) {
                Err(e) => Some(e.to_string()),
                Ok(list) => {
                    let mut all = ext.entries().to_vec();
                    all.extend_from_slice(list);
                    xattr::check_list(&all).err().map(|e| e.to_string())
                }
            }
        };
        match why {
            Some(w) => {
                self.problem(
                    format!("inode {ino}: xattr block {b} {w}"),
                    Some("attributes in it removed"),
                );
                let mut kept = ext;
                kept.block = 0;
                info.new_ext = Some(kept);
            }
            None => {
                self.owned.set_range(b, 1, true);
                info.xattr_block = Some(b);
            }
        }
        Ok(())
    }

    fn extent_desc(k: usize, e: &Extent) -> String {
        format!(
            "extent {k} (file block {}, disk block {}, {} blocks)",
            e.file_block, e.disk_block, e.len
        )
    }

    /// Reads a file's extent tree leniently: bad nodes and bad extents are
    /// reported and dropped, the rest kept.
    fn scan_tree(&mut self, ino: u32, info: &mut FileInfo) -> io::Result<()> {
        let data = self.fs.geo.data();
        let bs = self.fs.geo.block_size();
        let root = info.inode.data;
        let Ok(h) = tree::check_header(&root, NodeKind::Root, None) else {
            return Ok(());
        };
        let mut k = 0usize; // extent number, in tree order
        let mut last_kept: Option<usize> = None;
        let mut prev_end = 0u64;
        let mut stack: Vec<Pending> = Vec::new();
        let mut visited: HashSet<u64> = HashSet::new();
        // Leaf entries of one node.
        let mut leaf =
            |c: &mut Self, info: &mut FileInfo, node: &[u8], n: usize, lo: u64, hi: u64| {
                for i in 0..n {
                    let Some(e) = tree::leaf_entry(node, i) else {
                        break;
                    };
                    let why = if !e.is_valid() {
                        Some("is invalid".to_string())
                    } else if e.file_block < lo || e.end() > hi {
                        Some("lies outside the key range of its tree node".to_string())
                    } else if e.disk_block < data.start || e.disk_end() > data.end() {
                        Some(format!(
                            "is outside the data area (blocks {}-{})",
                            data.start,
                            data.end().saturating_sub(1)
                        ))
                    } else if e.file_block < prev_end {
                        Some(match last_kept {
                            Some(j) => format!("overlaps extent {j}"),
                            None => "is out of order".to_string(),
                        })
                    } else {
                        None
                    };
                    match why {
                        Some(w) => {
                            c.problem(
                                format!("inode {ino}: {} {w}", Self::extent_desc(k, &e)),
                                Some("extent removed"),
                            );
                            info.dirty_tree = true;
                        }
                        None => {
                            prev_end = e.end();
                            last_kept = Some(k);
                            info.extents.push(e);
                        }
                    }
                    k += 1;
                }
            };
        // Index entries of one node: push children (reverse order for DFS).
        let index = |c: &mut Self,
                     info: &mut FileInfo,
                     stack: &mut Vec<Pending>,
                     node: &[u8],
                     n: usize,
                     depth: u16,
                     lo: u64,
                     hi: u64,
                     at: &str| {
            let mut entries = Vec::new();
            let mut prev_key: Option<u64> = None;
            for i in 0..n {
                let Some(ie) = tree::index_entry(node, i) else {
                    break;
                };
                let ok_key = ie.file_block >= lo
                    && ie.file_block < hi
                    && prev_key.is_none_or(|p| ie.file_block > p);
                if !ok_key {
                    c.problem(
                        format!("inode {ino}: {at}: index entry {i} (file block {}, child block {}) is out of order", ie.file_block, ie.child),
                        Some("subtree dropped"),
                    );
                    info.dirty_tree = true;
                    continue;
                }
                prev_key = Some(ie.file_block);
                entries.push(ie);
            }
            for (j, ie) in entries.iter().enumerate().rev() {
                let next = entries.get(j + 1).map_or(hi, |n| n.file_block);
                stack.push(Pending {
                    block: ie.child,
                    depth: depth.saturating_sub(1),
                    lo: ie.file_block,
                    hi: next,
                });
            }
        };
        if h.depth == 0 {
            leaf(
                self,
                info,
                &root,
                usize::from(h.entries),
                0,
                MAX_FILE_BLOCKS,
            );
            return Ok(());
        }
        index(
            self,
            info,
            &mut stack,
            &root,
            usize::from(h.entries),
            h.depth,
            0,
            MAX_FILE_BLOCKS,
            "extent tree root",
        );
        while let Some(p) = stack.pop() {
            let at = format!("extent tree block {} (depth {})", p.block, p.depth);
            if !data.contains(p.block) {
                self.problem(
                    format!("inode {ino}: {at} is outside the data area"),
                    Some("subtree dropped"),
                );
                info.dirty_tree = true;
                continue;
            }
            if !visited.insert(p.block) {
                self.problem(
                    format!("inode {ino}: {at} is referenced twice in the tree"),
                    Some("subtree dropped"),
                );
                info.dirty_tree = true;
                continue;
            }
            let node = self.fs.read_block(p.block)?;
            let h = match tree::check_header(&node, NodeKind::Block(bs), Some(p.depth)) {
                Ok(h) => h,
                Err(e) => {
                    self.problem(format!("inode {ino}: {at}: {e}"), Some("subtree dropped"));
                    info.dirty_tree = true;
                    continue;
                }
            };
            if let Err(e) = tree::verify_block_csum(self.fs.seed, ino, p.block, &node) {
                self.problem(format!("inode {ino}: {at}: {e}"), Some("tree rewritten"));
                info.dirty_tree = true;
            }
            info.tree.push(p.block);
            if h.depth == 0 {
                leaf(self, info, &node, usize::from(h.entries), p.lo, p.hi);
            } else {
                index(
                    self,
                    info,
                    &mut stack,
                    &node,
                    usize::from(h.entries),
                    h.depth,
                    p.lo,
                    p.hi,
                    &at,
                );
            }
        }
        Ok(())
    }

    /// Who (other than `except`) owns block `b`.
    fn owner_of(&self, b: u64, except: u32) -> Option<u32> {
        self.files.iter().find_map(|(&ino, f)| {
            (ino != except
                && (f.tree.contains(&b)
                    || f.xattr_block == Some(b)
                    || f.extents
                        .iter()
                        .any(|e| b >= e.disk_block && b < e.disk_end())))
            .then_some(ino)
        })
    }

    /// Claims a file's tree blocks and extents; blocks already owned by an
    /// earlier inode are taken away from this one.
    fn claim(&mut self, ino: u32, info: &mut FileInfo) {
        let tree = std::mem::take(&mut info.tree);
        for b in tree {
            if self.owned.get(b) {
                let who = self.owner_desc(b, ino);
                self.problem(
                    format!("inode {ino}: extent tree block {b} is also used by {who}"),
                    Some("tree rebuilt with new blocks"),
                );
                info.dirty_tree = true;
            } else {
                self.owned.set_range(b, 1, true);
                info.tree.push(b);
            }
        }
        let extents = std::mem::take(&mut info.extents);
        for (k, e) in extents.into_iter().enumerate() {
            let len = u64::from(e.len);
            let free = bitmap::all_clear(&self.owned.bits, e.disk_block, len).unwrap_or(false);
            if free {
                self.owned.set_range(e.disk_block, len, true);
                info.extents.push(e);
                continue;
            }
            let shared = (e.disk_block..e.disk_end())
                .find(|&b| self.owned.get(b))
                .unwrap_or(e.disk_block);
            let who = self.owner_desc(shared, ino);
            self.problem(
                format!(
                    "inode {ino}: {} shares block {shared} with {who}",
                    Self::extent_desc(k, &e)
                ),
                Some("extent removed from this inode"),
            );
            info.dirty_tree = true;
        }
    }

    fn owner_desc(&self, b: u64, ino: u32) -> String {
        if b < self.fs.geo.data_start {
            return "filesystem metadata".into();
        }
        if Some(b) == self.backup_block {
            return "the backup superblock".into();
        }
        match self.owner_of(b, ino) {
            Some(o) => format!("inode {o}"),
            None => "another inode".into(),
        }
    }

    /// Per-type rules: directories are a hole-free prefix of written
    /// blocks with size = blocks × block size; block symlinks have exactly
    /// file block 0.
    fn check_type_rules(&mut self, ino: u32, info: &mut FileInfo) {
        let bs = self.bs();
        match info.ft {
            FileType::Directory => {
                let mut n = 0u64;
                let mut keep = Vec::new();
                for e in &info.extents {
                    if e.file_block == n && !e.unwritten {
                        n = e.end();
                        keep.push(*e);
                    } else {
                        break;
                    }
                }
                let dropped: Vec<Extent> = info.extents.iter().skip(keep.len()).copied().collect();
                if !dropped.is_empty() {
                    self.problem(
                        format!("directory {ino}: {} extent(s) after a hole or unwritten block at file block {n}", dropped.len()),
                        Some("removed"),
                    );
                    for e in &dropped {
                        self.owned.set_range(e.disk_block, u64::from(e.len), false);
                    }
                    info.extents = keep;
                    info.dirty_tree = true;
                }
                let size = n * bs;
                if info.inode.size != size && n > 0 {
                    self.problem(
                        format!(
                            "directory {ino}: size {}, should be {size}",
                            info.inode.size
                        ),
                        Some("fixed"),
                    );
                    info.inode.size = size;
                    info.dirty_inode = true;
                }
            }
            FileType::Symlink if info.inode.flags & FLAG_INLINE == 0 => {
                let ok = matches!(info.extents.as_slice(), [e] if e.file_block == 0 && e.len == 1 && !e.unwritten);
                if !ok {
                    self.problem(
                        format!("symlink {ino}: target block is not mapped as file block 0"),
                        Some("inode cleared"),
                    );
                    for e in &info.extents {
                        self.owned.set_range(e.disk_block, u64::from(e.len), false);
                    }
                    for &b in info.tree.iter().chain(info.xattr_block.iter()) {
                        self.owned.set_range(b, 1, false);
                    }
                    info.extents.clear();
                    info.tree.clear();
                    info.ft = FileType::Fifo; // marker: removed below
                    info.inode.mode = 0;
                }
            }
            FileType::CharDevice | FileType::BlockDevice | FileType::Fifo | FileType::Socket => {
                if info.inode.size != 0 {
                    self.problem(format!("special file {ino}: size {}, should be 0", info.inode.size), Some("fixed"));
                    info.inode.size = 0;
                    info.dirty_inode = true;
                }
                if info.inode.data.iter().any(|&b| b != 0) {
                    self.problem(format!("special file {ino}: data area is not zero"), Some("zeroed"));
                    info.inode.data = [0; INODE_DATA_SIZE];
                    info.dirty_inode = true;
                }
            }
            _ => {}
        }
        let device = matches!(info.ft, FileType::CharDevice | FileType::BlockDevice);
        if info.inode.rdev != 0 && !device && info.inode.mode != 0 {
            self.problem(
                format!("inode {ino}: device number {:#x} on a file that is not a device", info.inode.rdev),
                Some("cleared"),
            );
            info.inode.rdev = 0;
            info.dirty_inode = true;
        }
    }

    /// Rewrites the trees of files whose map changed, and fixes block counts.
    pub(super) fn rewrite_trees(&mut self) -> io::Result<()> {
        // Drop files cleared by the type rules.
        let cleared: Vec<u32> = self
            .files
            .iter()
            .filter(|(_, f)| f.inode.mode == 0)
            .map(|(&i, _)| i)
            .collect();
        for ino in cleared {
            self.files.remove(&ino);
            self.fs.clear_inode(ino)?;
        }
        // Directories without blocks cannot be used (the root is recreated later).
        let empty_dirs: Vec<u32> = self
            .files
            .iter()
            .filter(|(_, f)| f.ft == FileType::Directory && f.extents.is_empty())
            .map(|(&i, _)| i)
            .collect();
        for ino in empty_dirs {
            self.problem(
                format!("directory {ino}: has no data blocks"),
                Some("inode cleared"),
            );
            if let Some(f) = self.files.remove(&ino) {
                for &b in f.tree.iter().chain(f.xattr_block.iter()) {
                    self.owned.set_range(b, 1, false);
                }
            }
            self.fs.clear_inode(ino)?;
        }
        let inos: Vec<u32> = self.files.keys().copied().collect();
        for ino in inos {
            let Some(mut f) = self.files.remove(&ino) else {
                continue;
            };
            if f.dirty_tree {
                match self
                    .fs
                    .write_tree(ino, &mut f.inode, &f.extents, &f.tree, &mut self.owned)
                {
                    Ok(tb) => {
                        f.tree = tb;
                        f.dirty_inode = true;
                    }
                    Err(e) => {
                        self.problem(
                            format!("inode {ino}: cannot rewrite extent tree: {e}"),
                            None,
                        );
                    }
                }
            }
            let xattr = u64::from(f.xattr_block.is_some());
            let blocks = mapped_blocks(&f.extents) + f.tree.len() as u64 + xattr;
            if f.inode.blocks != blocks && f.inode.has_extents() {
                self.problem(
                    format!(
                        "inode {ino}: block count {}, should be {blocks}",
                        f.inode.blocks
                    ),
                    Some("fixed"),
                );
                f.inode.blocks = blocks;
                f.dirty_inode = true;
            } else if !f.inode.has_extents() && f.inode.blocks != xattr {
                self.problem(
                    format!("inode {ino}: block count {}, should be {xattr}", f.inode.blocks),
                    Some("fixed"),
                );
                f.inode.blocks = xattr;
                f.dirty_inode = true;
            }
            if f.dirty_inode {
                self.fs.write_inode(ino, &f.inode)?;
                f.dirty_inode = false;
            }
            if let Some(ext) = f.new_ext.take() {
                self.fs.write_ext(ino, &ext)?;
            }
            f.dirty_tree = false;
            self.files.insert(ino, f);
        }
        if !self
            .files
            .get(&ROOT_INO)
            .is_some_and(|f| f.ft == FileType::Directory)
        {
            self.recreate_root()?;
        }
        Ok(())
    }

    /// The free inode with the lowest number (not in use, not marked).
    pub(super) fn free_ino(&self) -> Option<u32> {
        (1..self.fs.sb.inode_count).find(|i| !self.files.contains_key(i))
    }

    /// Region of the data area, for allocation.
    pub(super) fn data(&self) -> Region {
        self.fs.geo.data()
    }
}
