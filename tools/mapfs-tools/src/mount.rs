//! Whether a block device is mounted: mkfs refuses a mounted device and
//! fsck refuses to repair one, because the kernel keeps its own cached
//! copy of the metadata and would overwrite (or be corrupted by) what the
//! tool writes.
//!
//! The mount table is the kernel's own, `/proc/self/mountinfo`, which
//! gives each mount's device number, or `/proc/self/mounts` where there is
//! no mountinfo. A mount matches a device by number, or by its source when
//! that is a device path with the same number (btrfs, for one, reports an
//! anonymous device number in mountinfo). Only block devices are looked
//! up: an image file mounted through a loop device is not detected here.
//! Opening the device with `O_EXCL` (see [`crate::dev::FileDev::open`])
//! backs this up for claims the table does not show.

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// One mount of the mount table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountEntry {
    /// Device number of the mounted filesystem (`st_dev` of its files);
    /// `None` when the table does not give it (`/proc/self/mounts`).
    pub dev: Option<u64>,
    /// What is mounted: a device path such as `/dev/sda1`, or a name such
    /// as `tmpfs`.
    pub source: String,
    /// Where it is mounted.
    pub mount_point: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// The device number for `major:minor`, encoded as `st_rdev` and `st_dev`
/// are (glibc's `makedev`), so table entries compare with `stat` results.
pub fn makedev(major: u32, minor: u32) -> u64 {
    let (major, minor) = (u64::from(major), u64::from(minor));
    ((major & 0xffff_f000) << 32)
        | ((major & 0x0000_0fff) << 8)
        | ((minor & 0xffff_ff00) << 12)
        | (minor & 0x0000_00ff)
}

/// Undoes the octal escapes the kernel writes for space, tab, newline and
/// backslash in paths (`\040`, `\011`, `\012`, `\134`).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match oct.and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok()) {
            Some(c) => {
                out.push(c);
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_read_only(options: &str) -> bool {
    options.split(',').any(|o| o == "ro")
}

/// One line of mountinfo (see proc(5)): `id parent major:minor root
/// mount_point options [optional fields...] - fstype source super_options`.
fn parse_mountinfo_line(line: &str) -> Option<MountEntry> {
    let mut f = line.split_whitespace();
    let (major, minor) = f.nth(2)?.split_once(':')?;
    let dev = makedev(major.parse().ok()?, minor.parse().ok()?);
    let mount_point = unescape(f.nth(1)?);
    let options = f.next()?;
    f.find(|&x| x == "-")?;
    let _fstype = f.next()?;
    let source = unescape(f.next()?);
    Some(MountEntry {
        dev: Some(dev),
        source,
        mount_point,
        read_only: is_read_only(options),
    })
}

/// Parses `/proc/self/mountinfo`; malformed lines are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines().filter_map(parse_mountinfo_line).collect()
}

/// Parses `/proc/self/mounts` (`source mount_point fstype options dump
/// pass`); malformed lines are skipped.
pub fn parse_mounts(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let source = unescape(f.next()?);
            let mount_point = unescape(f.next()?);
            let options = f.nth(1)?;
            Some(MountEntry {
                dev: None,
                source,
                mount_point,
                read_only: is_read_only(options),
            })
        })
        .collect()
}

/// The mount of the block device numbered `rdev` in `table`, if any.
/// `source_rdev` gives the device number of a source that is a device
/// path (a `stat` in real use; a table in tests); it is asked only about
/// sources under `/dev/` whose mount did not match by number.
pub fn find_mount<'a>(
    table: &'a [MountEntry],
    rdev: u64,
    source_rdev: impl Fn(&str) -> Option<u64>,
) -> Option<&'a MountEntry> {
    table.iter().find(|m| {
        m.dev == Some(rdev)
            || (m.source.starts_with("/dev/") && source_rdev(&m.source) == Some(rdev))
    })
}

/// Reads this process's mount table.
pub fn mount_table() -> io::Result<Vec<MountEntry>> {
    match std::fs::read_to_string("/proc/self/mountinfo") {
        Ok(t) => Ok(parse_mountinfo(&t)),
        Err(_) => Ok(parse_mounts(&std::fs::read_to_string("/proc/self/mounts")?)),
    }
}

/// The device number of `path` if it is a block device (symbolic links
/// followed), `None` for anything else.
pub fn block_device(path: &Path) -> io::Result<Option<u64>> {
    let m = std::fs::metadata(path)?;
    Ok(m.file_type().is_block_device().then(|| m.rdev()))
}

/// Where the block device at `path` is mounted, or `None` when it is not
/// mounted or `path` is not a block device.
pub fn mounted(path: &Path) -> io::Result<Option<MountEntry>> {
    let Some(rdev) = block_device(path)? else {
        return Ok(None);
    };
    let table = mount_table()?;
    Ok(find_mount(&table, rdev, |s| block_device(Path::new(s)).ok().flatten()).cloned())
}
