//! Command-line parsing.

use std::path::PathBuf;

use crate::op::{
    parse_number, valid_dio_align, valid_shift_align, DEFAULT_DIO_ALIGN, MAX_DIO_LEN,
    MIN_DIO_ALIGN, MIN_SHIFT_ALIGN,
};
use crate::runner::{Verbosity, MODEL_LIMIT};
use crate::weights::{OpKind, Weights, DEFAULT_WEIGHTS, DIRECT_WEIGHT};

/// The `--help` text.
pub const HELP: &str = "\
Usage: mapfs-fsx [options] FILE
       mapfs-fsx --replay LOG [options] FILE

Run random operations on FILE and compare every result with an in-memory
model of the file's bytes and size.  FILE is created or truncated first.

Options:
  -S, --seed N           PRNG seed (default: random from /dev/urandom;
                         always printed)
  -N, --ops N            number of operations (default 10000; unlimited
                         with --duration)
  -l, --max-size BYTES   maximum file size (default 256k)
  -o, --max-op-len BYTES maximum length of one operation (default 64k)
      --block-size B     bias offsets toward multiples of B (default: the
                         file's st_blksize)
      --weights SPEC     relative weights, e.g. \"read=10,write=10,mapread=5,
                         mapwrite=5,truncate=5,falloc=5,fsync=2,invalidate=2,
                         direct=0\" (the default); operations not named keep
                         their weight; direct above 0 implies --direct
      --no-OP            weight 0 for OP (one of read, write, mapread,
                         mapwrite, truncate, falloc, fsync, invalidate,
                         direct); --no-mmap means --no-mapread --no-mapwrite
      --direct           also do direct I/O: dread and dwrite, O_DIRECT
                         preads and pwrites through a second descriptor per
                         file, mixed with the other operations (weight 10
                         unless --weights names direct); fails at once if
                         the filesystem refuses O_DIRECT
      --dio-align N      offsets and lengths of direct I/O are multiples of
                         N, a power of two from 512 to 64k (default 512); a
                         replay uses the alignment its log records
      --shift-align N    also do collapse and insert range (falloc modes
                         collapse_range and insert_range) with offsets and
                         lengths multiples of N, a power of two of at least
                         512 that must be a multiple of the filesystem's
                         block size; without it they are never made; fails
                         if the filesystem does not support them
      --files N          use N files, FILE.0 .. FILE.N-1, each with its own
                         model; operations are interleaved at random
      --check-every N    verify whole files every N operations (default 100;
                         0: only at the end)
      --drop-caches M    write 3 to /proc/sys/vm/drop_caches every M
                         operations (needs root)
      --remount-every K  every K operations close the files, run the remount
                         command, reopen and verify the whole files
      --remount-cmd CMD  the remount command, run with sh -c, e.g.
                         \"umount /mnt && mount -t mapfs /dev/vda /mnt\"
      --duration SECONDS stop after this long (then verify as usual)
      --log FILE         replay log (default FILE.fsxlog); written as the
                         run goes, removed after a successful run unless
                         --log was given
      --replay LOG       run the operations of LOG instead of random ones
  -q                     quiet: only the start line, the summary and failures
  -v                     verbose: print each operation before running it
  -h, --help             print this help and exit

Sizes take a k, m or g suffix (powers of 1024).  Operations a filesystem
does not support (EOPNOTSUPP; EINVAL for a fallocate mode) are skipped from
the first failure on; direct I/O, collapse and insert range are never
skipped.  Direct operations are one alignment unit to 64k long (less if
--max-op-len is less, but at least one unit); direct reads start below the
maximum size and return the bytes up to EOF, direct writes end at or below
it.  Without --direct (or a direct weight) no O_DIRECT descriptor is
opened, unless a replayed log has direct I/O.  A collapse ends before EOF;
an insert starts before EOF and keeps the file within the maximum size.

Exit status: 0 if every check passed, 1 on a mismatch or unexpected error,
2 on a usage error.
";

/// Everything the command line can say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The file (or the base of the file names with `--files`).
    pub path: PathBuf,
    /// The seed, if given.
    pub seed: Option<u64>,
    /// The number of operations, if given.
    pub ops: Option<u64>,
    /// The maximum file size.
    pub max_size: u64,
    /// The maximum length of one operation.
    pub max_op_len: u64,
    /// The block size to bias offsets toward, if given.
    pub block_size: Option<u64>,
    /// The operation weights.
    pub weights: Weights,
    /// Whether the files get O_DIRECT descriptors: `--direct`, or a direct
    /// weight above 0.  `--direct` also sets the direct weight to
    /// [`DIRECT_WEIGHT`] unless `--weights` or `--no-direct` set it.
    pub direct: bool,
    /// The alignment of direct I/O offsets and lengths (`--dio-align`).
    pub dio_align: u64,
    /// The alignment of collapse and insert range (`--shift-align`); they
    /// are made only if it is given.
    pub shift_align: Option<u64>,
    /// The time limit in seconds, if any.
    pub duration: Option<u64>,
    /// The number of files.
    pub files: usize,
    /// Whole-file check interval (0: only at the end).
    pub check_every: u64,
    /// drop_caches interval, if any.
    pub drop_caches_every: Option<u64>,
    /// Remount interval, if any.
    pub remount_every: Option<u64>,
    /// The remount command.
    pub remount_cmd: Option<String>,
    /// The log path, if given.
    pub log: Option<PathBuf>,
    /// The log to replay, if any.
    pub replay: Option<PathBuf>,
    /// How much to print.
    pub verbosity: Verbosity,
    /// Test hook (not in the help): after this operation, corrupt a byte of
    /// the first file behind the model's back and check at once.
    pub corrupt_after: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            path: PathBuf::new(),
            seed: None,
            ops: None,
            max_size: 256 << 10,
            max_op_len: 64 << 10,
            block_size: None,
            weights: Weights::default(),
            direct: false,
            dio_align: DEFAULT_DIO_ALIGN,
            shift_align: None,
            duration: None,
            files: 1,
            check_every: 100,
            drop_caches_every: None,
            remount_every: None,
            remount_cmd: None,
            log: None,
            replay: None,
            verbosity: Verbosity::Normal,
            corrupt_after: None,
        }
    }
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Print the help.
    Help,
    /// Run (or replay).
    Run(Box<Config>),
}

/// An option: short letter, long name, whether it takes a value.
struct Spec {
    short: Option<char>,
    long: &'static str,
    value: bool,
}

const fn opt(short: Option<char>, long: &'static str, value: bool) -> Spec {
    Spec { short, long, value }
}

const SPECS: &[Spec] = &[
    opt(Some('S'), "seed", true),
    opt(Some('N'), "ops", true),
    opt(Some('l'), "max-size", true),
    opt(Some('o'), "max-op-len", true),
    opt(None, "block-size", true),
    opt(None, "weights", true),
    opt(None, "direct", false),
    opt(None, "dio-align", true),
    opt(None, "shift-align", true),
    opt(None, "files", true),
    opt(None, "check-every", true),
    opt(None, "drop-caches", true),
    opt(None, "remount-every", true),
    opt(None, "remount-cmd", true),
    opt(None, "duration", true),
    opt(None, "log", true),
    opt(None, "replay", true),
    opt(None, "debug-corrupt-after", true),
    opt(Some('q'), "quiet", false),
    opt(Some('v'), "verbose", false),
    opt(Some('h'), "help", false),
];

/// Parses a count: decimal or 0x hexadecimal.
fn count(name: &str, v: &str) -> Result<u64, String> {
    parse_number(v).ok_or_else(|| format!("invalid {name} '{v}'"))
}

/// Parses a byte size with an optional k/m/g (binary) suffix.
pub fn parse_size(v: &str) -> Option<u64> {
    let (digits, shift) = match v.char_indices().last()? {
        (i, 'k' | 'K') => (&v[..i], 10),
        (i, 'm' | 'M') => (&v[..i], 20),
        (i, 'g' | 'G') => (&v[..i], 30),
        _ => (v, 0),
    };
    parse_number(digits)?.checked_mul(1 << shift)
}

fn size(name: &str, v: &str) -> Result<u64, String> {
    parse_size(v).ok_or_else(|| format!("invalid {name} '{v}'"))
}

/// A count that must be at least 1.
fn positive(name: &str, v: &str) -> Result<u64, String> {
    match count(name, v)? {
        0 => Err(format!("{name} must be at least 1")),
        n => Ok(n),
    }
}

/// What the parser must remember about `--direct` until every option is
/// read, so that `--direct` and `--weights direct=N` mean the same in
/// either order.
#[derive(Default)]
struct DirectSeen {
    /// `--direct` was given.
    flag: bool,
    /// `--weights` or `--no-direct` set the direct weight.
    weight_set: bool,
}

/// Applies one option to `c`.  `name` is the long name.
fn apply(c: &mut Config, seen: &mut DirectSeen, name: &str, v: &str) -> Result<(), String> {
    match name {
        "seed" => c.seed = Some(count("seed", v)?),
        "ops" => c.ops = Some(count("operation count", v)?),
        "max-size" => c.max_size = size("max size", v)?,
        "max-op-len" => c.max_op_len = size("max operation length", v)?,
        "block-size" => c.block_size = Some(size("block size", v)?),
        "weights" => {
            if c.weights.apply_spec(v)?.contains(&OpKind::Direct) {
                seen.weight_set = true;
            }
        }
        "dio-align" => {
            c.dio_align = size("direct I/O alignment", v)?;
            if !valid_dio_align(c.dio_align) {
                return Err(format!(
                    "--dio-align must be a power of two from {MIN_DIO_ALIGN} to {MAX_DIO_LEN}"
                ));
            }
        }
        "shift-align" => {
            let a = size("shift alignment", v)?;
            if !valid_shift_align(a) {
                return Err(format!(
                    "--shift-align must be a power of two of at least {MIN_SHIFT_ALIGN}"
                ));
            }
            c.shift_align = Some(a);
        }
        "files" => {
            c.files = usize::try_from(positive("file count", v)?)
                .ok()
                .filter(|&n| n <= 1000)
                .ok_or("at most 1000 files")?;
        }
        "check-every" => c.check_every = count("check interval", v)?,
        "drop-caches" => c.drop_caches_every = Some(positive("drop_caches interval", v)?),
        "remount-every" => c.remount_every = Some(positive("remount interval", v)?),
        "remount-cmd" => c.remount_cmd = Some(v.to_owned()),
        "duration" => c.duration = Some(positive("duration", v)?),
        "log" => c.log = Some(PathBuf::from(v)),
        "replay" => c.replay = Some(PathBuf::from(v)),
        "debug-corrupt-after" => c.corrupt_after = Some(count("operation number", v)?),
        _ => return Err(format!("unhandled option --{name}")),
    }
    Ok(())
}

/// Parses the arguments (without the program name).
pub fn parse(args: &[String]) -> Result<Command, String> {
    let mut c = Config::default();
    let mut seen = DirectSeen::default();
    let mut positional = Vec::new();
    let mut i = 0;
    // The value of an option: the rest of the word, or the next argument.
    let value = |inline: Option<&str>, i: &mut usize, name: &str| -> Result<String, String> {
        match inline {
            Some(v) => Ok(v.to_owned()),
            None => {
                *i += 1;
                args.get(*i)
                    .cloned()
                    .ok_or_else(|| format!("option {name} needs a value"))
            }
        }
    };
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" {
            positional.extend(args[i + 1..].iter().cloned());
            break;
        } else if let Some(body) = a.strip_prefix("--") {
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            if let Some(op) = name.strip_prefix("no-") {
                if inline.is_some() {
                    return Err(format!("option --{name} takes no value"));
                }
                match (op, OpKind::from_name(op)) {
                    ("mmap", _) => {
                        c.weights.set(OpKind::MapRead, 0);
                        c.weights.set(OpKind::MapWrite, 0);
                    }
                    (_, Some(kind)) => {
                        c.weights.set(kind, 0);
                        seen.weight_set |= kind == OpKind::Direct;
                    }
                    (_, None) => return Err(format!("unknown option '--{name}'")),
                }
            } else {
                let spec = SPECS
                    .iter()
                    .find(|s| s.long == name)
                    .ok_or_else(|| format!("unknown option '--{name}'"))?;
                if spec.value {
                    let v = value(inline, &mut i, &format!("--{name}"))?;
                    apply(&mut c, &mut seen, name, &v)?;
                } else if inline.is_some() {
                    return Err(format!("option --{name} takes no value"));
                } else {
                    match name {
                        "help" => return Ok(Command::Help),
                        "quiet" => c.verbosity = Verbosity::Quiet,
                        "direct" => seen.flag = true,
                        _ => c.verbosity = Verbosity::Verbose,
                    }
                }
            }
        } else if a.len() > 1 && a.starts_with('-') {
            // One or more short options: "-qv", "-S5", "-S 5".
            for (pos, ch) in a.char_indices().skip(1) {
                let spec = SPECS
                    .iter()
                    .find(|s| s.short == Some(ch))
                    .ok_or_else(|| format!("unknown option '-{ch}'"))?;
                if spec.value {
                    let rest = &a[pos + ch.len_utf8()..];
                    let v = value(
                        (!rest.is_empty()).then_some(rest),
                        &mut i,
                        &format!("-{ch}"),
                    )?;
                    apply(&mut c, &mut seen, spec.long, &v)?;
                    break;
                }
                match ch {
                    'h' => return Ok(Command::Help),
                    'q' => c.verbosity = Verbosity::Quiet,
                    _ => c.verbosity = Verbosity::Verbose,
                }
            }
        } else {
            positional.push(a.to_owned());
        }
        i += 1;
    }
    match positional.len() {
        0 => return Err("no file given".into()),
        1 => c.path = PathBuf::from(positional.remove(0)),
        _ => {
            return Err(format!(
                "more than one file given: {}",
                positional.join(" ")
            ))
        }
    }
    if seen.flag && !seen.weight_set {
        c.weights.set(OpKind::Direct, DIRECT_WEIGHT);
    }
    c.direct = seen.flag || c.weights.get(OpKind::Direct) > 0;
    validate(&c)?;
    Ok(Command::Run(Box::new(c)))
}

/// Checks the combinations the individual options cannot.
fn validate(c: &Config) -> Result<(), String> {
    if c.max_size == 0 || c.max_size > MODEL_LIMIT {
        return Err(format!("max size must be 1 to {MODEL_LIMIT} bytes"));
    }
    if c.max_op_len == 0 {
        return Err("max operation length must be at least 1".into());
    }
    if c.block_size == Some(0) {
        return Err("block size must be at least 1".into());
    }
    if c.direct && c.replay.is_none() && c.max_size < c.dio_align {
        return Err(format!(
            "max size must be at least the direct I/O alignment ({}) with --direct",
            c.dio_align
        ));
    }
    if let Some(a) = c
        .shift_align
        .filter(|&a| c.replay.is_none() && c.max_size <= a)
    {
        return Err(format!(
            "max size must be above the shift alignment ({a}) with --shift-align"
        ));
    }
    if c.remount_every.is_some() && c.remount_cmd.is_none() {
        return Err("--remount-every needs --remount-cmd".into());
    }
    if c.replay.is_none() && c.weights.total() == 0 {
        return Err(format!(
            "every operation has weight 0 (default weights: {DEFAULT_WEIGHTS})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Command, String> {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn config(args: &[&str]) -> Config {
        match parse_strs(args) {
            Ok(Command::Run(c)) => *c,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let c = config(&["/tmp/f"]);
        assert_eq!(
            c,
            Config {
                path: "/tmp/f".into(),
                ..Config::default()
            }
        );
        assert_eq!(c.max_size, 262_144);
        assert!(!c.direct);
        assert_eq!(c.dio_align, 512);
        assert_eq!(c.weights.get(OpKind::Direct), 0);
        assert_eq!(c.shift_align, None);
    }

    #[test]
    fn shift_align_option() {
        for (v, a) in [("512", 512), ("1k", 1024), ("4096", 4096), ("64k", 65536)] {
            assert_eq!(config(&["--shift-align", v, "f"]).shift_align, Some(a));
        }
        assert_eq!(
            config(&["--shift-align=1m", "-l", "4m", "f"]).shift_align,
            Some(1 << 20)
        );
        // Nothing else changes.
        let c = config(&["--shift-align", "4k", "f"]);
        assert_eq!(
            c,
            Config {
                path: "f".into(),
                shift_align: Some(4096),
                ..Config::default()
            }
        );
        // A replay does not need the maximum size to leave room.
        let c = config(&["--shift-align", "1m", "--replay", "l", "f"]);
        assert_eq!(c.shift_align, Some(1 << 20));
    }

    #[test]
    fn direct_options() {
        let c = config(&["--direct", "f"]);
        assert!(c.direct);
        assert_eq!(c.weights.get(OpKind::Direct), DIRECT_WEIGHT);
        assert_eq!(c.dio_align, 512);
        // An explicit weight wins, whichever comes first.
        for args in [
            &["--direct", "--weights", "direct=3", "f"][..],
            &["--weights=direct=3", "--direct", "f"][..],
        ] {
            let c = config(args);
            assert!(c.direct, "{args:?}");
            assert_eq!(c.weights.get(OpKind::Direct), 3, "{args:?}");
        }
        // A weight alone turns direct I/O on.
        let c = config(&["--weights", "direct=7", "f"]);
        assert!(c.direct);
        assert_eq!(c.weights.get(OpKind::Direct), 7);
        // Naming it with weight 0 keeps it off.
        let c = config(&["--weights", "direct=0", "f"]);
        assert!(!c.direct);
        // --direct still opens the descriptors if --no-direct zeroes the
        // weight, but no direct operation is chosen.
        let c = config(&["--no-direct", "--direct", "f"]);
        assert!(c.direct);
        assert_eq!(c.weights.get(OpKind::Direct), 0);
        // Other weights are untouched.
        assert_eq!(c.weights.get(OpKind::Read), 10);
        for (v, a) in [("4096", 4096), ("4k", 4096), ("512", 512), ("64k", 65536)] {
            let c = config(&["--direct", "--dio-align", v, "f"]);
            assert_eq!(c.dio_align, a);
        }
        // Alone it is allowed (it only matters with direct I/O).
        assert_eq!(config(&["--dio-align=1k", "f"]).dio_align, 1024);
        // The help states the weight --direct gives.
        assert!(HELP.contains(&format!("(weight {DIRECT_WEIGHT}\n")));
    }

    #[test]
    fn all_option_forms() {
        let c = config(&[
            "-S",
            "42",
            "-N5000",
            "--max-size=1m",
            "-o",
            "8k",
            "--block-size",
            "512",
            "--weights",
            "read=1,falloc=0",
            "--no-mmap",
            "--files",
            "3",
            "--check-every=0",
            "--drop-caches",
            "50",
            "--remount-every",
            "1000",
            "--remount-cmd",
            "true",
            "--duration",
            "60",
            "--log",
            "/tmp/l",
            "-qv",
            "f",
        ]);
        assert_eq!(c.seed, Some(42));
        assert_eq!(c.ops, Some(5000));
        assert_eq!(c.max_size, 1 << 20);
        assert_eq!(c.max_op_len, 8192);
        assert_eq!(c.block_size, Some(512));
        assert_eq!(c.weights.get(OpKind::Read), 1);
        assert_eq!(c.weights.get(OpKind::Falloc), 0);
        assert_eq!(c.weights.get(OpKind::MapRead), 0);
        assert_eq!(c.weights.get(OpKind::MapWrite), 0);
        assert_eq!(c.weights.get(OpKind::Write), 10);
        assert_eq!(c.files, 3);
        assert_eq!(c.check_every, 0);
        assert_eq!(c.drop_caches_every, Some(50));
        assert_eq!(c.remount_every, Some(1000));
        assert_eq!(c.remount_cmd.as_deref(), Some("true"));
        assert_eq!(c.duration, Some(60));
        assert_eq!(c.log, Some("/tmp/l".into()));
        assert_eq!(c.verbosity, Verbosity::Verbose);
        assert_eq!(c.path, PathBuf::from("f"));
        let c = config(&["--no-falloc", "--no-fsync", "-S0x10", "--", "-weird"]);
        assert_eq!(c.weights.get(OpKind::Falloc), 0);
        assert_eq!(c.weights.get(OpKind::Fsync), 0);
        assert_eq!(c.seed, Some(16));
        assert_eq!(c.path, PathBuf::from("-weird"));
        assert_eq!(
            config(&["--debug-corrupt-after", "7", "f"]).corrupt_after,
            Some(7)
        );
    }

    #[test]
    fn help() {
        assert_eq!(parse_strs(&["-h"]), Ok(Command::Help));
        assert_eq!(parse_strs(&["x", "--help"]), Ok(Command::Help));
    }

    #[test]
    fn usage_errors() {
        for (args, why) in [
            (&[][..], "no file"),
            (&["a", "b"][..], "more than one file"),
            (&["-x", "f"][..], "unknown option '-x'"),
            (&["--bogus", "f"][..], "unknown option '--bogus'"),
            (&["--no-bogus", "f"][..], "unknown option"),
            (&["f", "-S"][..], "needs a value"),
            (&["-S", "x", "f"][..], "invalid seed"),
            (&["-l", "0", "f"][..], "max size"),
            (&["-l", "2g", "f"][..], "max size"),
            (&["--files", "0", "f"][..], "at least 1"),
            (&["--remount-every", "5", "f"][..], "needs --remount-cmd"),
            (
                &[
                    "--weights",
                    "read=0,write=0,mapread=0,mapwrite=0,truncate=0,falloc=0,fsync=0,invalidate=0",
                    "f",
                ][..],
                "weight 0",
            ),
            (&["--weights", "nope=1", "f"][..], "unknown operation"),
            (&["--direct=1", "f"][..], "takes no value"),
            (&["--dio-align", "256", "f"][..], "power of two from 512"),
            (&["--dio-align", "1000", "f"][..], "power of two from 512"),
            (&["--dio-align", "128k", "f"][..], "power of two from 512"),
            (&["--dio-align", "0", "f"][..], "power of two from 512"),
            (
                &["--dio-align", "x", "f"][..],
                "invalid direct I/O alignment",
            ),
            (
                &["--direct", "-l", "4000", "--dio-align", "4k", "f"][..],
                "at least the direct I/O alignment",
            ),
            (
                &["--shift-align", "256", "f"][..],
                "power of two of at least 512",
            ),
            (
                &["--shift-align", "1000", "f"][..],
                "power of two of at least 512",
            ),
            (
                &["--shift-align", "0", "f"][..],
                "power of two of at least 512",
            ),
            (&["--shift-align", "x", "f"][..], "invalid shift alignment"),
            (
                &["--shift-align", "4k", "-l", "4k", "f"][..],
                "above the shift alignment (4096)",
            ),
            (
                &["--shift-align", "1m", "f"][..],
                "above the shift alignment (1048576)",
            ),
            (&["-q=1", "f"][..], "unknown option '-='"),
            (&["--quiet=1", "f"][..], "takes no value"),
        ] {
            let err = parse_strs(args).unwrap_err();
            assert!(err.contains(why), "{args:?}: {err}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("4k"), Some(4096));
        assert_eq!(parse_size("2M"), Some(2 << 20));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("0x10"), Some(16));
        assert_eq!(parse_size("k"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("99999999999999999999g"), None);
    }
}
