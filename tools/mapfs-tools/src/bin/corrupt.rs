//! `mapfs-corrupt IMAGE ...`: damages a mapfs image file on purpose, with
//! the structure-aware changes of [`mapfs_tools::corrupt`] (a field
//! changed, the structure's checksum recomputed), so that tests can check
//! what fsck and the kernel module make of it. Prints one line per change.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use mapfs_tools::corrupt::{self, Rng};
use mapfs_tools::dev::MemDev;

const HELP: &str = "\
Usage: mapfs-corrupt IMAGE --seed N [--changes K]
       mapfs-corrupt IMAGE --set-inode INO OFF WIDTH VALUE
       mapfs-corrupt IMAGE --set-sb OFF WIDTH VALUE
       mapfs-corrupt IMAGE --set-dir DIRINO FILEBLOCK OFF WIDTH VALUE
       mapfs-corrupt IMAGE --set-entry DIRINO NAME INO
       mapfs-corrupt IMAGE --block-bit BLOCK 0|1
       mapfs-corrupt IMAGE --inode-bit INO 0|1
       mapfs-corrupt IMAGE --extents INO

Damage the mapfs image file IMAGE (a regular file, changed in place) for
testing: each change sets one field of one structure and recomputes that
structure's checksum, so that it gets past the checksum test. One line
per change is printed.

  --seed N [--changes K]
                  K random changes (default 1) drawn from seed N: the same
                  seed on the same image makes the same changes (a seed of
                  the structured_corruption test names its change). Every
                  in-use inode and extent tree must read back correctly.
  --set-inode     set the little-endian field of WIDTH (1, 2, 4 or 8)
                  bytes at byte OFF of inode INO's slot to VALUE, recompute
                  the inode checksum (bytes 0..256) or, in a 512-byte slot,
                  the extended-attribute extension's (bytes 256..512)
  --set-sb        same in the first 1024 bytes of the superblock (the free
                  counts are not adjusted)
  --set-dir       same at byte OFF of file block FILEBLOCK of directory
                  DIRINO, recompute the directory block checksum
  --set-entry     make entry NAME of directory DIRINO name inode INO (0:
                  remove the entry), recompute the block checksum; the
                  inodes are not changed (a crash's half-written unlink,
                  create or link)
  --block-bit     set (1) or clear (0) disk block BLOCK's bit in the block
                  bitmap, recompute that bitmap block's checksum
  --inode-bit     same for inode INO's bit in the inode bitmap (the slot
                  is not changed)
  --extents       change nothing: print inode INO's extents, one per line
                  'file_block disk_block len unwritten(0|1)', then its
                  extent tree blocks, 'tree disk_block', then its xattr
                  block, 'xattr disk_block'
  -h, --help      print this help and exit

A field overlapping a checksum is written as given (the checksum is then
not recomputed). Numbers are decimal or 0x hexadecimal.

Exit status: 0 done, 1 error (the image is written only when every
change succeeded), 2 usage error.
";

/// What to do.
enum Action {
    Seed {
        seed: u64,
        changes: u64,
    },
    SetInode {
        ino: u32,
        off: usize,
        width: usize,
        value: u64,
    },
    SetSb {
        off: usize,
        width: usize,
        value: u64,
    },
    SetDir {
        dir: u32,
        fb: u64,
        off: usize,
        width: usize,
        value: u64,
    },
    BlockBit {
        block: u64,
        value: bool,
    },
    InodeBit {
        ino: u32,
        value: bool,
    },
    SetEntry {
        dir: u32,
        name: String,
        ino: u32,
    },
    Extents {
        ino: u32,
    },
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.iter().any(|a| a == "--help" || a == "-h") {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    let (image, action) = match parse(&argv) {
        Ok(p) => p,
        Err(e) => {
            eprint!("mapfs-corrupt: {e}\n\n{HELP}");
            return ExitCode::from(2);
        }
    };
    match run(&image, action) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mapfs-corrupt: {image}: {e}");
            ExitCode::from(1)
        }
    }
}

/// A number, decimal or `0x` hexadecimal.
fn num(what: &str, s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("{what}: '{s}' is not a number"))
}

fn num_as<T: TryFrom<u64>>(what: &str, s: &str) -> Result<T, String> {
    T::try_from(num(what, s)?).map_err(|_| format!("{what}: {s} is out of range"))
}

/// A bit value given on the command line: `0` or `1`.
fn bit(what: &str, s: &str) -> Result<bool, String> {
    match s {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(format!("{what}: '{s}' is not 0 or 1")),
    }
}

/// Checks a field given on the command line against the structure size
/// (where it is known without the image).
fn field(len: usize, v: &[String]) -> Result<(usize, usize, u64), String> {
    let off = num_as("OFF", &v[0])?;
    let width = num_as("WIDTH", &v[1])?;
    let value = num("VALUE", &v[2])?;
    corrupt::check_field(len, off, width, value)?;
    Ok((off, width, value))
}

/// The image and the action.
fn parse(argv: &[String]) -> Result<(String, Action), String> {
    let mut image = None;
    let mut action = None;
    let mut changes = None;
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        let nargs = match a.as_str() {
            "--seed" | "--changes" | "--extents" => 1,
            "--block-bit" | "--inode-bit" => 2,
            "--set-sb" | "--set-entry" => 3,
            "--set-inode" => 4,
            "--set-dir" => 5,
            "--" => {
                for p in it.by_ref() {
                    if image.replace(p.clone()).is_some() {
                        return Err("more than one image given".into());
                    }
                }
                break;
            }
            s if s.starts_with('-') && s != "-" => return Err(format!("unknown option '{s}'")),
            _ => {
                if image.replace(a.clone()).is_some() {
                    return Err("more than one image given".into());
                }
                continue;
            }
        };
        let v: Vec<String> = it.by_ref().take(nargs).cloned().collect();
        if v.len() < nargs {
            return Err(format!("{a} needs {nargs} value(s)"));
        }
        if a == "--changes" {
            if changes.replace(num("--changes", &v[0])?).is_some() {
                return Err("--changes given twice".into());
            }
            continue;
        }
        let act = match a.as_str() {
            "--seed" => Action::Seed {
                seed: num("--seed", &v[0])?,
                changes: 1,
            },
            "--extents" => Action::Extents {
                ino: num_as("INO", &v[0])?,
            },
            "--block-bit" => Action::BlockBit {
                block: num("BLOCK", &v[0])?,
                value: bit("--block-bit", &v[1])?,
            },
            "--inode-bit" => Action::InodeBit {
                ino: num_as("INO", &v[0])?,
                value: bit("--inode-bit", &v[1])?,
            },
            "--set-entry" => Action::SetEntry {
                dir: num_as("DIRINO", &v[0])?,
                name: v[1].clone(),
                ino: num_as("INO", &v[2])?,
            },
            "--set-sb" => {
                let (off, width, value) = field(1024, &v)?;
                Action::SetSb { off, width, value }
            }
            "--set-inode" => {
                let ino = num_as("INO", &v[0])?;
                // The slot size (256 or 512) is checked against the image.
                let (off, width, value) = field(mapfs_format::layout::XATTR_INODE_SIZE, &v[1..])?;
                Action::SetInode {
                    ino,
                    off,
                    width,
                    value,
                }
            }
            _ => {
                let dir = num_as("DIRINO", &v[0])?;
                let fb = num("FILEBLOCK", &v[1])?;
                // The block size is checked against the image.
                let (off, width, value) = field(usize::MAX, &v[2..])?;
                Action::SetDir {
                    dir,
                    fb,
                    off,
                    width,
                    value,
                }
            }
        };
        if action.replace(act).is_some() {
            return Err("more than one action given".into());
        }
    }
    let image = image.ok_or("no image given")?;
    let mut action = action.ok_or("no action given")?;
    if let Some(k) = changes {
        match &mut action {
            Action::Seed { changes, .. } => *changes = k,
            _ => return Err("--changes goes with --seed".into()),
        }
    }
    Ok((image, action))
}

/// Reads the image, applies `action`, writes the image back.
fn run(path: &str, action: Action) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let dev = MemDev {
        data: std::fs::read(path).map_err(|e| e.to_string())?,
    };
    let mut lines = Vec::new();
    let dev = match action {
        Action::Extents { ino } => {
            let (_, ext, tree) = corrupt::extents(dev, ino)?;
            for e in ext {
                lines.push(format!(
                    "{} {} {} {}",
                    e.file_block,
                    e.disk_block,
                    e.len,
                    u8::from(e.unwritten)
                ));
            }
            lines.extend(tree.iter().map(|b| format!("tree {b}")));
            let (_, x) = corrupt::xattr_block(MemDev { data: std::fs::read(path).map_err(|e| e.to_string())? }, ino)?;
            if x != 0 {
                lines.push(format!("xattr {x}"));
            }
            None
        }
        Action::Seed { seed, changes } => {
            let (mut dev, m) = corrupt::map(dev)?;
            let mut rng = Rng(seed);
            for _ in 0..changes {
                lines.push(corrupt::damage(&mut dev, &mut rng, &m)?);
            }
            Some(dev)
        }
        Action::SetInode {
            ino,
            off,
            width,
            value,
        } => {
            let (dev, l) = corrupt::set_inode_field(dev, ino, off, width, value)?;
            lines.push(l);
            Some(dev)
        }
        Action::SetSb { off, width, value } => {
            let mut dev = dev;
            lines.push(corrupt::set_sb_field(&mut dev, off, width, value)?);
            Some(dev)
        }
        Action::SetDir {
            dir,
            fb,
            off,
            width,
            value,
        } => {
            let (dev, l) = corrupt::set_dir_field(dev, dir, fb, off, width, value)?;
            lines.push(l);
            Some(dev)
        }
        Action::InodeBit { ino, value } => {
            let (dev, l) = corrupt::set_inode_bit(dev, ino, value)?;
            lines.push(l);
            Some(dev)
        }
        Action::SetEntry { dir, name, ino } => {
            let (dev, l) = corrupt::set_entry(dev, dir, name.as_bytes(), ino)?;
            lines.push(l);
            Some(dev)
        }
        Action::BlockBit { block, value } => {
            let (dev, l) = corrupt::set_block_bit(dev, block, value)?;
            lines.push(l);
            Some(dev)
        }
    };
    if let Some(dev) = dev {
        write_back(Path::new(path), &dev.data)?;
    }
    let mut out = std::io::stdout().lock();
    for l in &lines {
        writeln!(out, "{l}").map_err(|e| format!("stdout: {e}"))?;
    }
    Ok(())
}

/// Writes `data` over the start of the file at `path` (same size: the
/// file is not truncated) and syncs it.
fn write_back(path: &Path, data: &[u8]) -> Result<(), String> {
    let mut f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| e.to_string())?;
    f.write_all(data).map_err(|e| format!("write: {e}"))?;
    f.sync_all().map_err(|e| format!("sync: {e}"))
}
