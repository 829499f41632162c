//! fsck.mapfs: check and repair a filesystem.
//!
//! The checker always runs its repairs, but against an [`Overlay`] of the
//! device: a read-only check (`-n`, the default) discards them, a repair run
//! (`-y`, `-p`, `-a`) commits them at the end. Each problem is reported as
//! one line naming the object, followed in a repair run by what was done.
//!
//! Passes:
//! 1. superblock (restored from the backup superblock if it is unusable
//!    and a good backup exists); bitmap block checksums and padding; the
//!    backup superblock against the primary;
//! 2. every inode slot: checksum, fields, extent tree (structure,
//!    checksums, extent ranges and order), block ownership across files;
//!    then the orphan list: the inodes on it (unlinked while open) are
//!    freed, as the kernel frees them at mount;
//! 3. directory blocks: checksums, records, names, `.`/`..`, entries
//!    pointing at in-use inodes of the right type;
//! 4. connectivity: every directory reachable from the root exactly once,
//!    `..` correct, unreachable inodes moved to `/lost+found`;
//! 5. link counts, bitmaps against reality, superblock free counts.

mod backup;
mod dirs;
mod finish;
mod orphans;
mod scan;

use std::collections::{BTreeMap, HashMap};
use std::io;

use mapfs_format::extent::Extent;
use mapfs_format::inode::{FileType, Inode};

use crate::dev::{Device, FileDev, Overlay};
use crate::fs::{BitmapAlloc, Fs};
use crate::mount::MountEntry;

/// Exit code: no errors.
pub const EXIT_OK: i32 = 0;
/// Exit code: errors were corrected.
pub const EXIT_CORRECTED: i32 = 1;
/// Exit code: errors left uncorrected.
pub const EXIT_UNCORRECTED: i32 = 4;
/// Exit code: operational error.
pub const EXIT_OPERATIONAL: i32 = 8;
/// Exit code: usage or syntax error.
pub const EXIT_USAGE: i32 = 16;

/// fsck options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FsckOptions {
    /// Repair (`-y`, `-p`, `-a`); otherwise only report (`-n`).
    pub repair: bool,
    /// Check even if the filesystem is marked clean.
    pub force: bool,
    /// Print progress.
    pub verbose: bool,
    /// Where to look for the backup superblock if the primary is unusable
    /// (`-b`): a block number in filesystem blocks, tried at each block
    /// size. `None`: where the primary says, or the last block of the
    /// device.
    pub backup: Option<u64>,
}

/// Result of a check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FsckResult {
    /// fsck(8) exit code.
    pub exit: i32,
    /// Lines printed (problems, progress, summary).
    pub lines: Vec<String>,
    /// Number of problems found.
    pub problems: usize,
    /// Number of problems not fixed.
    pub unfixed: usize,
    /// Warnings for standard error; they do not change the exit code.
    pub warnings: Vec<String>,
}

/// What fsck knows about an in-use inode.
#[derive(Clone, Debug)]
pub(crate) struct FileInfo {
    pub(crate) inode: Inode,
    pub(crate) ft: FileType,
    /// Extents kept (valid, owned only by this file).
    pub(crate) extents: Vec<Extent>,
    /// Extent tree blocks kept.
    pub(crate) tree: Vec<u64>,
    /// The tree must be rewritten from `extents`.
    pub(crate) dirty_tree: bool,
    /// The xattr block kept (owned by this file only).
    pub(crate) xattr_block: Option<u64>,
    /// The extension (extended attributes) must be rewritten with this.
    pub(crate) new_ext: Option<mapfs_format::xattr::InodeExt>,
    /// The inode must be rewritten.
    pub(crate) dirty_inode: bool,
}

/// A directory entry naming a subdirectory.
#[derive(Clone, Debug)]
pub(crate) struct SubdirRef {
    pub(crate) child: u32,
    pub(crate) block: u64,
    pub(crate) offset: usize,
    pub(crate) name: String,
}

pub(crate) struct Checker<D: Device> {
    pub(crate) fs: Fs<Overlay<D>>,
    pub(crate) opts: FsckOptions,
    pub(crate) out: Vec<String>,
    pub(crate) problems: usize,
    pub(crate) unfixed: usize,
    pub(crate) sb_dirty: bool,
    /// Bitmaps as found on disk.
    pub(crate) disk_inodes: BitmapAlloc,
    pub(crate) disk_blocks: BitmapAlloc,
    /// Bitmap blocks whose checksum or padding is wrong.
    pub(crate) bitmap_damaged: bool,
    /// Bits of the loaded bitmaps were changed to match a repair (orphans
    /// freed): pass 5 rewrites the bitmap blocks that differ.
    pub(crate) bitmaps_stale: bool,
    /// Blocks in use: metadata plus everything files own.
    pub(crate) owned: BitmapAlloc,
    /// In-use inodes.
    pub(crate) files: BTreeMap<u32, FileInfo>,
    /// Directory entries referring to each non-directory inode.
    pub(crate) refs: HashMap<u32, u32>,
    /// Subdirectory entries of each directory.
    pub(crate) subdirs: BTreeMap<u32, Vec<SubdirRef>>,
    /// `..` of each directory: (target, disk block, offset).
    pub(crate) dotdot: HashMap<u32, (u32, u64, usize)>,
    /// Parent of each reachable directory.
    pub(crate) parent: HashMap<u32, u32>,
    /// `/lost+found`, once found or created.
    pub(crate) lost_found: Option<u32>,
    /// The inode bitmap as it should be (set by pass 5).
    pub(crate) final_inodes: Option<BitmapAlloc>,
    /// The backup superblock's block, if the filesystem has one.
    pub(crate) backup_block: Option<u64>,
    /// The backup superblock must be rewritten from the primary.
    pub(crate) backup_dirty: bool,
    /// The superblock was restored from the backup: its free counts are
    /// the backup's stale ones, recomputed without a report.
    pub(crate) counts_stale: bool,
}

impl<D: Device> Checker<D> {
    /// Records a problem. `action` says what the repair does; `None` means
    /// it cannot be fixed.
    pub(crate) fn problem(&mut self, msg: impl Into<String>, action: Option<&str>) {
        let msg = msg.into();
        self.problems += 1;
        let line = match (action, self.opts.repair) {
            (Some(a), true) => format!("{msg}: {a}"),
            (Some(_), false) => msg,
            (None, _) => {
                self.unfixed += 1;
                format!("{msg} (cannot be fixed)")
            }
        };
        self.out.push(line);
    }

    /// Records a problem whose report says what is to be done in a check
    /// (`msg: pending`) and what was done in a repair (`msg: done`).
    pub(crate) fn problem_pending(&mut self, msg: impl Into<String>, pending: &str, done: &str) {
        let msg = msg.into();
        self.problems += 1;
        let tail = if self.opts.repair { done } else { pending };
        self.out.push(format!("{msg}: {tail}"));
    }

    pub(crate) fn verbose(&mut self, msg: impl Into<String>) {
        if self.opts.verbose {
            self.out.push(msg.into());
        }
    }

    pub(crate) fn bs(&self) -> u64 {
        self.fs.bs as u64
    }
}

/// Checks (and with `opts.repair`, repairs) the filesystem on `dev`.
/// I/O errors are returned as errors (exit code 8); everything else is a
/// result with its exit code.
pub fn fsck<D: Device>(dev: D, opts: FsckOptions) -> io::Result<(FsckResult, D)> {
    let mut overlay = Overlay::new(dev);
    let (mut res, fs, restored) = match scan::open(&mut overlay, opts)? {
        scan::Opened::Done(res) => return Ok((res, overlay.into_inner())),
        scan::Opened::Fs(res, sb, geo, restored) => {
            (res, Fs::with_superblock(overlay, *sb, geo), restored)
        }
    };
    let mut c = Checker {
        disk_inodes: BitmapAlloc::new(0),
        disk_blocks: BitmapAlloc::new(0),
        owned: BitmapAlloc::new(fs.geo.block_count),
        fs,
        opts,
        out: std::mem::take(&mut res.lines),
        problems: res.problems,
        unfixed: res.unfixed,
        sb_dirty: res.problems > 0,
        bitmap_damaged: false,
        bitmaps_stale: false,
        files: BTreeMap::new(),
        refs: HashMap::new(),
        subdirs: BTreeMap::new(),
        dotdot: HashMap::new(),
        parent: HashMap::new(),
        lost_found: None,
        final_inodes: None,
        backup_block: None,
        backup_dirty: false,
        counts_stale: restored,
    };
    c.check_bitmaps()?;
    c.check_backup_sb()?;
    c.scan_inodes()?;
    c.check_orphans()?;
    c.rewrite_trees()?;
    c.check_dirs()?;
    c.check_connectivity()?;
    c.check_link_counts()?;
    c.check_bitmaps_against_use()?;
    c.check_superblock_counts()?;
    c.write_backup_sb()?;
    let res = FsckResult {
        exit: 0,
        lines: std::mem::take(&mut c.out),
        problems: c.problems,
        unfixed: c.unfixed,
        warnings: std::mem::take(&mut res.warnings),
    };
    let mut overlay = c.fs.dev;
    let mut res = res;
    if opts.repair && overlay.is_dirty() {
        overlay.commit()?;
    }
    res.exit = if res.problems == 0 {
        EXIT_OK
    } else if opts.repair && res.unfixed == 0 {
        EXIT_CORRECTED
    } else {
        EXIT_UNCORRECTED
    };
    Ok((res, overlay.into_inner()))
}

/// What to do about a target mounted at `mount` (from
/// [`crate::mount::mounted`]): a repair run is refused with exit 8, as
/// e2fsck does, since the kernel's cached metadata and fsck's writes would
/// overwrite each other; a check (`-n`) goes ahead with a warning, as
/// the filesystem may change under it. Returns the warning, if any, or
/// the refusal.
pub fn mount_check(
    target: &str,
    opts: FsckOptions,
    mount: Option<&MountEntry>,
) -> Result<Option<String>, FsckResult> {
    let Some(m) = mount else {
        return Ok(None);
    };
    let mp = &m.mount_point;
    if opts.repair {
        return Err(FsckResult {
            exit: EXIT_OPERATIONAL,
            lines: vec![format!(
                "fsck.mapfs: {target} is mounted on {mp}; cannot repair a mounted filesystem (unmount it first, or check it without changes with -n)"
            )],
            ..FsckResult::default()
        });
    }
    Ok(Some(if m.read_only {
        format!("fsck.mapfs: warning: {target} is mounted read-only on {mp}; checking it without changes")
    } else {
        format!("fsck.mapfs: warning: {target} is mounted on {mp}; it may change during the check, which can then report problems that are not there")
    }))
}

/// Runs fsck on a path and returns the result (I/O errors become exit 8).
/// A mounted block device is handled by [`mount_check`].
pub fn run_path(target: &str, opts: FsckOptions) -> FsckResult {
    // If the table cannot be read, a repair run still opens the device
    // with O_EXCL, which fails if it is mounted.
    let mount = crate::mount::mounted(std::path::Path::new(target))
        .ok()
        .flatten();
    run_path_mounted(target, opts, mount.as_ref())
}

/// [`run_path`] with the mount-table lookup given (`None`: not mounted).
pub fn run_path_mounted(target: &str, opts: FsckOptions, mount: Option<&MountEntry>) -> FsckResult {
    let warning = match mount_check(target, opts, mount) {
        Ok(w) => w,
        Err(refused) => return refused,
    };
    let mut res = run_unmounted(target, opts);
    res.warnings.extend(warning);
    res
}

fn run_unmounted(target: &str, opts: FsckOptions) -> FsckResult {
    let path = std::path::Path::new(target);
    let dev = match FileDev::open(path, opts.repair) {
        Ok(d) => d,
        Err(e) => {
            return FsckResult {
                exit: EXIT_OPERATIONAL,
                lines: vec![format!("fsck.mapfs: cannot open {target}: {e}")],
                ..FsckResult::default()
            }
        }
    };
    match fsck(dev, opts) {
        Ok((mut res, _)) => {
            let summary = match res.exit {
                EXIT_OK => format!("{target}: no problems found"),
                EXIT_CORRECTED => {
                    format!("{target}: {} problem(s) found and corrected", res.problems)
                }
                _ if opts.repair => format!(
                    "{target}: {} problem(s) found, {} could not be corrected",
                    res.problems, res.unfixed
                ),
                _ => format!(
                    "{target}: {} problem(s) found, not corrected (run with -y to repair)",
                    res.problems
                ),
            };
            match res.lines.last_mut() {
                Some(l) if l.starts_with("clean, ") => *l = format!("{target}: {l}"),
                _ => res.lines.push(summary),
            }
            res
        }
        Err(e) => FsckResult {
            exit: EXIT_OPERATIONAL,
            lines: vec![format!("fsck.mapfs: {target}: I/O error: {e}")],
            ..FsckResult::default()
        },
    }
}
