//! mkfs.mapfs: create a filesystem.

use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use mapfs_format::layout::{
    Geometry, INODE_SIZE, XATTR_INODE_SIZE, LOST_FOUND_INO, MAX_BLOCK_COUNT, MIN_BLOCK_COUNT, MIN_DATA_BLOCKS,
    MIN_INODE_COUNT,
};
use mapfs_format::super_block::{backup_sb_block, Superblock, COMPAT_BACKUP_SB, LABEL_SIZE};

use crate::builder::Builder;
use crate::dev::{Device, FileDev};
use crate::fs::{BitmapAlloc, Fs, FsError};
use crate::mount::MountEntry;

/// mkfs parameters.
#[derive(Clone, Debug, Default)]
pub struct MkfsOptions {
    /// Block size in bytes (`None`: 4096, or 1024 when the filesystem is
    /// smaller than 16 MiB).
    pub block_size: Option<u32>,
    /// Filesystem size in bytes (`None`: the whole device); rounded down to
    /// a whole number of blocks, must not exceed the device. The rest of
    /// the device is left untouched.
    pub size: Option<u64>,
    /// Volume label.
    pub label: Option<String>,
    /// Number of usable inodes (`None`: one per 16 KiB of device); rounded
    /// up to fill the last inode-table block.
    pub inodes: Option<u64>,
    /// UUID (`None`: random).
    pub uuid: Option<[u8; 16]>,
    /// Bytes per inode: 512 (`None`, the default: with extended
    /// attributes, feature `INCOMPAT_XATTR`) or 256 (without).
    pub inode_size: Option<u32>,
    /// Creation time (`None`: now).
    pub time: Option<i64>,
}

/// Bytes per inode for the default inode count.
pub const BYTES_PER_INODE: u64 = 16 * 1024;
/// Default minimum inode count.
pub const DEFAULT_MIN_INODES: u64 = 64;

/// Parses a UUID: 32 hex digits, dashes anywhere ignored.
pub fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = s.bytes().filter(|&c| c != b'-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// Parses a size: a byte count, optionally followed by `K`, `M`, `G` or
/// `T` (binary multiples, either case). `None` if malformed or too large.
pub fn parse_size(s: &str) -> Option<u64> {
    let (digits, shift) = match s.as_bytes().last()?.to_ascii_uppercase() {
        b'K' => (&s[..s.len() - 1], 10),
        b'M' => (&s[..s.len() - 1], 20),
        b'G' => (&s[..s.len() - 1], 30),
        b'T' => (&s[..s.len() - 1], 40),
        _ => (s, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// Formats a UUID as 8-4-4-4-12 hex.
pub fn format_uuid(u: &[u8; 16]) -> String {
    let h: Vec<String> = u.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        h[..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..].concat()
    )
}

/// A random version-4 UUID from the OS.
pub fn random_uuid() -> io::Result<[u8; 16]> {
    use std::io::Read;
    let mut u = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut u)?;
    u[6] = (u[6] & 0x0F) | 0x40;
    u[8] = (u[8] & 0x3F) | 0x80;
    Ok(u)
}

/// Chooses the geometry for a device of `dev_size` bytes (the filesystem
/// takes all of it, or `opts.size` bytes of it).
pub fn plan(dev_size: u64, opts: &MkfsOptions) -> Result<Geometry, String> {
    // What the size errors call the space the filesystem gets.
    let (size, what) = match opts.size {
        None => (dev_size, "device"),
        Some(s) if s > dev_size => {
            return Err(format!(
                "requested size {s} bytes ({}) is larger than the device ({dev_size} bytes, {})",
                human(s),
                human(dev_size)
            ))
        }
        Some(s) => (s, "requested size"),
    };
    let bs = opts
        .block_size
        .unwrap_or(if size < 16 << 20 { 1024 } else { 4096 });
    let log = match bs {
        1024 => 10,
        2048 => 11,
        4096 => 12,
        _ => {
            return Err(format!(
                "invalid block size {bs} (must be 1024, 2048 or 4096)"
            ))
        }
    };
    let blocks = (size / u64::from(bs)).min(MAX_BLOCK_COUNT);
    if blocks < MIN_BLOCK_COUNT {
        return Err(format!(
            "{what} too small: {size} bytes is {blocks} blocks of {bs} bytes; mapfs needs at least {MIN_BLOCK_COUNT} blocks ({} bytes)",
            MIN_BLOCK_COUNT * u64::from(bs)
        ));
    }
    let isz = opts.inode_size.unwrap_or(XATTR_INODE_SIZE as u32);
    if isz != INODE_SIZE as u32 && isz != XATTR_INODE_SIZE as u32 {
        return Err(format!("invalid inode size {isz} (must be {INODE_SIZE} or {XATTR_INODE_SIZE})"));
    }
    let per_block = u64::from(bs) / u64::from(isz);
    let want = match opts.inodes {
        // Slot 0 is reserved: N usable inodes need N + 1 slots.
        Some(n) => n.saturating_add(1),
        None => (blocks * u64::from(bs) / BYTES_PER_INODE).max(DEFAULT_MIN_INODES),
    };
    if want < u64::from(MIN_INODE_COUNT) {
        return Err(format!(
            "too few inodes: {} (minimum {})",
            want - 1,
            MIN_INODE_COUNT - 1
        ));
    }
    // Fill the last inode-table block.
    let inodes = want.div_ceil(per_block) * per_block;
    let inodes = u32::try_from(inodes)
        .map_err(|_| format!("too many inodes: {want} (maximum {})", u32::MAX))?;
    let inodes = if opts.inodes.is_none() {
        // Do not let the default inode table crowd out a tiny device.
        let max_default = (blocks / 4).max(1) * per_block;
        inodes
            .min(u32::try_from(max_default).unwrap_or(u32::MAX))
            .max(MIN_INODE_COUNT)
    } else {
        inodes
    };
    let too_small = |needed: u64, have: u64| {
        format!(
            "{what} too small: {inodes} inodes and {blocks} blocks of {bs} bytes need at least {needed} blocks, the {} has {have}",
            if opts.size.is_some() { "filesystem" } else { "device" }
        )
    };
    let g = Geometry::compute_sized(log, blocks, inodes, isz).map_err(|e| match e {
        mapfs_format::layout::LayoutError::TooSmall { needed, have } => too_small(needed, have),
        e => e.to_string(),
    })?;
    // The backup superblock takes the last data block: the root directory
    // and lost+found need two more.
    let needed = g.data_start + MIN_DATA_BLOCKS + BACKUP_SB_BLOCKS;
    if needed > g.block_count {
        return Err(too_small(needed, g.block_count));
    }
    Ok(g)
}

/// Data blocks the backup superblock takes (the last block).
pub const BACKUP_SB_BLOCKS: u64 = 1;

/// Zeroes `len` blocks at `start`, skipping chunks that already read as
/// zeros (a fresh sparse image costs nothing).
fn zero_blocks<D: Device>(dev: &mut D, bs: u64, start: u64, len: u64) -> io::Result<()> {
    const CHUNK: u64 = 1 << 20;
    let mut off = start * bs;
    let end = (start + len) * bs;
    let mut buf = vec![0u8; CHUNK as usize];
    let zeros = vec![0u8; CHUNK as usize];
    while off < end {
        let n = (end - off).min(CHUNK) as usize;
        dev.read_at(off, &mut buf[..n])?;
        if buf[..n].iter().any(|&b| b != 0) {
            dev.write_at(off, &zeros[..n])?;
        }
        off += n as u64;
    }
    Ok(())
}

/// Creates a filesystem on `dev`: superblock, bitmaps, zeroed inode table,
/// root directory (mode 0755), `/lost+found` (mode 0700) and the backup
/// superblock in the last block. Returns the superblock written.
pub fn mkfs<D: Device>(mut dev: D, opts: &MkfsOptions) -> Result<(D, Superblock), FsError> {
    let g = plan(dev.size(), opts).map_err(FsError::Other)?;
    let uuid = match opts.uuid {
        Some(u) => u,
        None => random_uuid()?,
    };
    let mut label = [0u8; LABEL_SIZE];
    if let Some(l) = &opts.label {
        if l.len() > LABEL_SIZE {
            return Err(FsError::Other(format!(
                "label '{l}' is longer than {LABEL_SIZE} bytes"
            )));
        }
        label[..l.len()].copy_from_slice(l.as_bytes());
    }
    let now = opts.time.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    });
    let mut sb = Superblock::new(&g, uuid, label, now);
    sb.feature_compat |= COMPAT_BACKUP_SB;
    let backup = backup_sb_block(&sb).ok_or(FsError::Other("no backup superblock block".into()))?;
    sb.free_blocks = sb.free_blocks.saturating_sub(BACKUP_SB_BLOCKS);
    let bs = u64::from(g.block_size());
    zero_blocks(&mut dev, bs, g.inode_table.start, g.inode_table.len)?;
    // Invalidate any old superblock and backup first, write them last.
    // All of block 0: past the superblock's 1024 bytes lies, for instance,
    // an old ext2/3/4 superblock (magic at byte 1080), which blkid and
    // `mount -t auto` would still find.
    dev.write_at(0, &vec![0u8; bs as usize])?;
    dev.write_at(backup * bs, &vec![0u8; bs as usize])?;
    let mut fs = Fs::with_superblock(dev, sb, g);
    let mut inodes = BitmapAlloc::new(u64::from(g.inode_count));
    inodes.set_range(0, 1, true);
    let mut blocks = BitmapAlloc::new(g.block_count);
    blocks.set_range(0, g.data_start, true);
    // The backup superblock's block is never given to a file.
    blocks.set_range(backup, 1, true);
    fs.write_bitmap(&inodes, g.inode_bitmap)?;
    fs.write_bitmap(&blocks, g.block_bitmap)?;
    fs.write_sb()?;
    let mut b = Builder::open(fs.dev)?;
    b.now = now;
    b.make_root(0o755)?;
    let lf = b.mkdir(mapfs_format::layout::ROOT_INO, "lost+found", 0o700)?;
    if lf != LOST_FOUND_INO {
        return Err(FsError::Other(format!("lost+found got inode {lf}")));
    }
    let dev = b.commit()?;
    // The backup: the same bytes as the final primary superblock.
    let mut fs = Fs::open(dev)?;
    fs.write_backup_sb()?;
    fs.dev.sync()?;
    Ok((fs.dev, fs.sb))
}

/// Human-readable size.
pub fn human(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes;
    let mut u = 0;
    while v >= 1024 * 10 && u + 1 < units.len() {
        v /= 1024;
        u += 1;
    }
    format!("{v} {}", units[u])
}

/// The summary mkfs prints.
pub fn summary(target: &str, sb: &Superblock) -> String {
    let bs = u64::from(sb.block_size());
    let label = String::from_utf8_lossy(sb.label_bytes()).into_owned();
    let r = |start: u64, len: u64| {
        if len == 0 {
            "-".to_string()
        } else {
            format!("{}-{}", start, start + len - 1)
        }
    };
    format!(
        "mkfs.mapfs: created mapfs on {target}\n\
         \x20 block size:   {bs} bytes\n\
         \x20 blocks:       {} ({}), {} free\n\
         \x20 inodes:       {} ({} bytes each), {} free\n\
         \x20 UUID:         {}\n\
         \x20 label:        {}\n\
         \x20 layout:       superblock 0, inode bitmap {}, block bitmap {}, inode table {}, data {}{}\n",
        sb.block_count,
        human(sb.block_count * bs),
        sb.free_blocks,
        sb.inode_count - 1,
        sb.inode_size,
        sb.free_inodes,
        format_uuid(&sb.uuid),
        if label.is_empty() { "(none)".to_string() } else { label },
        r(sb.inode_bitmap.start, sb.inode_bitmap.len),
        r(sb.block_bitmap.start, sb.block_bitmap.len),
        r(sb.inode_table.start, sb.inode_table.len),
        r(sb.data_start, sb.block_count - sb.data_start),
        match backup_sb_block(sb) {
            Some(b) => format!(", backup superblock {b}"),
            None => String::new(),
        },
    )
}

/// What [`run`] needs beyond the options.
#[derive(Clone, Debug, Default)]
pub struct MkfsArgs {
    /// Filesystem options.
    pub opts: MkfsOptions,
    /// Overwrite existing signatures.
    pub force: bool,
    /// Print nothing.
    pub quiet: bool,
    /// Device or image path.
    pub target: String,
}

/// Refuses a target that is mounted (`mount`: where, from
/// [`crate::mount::mounted`]). `-f` does not override this: writing under
/// a mounted filesystem destroys it and what the kernel writes back
/// destroys the new one.
pub fn check_not_mounted(target: &str, mount: Option<&MountEntry>) -> Result<(), String> {
    match mount {
        Some(m) => Err(format!(
            "{target} is mounted on {}; refusing to make a filesystem on it (unmount it first)",
            m.mount_point
        )),
        None => Ok(()),
    }
}

/// Runs mkfs on a path; returns the text to print or an error message.
pub fn run(args: &MkfsArgs) -> Result<String, String> {
    let path = std::path::Path::new(&args.target);
    // A table that cannot be read is no reason to stop: opening the
    // device with O_EXCL still fails if it is mounted.
    if let Ok(m) = crate::mount::mounted(path) {
        check_not_mounted(&args.target, m.as_ref())?;
    }
    let mut dev =
        FileDev::open(path, true).map_err(|e| format!("cannot open {}: {e}", args.target))?;
    let mut head = vec![0u8; crate::probe::PROBE_BYTES.min(dev.size() as usize)];
    dev.read_at(0, &mut head)
        .map_err(|e| format!("cannot read {}: {e}", args.target))?;
    if let Some(what) = crate::probe::probe(&head) {
        if !args.force {
            return Err(format!(
                "{} contains {what}; refusing to overwrite it (use -f to force)",
                args.target
            ));
        }
    }
    let (_, sb) = mkfs(dev, &args.opts).map_err(|e| format!("{}: {e}", args.target))?;
    Ok(if args.quiet {
        String::new()
    } else {
        summary(&args.target, &sb)
    })
}
