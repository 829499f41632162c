//! mkfs.mapfs: create a mapfs filesystem.

use std::process::ExitCode;

use mapfs_tools::cli::{self, Arg};
use mapfs_tools::mkfs::{self, MkfsArgs};

const HELP: &str = "\
Usage: mkfs.mapfs [options] TARGET

Create a mapfs filesystem on TARGET, a block device or an image file
(the whole device or file is used unless -s is given).

Options:
  -b SIZE     block size in bytes: 1024, 2048 or 4096
              (default 4096; 1024 for filesystems smaller than 16 MiB)
  -s SIZE     filesystem size in bytes, or with a K, M, G or T suffix
              (binary: 1K = 1024); rounded down to whole blocks, at most
              the size of TARGET (default: all of TARGET). The rest of
              TARGET is left untouched; an image file keeps its size.
  -L LABEL    volume label, at most 32 bytes
  -I SIZE     inode size in bytes: 512 (default; inodes with extended
              attributes and POSIX ACLs) or 256 (no extended attributes:
              the format before they existed)
  -N COUNT    number of inodes (default: one per 16 KiB, at least 64;
              rounded up to fill the last inode-table block)
  -U UUID     filesystem UUID (32 hex digits, dashes allowed; default random)
  -f          overwrite an existing filesystem or other signature
  -q          quiet: print nothing on success
  -V          print the version and exit
  -h, --help  print this help and exit

mkfs.mapfs refuses to overwrite a device holding a known signature (mapfs,
XFS, ext2/3/4, btrfs, swap, LUKS, LVM, FAT, NTFS, partition tables, ...)
unless -f is given. It always refuses a block device that is mounted or
otherwise in use (it opens block devices with O_EXCL).

Exit status: 0 on success, 1 on any error.
";

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let fail = |msg: String| {
        eprintln!("mkfs.mapfs: {msg}");
        ExitCode::from(1)
    };
    let parsed = match cli::parse(&argv, "bILNsU") {
        Ok(p) => p,
        Err(e) => return fail(format!("{e}\nTry 'mkfs.mapfs --help'.")),
    };
    let mut a = MkfsArgs::default();
    let mut target = None;
    for arg in parsed {
        match arg {
            Arg::Help | Arg::Opt('h', None) => {
                print!("{HELP}");
                return ExitCode::SUCCESS;
            }
            Arg::Opt('V', None) => {
                println!("mkfs.mapfs {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            Arg::Opt('b', Some(v)) => match v.parse::<u32>() {
                Ok(b @ (1024 | 2048 | 4096)) => a.opts.block_size = Some(b),
                _ => {
                    return fail(format!(
                        "invalid block size '{v}' (must be 1024, 2048 or 4096)"
                    ))
                }
            },
            Arg::Opt('s', Some(v)) => match mkfs::parse_size(&v) {
                Some(n) => a.opts.size = Some(n),
                None => {
                    return fail(format!(
                        "invalid size '{v}' (a byte count, optionally followed by K, M, G or T)"
                    ))
                }
            },
            Arg::Opt('L', Some(v)) => {
                if v.len() > 32 {
                    return fail(format!("label '{v}' is longer than 32 bytes"));
                }
                a.opts.label = Some(v);
            }
            Arg::Opt('I', Some(v)) => match v.parse::<u32>() {
                Ok(n @ (256 | 512)) => a.opts.inode_size = Some(n),
                _ => return fail(format!("invalid inode size '{v}' (must be 256 or 512)")),
            },
            Arg::Opt('N', Some(v)) => match v.parse::<u64>() {
                Ok(n) => a.opts.inodes = Some(n),
                Err(_) => return fail(format!("invalid inode count '{v}'")),
            },
            Arg::Opt('U', Some(v)) => match mkfs::parse_uuid(&v) {
                Some(u) => a.opts.uuid = Some(u),
                None => return fail(format!("invalid UUID '{v}'")),
            },
            Arg::Opt('f', None) => a.force = true,
            Arg::Opt('q', None) => a.quiet = true,
            Arg::Opt(c, _) => {
                return fail(format!("unknown option '-{c}'\nTry 'mkfs.mapfs --help'."))
            }
            Arg::Pos(p) => {
                if target.replace(p).is_some() {
                    return fail("more than one target given\nTry 'mkfs.mapfs --help'.".into());
                }
            }
        }
    }
    let Some(t) = target else {
        return fail("no target device or image given\nTry 'mkfs.mapfs --help'.".into());
    };
    a.target = t;
    match mkfs::run(&a) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}
