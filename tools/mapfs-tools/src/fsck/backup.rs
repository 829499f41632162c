//! The backup superblock (compat feature `COMPAT_BACKUP_SB`): a copy of
//! the superblock that mkfs writes at the start of the last block of the
//! filesystem. It is authoritative only for the fields that never change
//! after mkfs (`StaticField`); the kernel does not update it.
//!
//! - Pass 1, primary superblock unusable: [`find`] looks for a good
//!   backup, which the caller puts in the primary's place.
//! - Pass 1, primary usable: [`Checker::check_backup_sb`] checks the
//!   backup against it, and marks its block as metadata for the block
//!   ownership check; [`Checker::write_backup_sb`] rewrites a damaged one
//!   from the final primary at the end of the run.

use std::io;

use mapfs_format::bitmap;
use mapfs_format::crc32c::fs_seed;
use mapfs_format::inode::Inode;
use mapfs_format::layout::{
    Geometry, MAX_LOG_BLOCK_SIZE, MIN_LOG_BLOCK_SIZE, SUPERBLOCK_SIZE,
};
use mapfs_format::super_block::{backup_sb_block, BackupError, SbError, Superblock};

use super::Checker;
use crate::dev::Device;

/// A usable backup superblock.
#[derive(Clone, Copy, Debug)]
pub(super) struct Found {
    /// Its block (in units of its own block size).
    pub(super) block: u64,
    /// The backup.
    pub(super) sb: Superblock,
    /// Its validated geometry.
    pub(super) geo: Geometry,
}

/// At most this many blocks of each bitmap and of the inode table are
/// read to tell whether a backup found by searching belongs to the
/// filesystem on the device.
const MATCH_BLOCKS: u64 = 64;

/// Whether the filesystem `sb` describes is the one on the device: a
/// bitmap block or an in-use inode verifies with its UUID (checksums
/// cover the UUID, and a bitmap block's its own block number). This keeps
/// a stale backup, left at the end of the device by an earlier filesystem
/// (a later `mkfs -s`, or another filesystem type), from being taken for
/// the backup of what the device holds now.
fn matches_device<D: Device>(dev: &mut D, sb: &Superblock, geo: &Geometry) -> io::Result<bool> {
    let seed = fs_seed(&sb.uuid);
    let bs = u64::from(geo.block_size());
    let mut buf = vec![0u8; bs as usize];
    let read = |dev: &mut D, b: u64, buf: &mut [u8]| -> io::Result<bool> {
        // Validation put every region inside the device; be careful anyway.
        match b.checked_mul(bs) {
            Some(off) if off.checked_add(bs).is_some_and(|e| e <= dev.size()) => {
                dev.read_at(off, buf)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    };
    for region in [geo.inode_bitmap, geo.block_bitmap] {
        for i in 0..region.len.min(MATCH_BLOCKS) {
            let b = region.start.saturating_add(i);
            if read(dev, b, &mut buf)? && bitmap::verify_block_csum(seed, b, &buf).is_ok() {
                return Ok(true);
            }
        }
    }
    let per = bs / geo.inode_size as u64;
    for i in 0..geo.inode_table.len.min(MATCH_BLOCKS) {
        if !read(dev, geo.inode_table.start.saturating_add(i), &mut buf)? {
            continue;
        }
        for (k, raw) in buf.chunks(geo.inode_bytes()).enumerate() {
            let ino = i.saturating_mul(per).saturating_add(k as u64);
            let Ok(ino) = u32::try_from(ino) else {
                continue;
            };
            if ino == 0 || ino >= sb.inode_count || raw.get(..2) == Some(&[0, 0]) {
                continue;
            }
            if matches!(Inode::checksums(raw, seed, ino), Ok((s, c)) if s == c) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Looks for a usable backup superblock on `dev`, whose first 1024 bytes
/// (the primary superblock) are `head`. The candidates, in order:
///
/// - where the (damaged) primary `hint` says its backup is, if it says
///   so;
/// - block `explicit` (from `-b`) at each block size, taken as it is;
/// - without `explicit`: the last whole block of the device at each block
///   size (a filesystem that fills its device, as mkfs makes it by
///   default).
///
/// A candidate is good if it decodes, validates against the device size,
/// has the backup feature, its block size is the one it was read with and
/// its filesystem's last block is where it was found
/// ([`Superblock::decode_backup`]). A candidate found by searching (not
/// given with `-b`) must also belong to the filesystem on the device
/// ([`matches_device`]), and is not used when the first 1024 bytes of the
/// device hold another known signature (the device was reused).
///
/// Returns the first good one, or why there is none.
pub(super) fn find<D: Device>(
    dev: &mut D,
    head: &[u8],
    hint: Option<&Superblock>,
    explicit: Option<u64>,
) -> io::Result<Result<Found, String>> {
    let size = dev.size();
    let logs = MIN_LOG_BLOCK_SIZE..=MAX_LOG_BLOCK_SIZE;
    // (block, log2 of the block size, given with -b)
    let mut cands: Vec<(u64, u32, bool)> = Vec::new();
    if let Some(b) = hint.and_then(backup_sb_block) {
        if let Some(h) = hint.filter(|h| logs.contains(&h.log_block_size)) {
            cands.push((b, h.log_block_size, false));
        }
    }
    match explicit {
        Some(b) => cands.extend(logs.clone().map(|l| (b, l, true))),
        None => cands.extend(
            logs.clone()
                .filter_map(|l| (size >> l).checked_sub(1).map(|b| (b, l, false))),
        ),
    }
    let foreign = crate::probe::probe(head.get(..SUPERBLOCK_SIZE).unwrap_or(head))
        .filter(|w| !w.contains("mapfs"));
    let mut seen = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    // Why block `explicit` is not a backup, for each block size where it
    // holds a mapfs superblock.
    let mut explicit_errors: Vec<String> = Vec::new();
    let mut buf = vec![0u8; SUPERBLOCK_SIZE];
    for (block, log, given) in cands {
        if seen.contains(&(block, log)) {
            continue;
        }
        seen.push((block, log));
        let Some(off) = block.checked_mul(1u64 << log).filter(|o| {
            o.checked_add(SUPERBLOCK_SIZE as u64)
                .is_some_and(|e| e <= size)
        }) else {
            continue;
        };
        dev.read_at(off, &mut buf)?;
        let (sb, geo) = match Superblock::decode_backup(&buf, block, log, size) {
            Ok(x) => x,
            Err(BackupError::Sb(SbError::BadMagic(_))) => continue,
            Err(e) => {
                if given {
                    explicit_errors.push(format!("with {}-byte blocks: {e}", 1u64 << log));
                }
                continue;
            }
        };
        if !given {
            if let Some(what) = foreign {
                refused.push(format!(
                    "a backup superblock at block {block} was not used: the start of the device holds {what}"
                ));
                continue;
            }
            if !matches_device(dev, &sb, &geo)? {
                refused.push(format!(
                    "a backup superblock at block {block} was not used: it does not belong to the filesystem on the device (no bitmap block or inode verifies with its UUID; give it with -b {block} to use it anyway)"
                ));
                continue;
            }
        }
        return Ok(Ok(Found { block, sb, geo }));
    }
    let mut why = match explicit {
        Some(b) if explicit_errors.is_empty() => {
            format!("no backup superblock at block {b} (given with -b)")
        }
        Some(b) => format!(
            "no usable backup superblock at block {b} (given with -b): {}",
            explicit_errors.join("; ")
        ),
        None => "no backup superblock found".to_string(),
    };
    for r in refused {
        why.push_str("; ");
        why.push_str(&r);
    }
    Ok(Err(why))
}

impl<D: Device> Checker<D> {
    /// Pass 1c: the backup superblock, if the filesystem has one. Its block
    /// is metadata for the ownership check (a file mapping it loses that
    /// extent, as for any block claimed twice); the backup must decode and
    /// agree with the primary on every static field, else it is rewritten
    /// from the primary at the end of the run.
    pub(super) fn check_backup_sb(&mut self) -> io::Result<()> {
        let Some(b) = backup_sb_block(&self.fs.sb) else {
            return Ok(());
        };
        self.backup_block = Some(b);
        self.owned.set_range(b, 1, true);
        let blk = self.fs.read_block(b)?;
        let why = match Superblock::decode(&blk) {
            Err(e) => Some(e.to_string()),
            Ok(backup) => self
                .fs
                .sb
                .static_difference(&backup)
                .map(|f| format!("its {f} differs from the primary superblock")),
        };
        if let Some(why) = why {
            self.problem(
                format!("backup superblock at block {b}: {why}"),
                Some("rewritten from the primary"),
            );
            self.backup_dirty = true;
        }
        Ok(())
    }

    /// Rewrites the backup superblock from the final primary if
    /// [`Self::check_backup_sb`] found it damaged.
    pub(super) fn write_backup_sb(&mut self) -> io::Result<()> {
        if self.backup_dirty {
            self.fs.write_backup_sb()?;
            self.backup_dirty = false;
        }
        Ok(())
    }
}
