//! fsck.mapfs: check and repair a mapfs filesystem.

use std::process::ExitCode;

use mapfs_tools::cli::{self, Arg};
use mapfs_tools::fsck::{self, FsckOptions, EXIT_USAGE};

const HELP: &str = "\
Usage: fsck.mapfs [-n|-p|-a|-y] [-f] [-v] [-b BLOCK] TARGET

Check a mapfs filesystem on TARGET (a block device or image file), and
optionally repair it. A mounted filesystem is not repaired (exit 8); it
can be checked with -n, with a warning.

Options:
  -n          check only, change nothing (the default: there is no
              interactive mode, so without -p/-a/-y nothing is repaired)
  -p, -a      repair automatically (\"preen\")
  -y          repair automatically (answer yes to every question)
  -f          check even if the filesystem is marked clean
  -v          verbose: print each pass
  -b BLOCK, --backup BLOCK
              if the primary superblock is damaged, take the backup
              superblock from block BLOCK (in filesystem blocks, as
              mkfs.mapfs prints it) instead of looking for it at the
              end of TARGET: for a filesystem smaller than TARGET
  -V          print the version and exit
  -h, --help  print this help and exit

Without -f, a filesystem whose superblock is valid and marked clean is
not checked further.

A damaged primary superblock is restored (-y, -p, -a) from the backup
superblock mkfs.mapfs keeps in the last block of the filesystem, which
fsck looks for at the end of TARGET (or at -b BLOCK); -n reports it.

Exit status (as fsck(8)):
  0   no errors
  1   errors were found and corrected
  4   errors were left uncorrected (always the case with -n)
  8   operational error (cannot open or read the device, or asked to
      repair a mounted filesystem)
  16  usage or syntax error
";

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let usage = |msg: String| {
        eprintln!("fsck.mapfs: {msg}\nTry 'fsck.mapfs --help'.");
        ExitCode::from(EXIT_USAGE as u8)
    };
    let parsed = match cli::parse_long(&argv, "b", &[("backup", 'b')]) {
        Ok(p) => p,
        Err(e) => return usage(e),
    };
    let mut opts = FsckOptions::default();
    let mut readonly = false;
    let mut target = None;
    for arg in parsed {
        match arg {
            Arg::Help | Arg::Opt('h', None) => {
                print!("{HELP}");
                return ExitCode::SUCCESS;
            }
            Arg::Opt('V', None) => {
                println!("fsck.mapfs {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            Arg::Opt('n', None) => readonly = true,
            Arg::Opt('p' | 'a' | 'y', None) => opts.repair = true,
            Arg::Opt('f', None) => opts.force = true,
            Arg::Opt('v', None) => opts.verbose = true,
            Arg::Opt('b', Some(v)) => match v.parse::<u64>() {
                Ok(b) => opts.backup = Some(b),
                Err(_) => return usage(format!("invalid backup superblock block '{v}'")),
            },
            Arg::Opt(c, _) => return usage(format!("unknown option '-{c}'")),
            Arg::Pos(p) => {
                if target.replace(p).is_some() {
                    return usage("more than one target given".into());
                }
            }
        }
    }
    if readonly && opts.repair {
        return usage("-n cannot be combined with -p, -a or -y".into());
    }
    let Some(target) = target else {
        return usage("no target device or image given".into());
    };
    let res = fsck::run_path(&target, opts);
    for w in &res.warnings {
        eprintln!("{w}");
    }
    for l in &res.lines {
        println!("{l}");
    }
    ExitCode::from(res.exit as u8)
}
