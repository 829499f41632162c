//! The program: a random run or a replay, and the reports.

use std::ffi::OsString;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cli::{self, Command, Config, HELP};
use crate::gen::Generator;
use crate::op::{parse_log, Entry, Header, Op};
use crate::runner::{Failure, LogWriter, Runner};
use crate::sys;
use crate::weights::OpKind;

/// Exit status: every check passed.
pub const EXIT_OK: u8 = 0;
/// Exit status: a mismatch or an unexpected error.
pub const EXIT_FAIL: u8 = 1;
/// Exit status: a usage error.
pub const EXIT_USAGE: u8 = 2;

/// Runs the program with `args` (without the program name) and returns the
/// exit status.
pub fn main_with_args(args: &[String]) -> u8 {
    match cli::parse(args) {
        Ok(Command::Help) => {
            print!("{HELP}");
            EXIT_OK
        }
        Ok(Command::Run(cfg)) => match &cfg.replay {
            Some(log) => replay(&cfg, log),
            None => random_run(&cfg),
        },
        Err(e) => usage(&e),
    }
}

fn usage(msg: &str) -> u8 {
    eprintln!("mapfs-fsx: {msg}\nTry 'mapfs-fsx --help'.");
    EXIT_USAGE
}

fn error(msg: &str) -> u8 {
    eprintln!("mapfs-fsx: {msg}");
    EXIT_FAIL
}

/// `base` with `suffix` appended to the file name.
fn with_suffix(base: &Path, suffix: &str) -> PathBuf {
    let mut s = OsString::from(base.as_os_str());
    s.push(suffix);
    PathBuf::from(s)
}

/// The files of a run: `base` itself, or `base.0` .. `base.N-1`.
pub fn file_paths(base: &Path, files: usize) -> Vec<PathBuf> {
    if files == 1 {
        vec![base.to_owned()]
    } else {
        (0..files)
            .map(|i| with_suffix(base, &format!(".{i}")))
            .collect()
    }
}

/// A seed nobody chose, so that repeated runs cover different ground.
fn random_seed() -> std::io::Result<u64> {
    let mut b = [0u8; 8];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

/// Describes the files for the start line.
fn files_desc(paths: &[PathBuf]) -> String {
    match paths {
        [one] => format!("file {}", one.display()),
        [first, .., last] => format!(
            "{} files {} .. {}",
            paths.len(),
            first.display(),
            last.display()
        ),
        [] => "no files".into(),
    }
}

/// `s` quoted for sh when it needs to be, so a printed command line can be
/// pasted back into a shell.
fn shell_quote(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Prints the failure report to stderr.
fn report(entry: &Entry, failure: &Failure, seed: Option<u64>, runner: &Runner, log_note: &str) {
    let seed = seed.map_or_else(|| "unknown".to_owned(), |s| s.to_string());
    let mut s = String::new();
    match failure {
        Failure::Mismatch(m) => {
            s.push_str(&format!(
                "mapfs-fsx: MISMATCH at operation {} (seed {seed})\n",
                entry.num
            ));
            s.push_str(&format!("  operation: {entry}\n"));
            s.push_str(&m.describe(&runner.path(m.file).display().to_string()));
        }
        Failure::Error(e) => {
            s.push_str(&format!(
                "mapfs-fsx: ERROR at operation {} (seed {seed})\n",
                entry.num
            ));
            s.push_str(&format!("  operation: {entry}\n"));
            if let Some(i) = entry.file {
                s.push_str(&format!(
                    "  file:      f{i} = {}\n",
                    runner.path(i).display()
                ));
            }
            s.push_str(&format!("  error:     {e}\n"));
        }
    }
    s.push_str(log_note);
    eprint!("{s}");
}

/// Runs one entry, pairing a failure with the entry that caused it.
fn step(runner: &mut Runner, entry: Entry) -> Result<(), (Entry, Failure)> {
    runner.run(&entry).map_err(|f| (entry, f))
}

/// A run of random operations.
fn random_run(cfg: &Config) -> u8 {
    let seed = match cfg.seed {
        Some(s) => s,
        None => match random_seed() {
            Ok(s) => s,
            Err(e) => return error(&format!("cannot read /dev/urandom for a seed: {e}")),
        },
    };
    sys::install_sigbus_handler(seed);
    if cfg.drop_caches_every.is_some() {
        // Find out now, not after thousands of operations.
        if let Err(e) = std::fs::OpenOptions::new()
            .write(true)
            .open("/proc/sys/vm/drop_caches")
        {
            return usage(&format!(
                "--drop-caches: cannot open /proc/sys/vm/drop_caches: {e}"
            ));
        }
    }
    let paths = file_paths(&cfg.path, cfg.files);
    let desc = files_desc(&paths);
    let mut runner = match Runner::create(paths, cfg.weights.clone(), cfg.verbosity) {
        Ok(r) => r,
        Err(e) => return error(&format!("{e} (seed {seed})")),
    };
    runner.set_remount_cmd(cfg.remount_cmd.clone());
    if cfg.direct {
        // Before the first operation: a filesystem that refuses O_DIRECT
        // fails the run here, naming the file.
        if let Err(e) = runner.enable_direct(cfg.dio_align) {
            return error(&format!("{e} (seed {seed})"));
        }
    }
    // Collapse and insert range only with their alignment: nothing tells
    // the block size the filesystem will insist on.
    runner.enable_shift(cfg.shift_align);
    let block = match cfg.block_size {
        Some(b) => b,
        None => match runner.block_size() {
            Ok(b) => b.max(1),
            Err(e) => return error(&format!("fstat {}: {e}", cfg.path.display())),
        },
    };
    // With only a time limit the operation count is unlimited.
    let ops = cfg.ops.unwrap_or(if cfg.duration.is_some() {
        u64::MAX
    } else {
        10_000
    });
    let ops_desc = match (cfg.ops, cfg.duration) {
        (None, Some(d)) => format!("operations for {d}s"),
        (Some(n), Some(d)) => format!("{n} operations (at most {d}s)"),
        _ => format!("{ops} operations"),
    };
    // Printed even with -q: without the seed a failure cannot be rerun,
    // and a run that takes the machine down never prints its summary.
    let direct_desc = match runner.dio_align() {
        Some(a) => format!(", O_DIRECT aligned to {a}"),
        None => String::new(),
    };
    let shift_desc = match runner.shift_align() {
        Some(a) => format!(", collapse/insert aligned to {a}"),
        None => String::new(),
    };
    println!(
        "mapfs-fsx: seed {seed}, {ops_desc}, max size {}, block size \
         {block}{direct_desc}{shift_desc}, {desc}",
        cfg.max_size
    );
    let log_path = cfg
        .log
        .clone()
        .unwrap_or_else(|| with_suffix(&cfg.path, ".fsxlog"));
    let header = Header {
        seed: Some(seed),
        files: cfg.files,
        max_size: Some(cfg.max_size),
        block_size: Some(block),
        dio_align: runner.dio_align(),
        shift_align: runner.shift_align(),
    };
    match LogWriter::create(&log_path, &header) {
        Ok(log) => runner.set_log(log),
        Err(e) => {
            return error(&format!(
                "cannot create the log {}: {e}",
                log_path.display()
            ))
        }
    }

    let mut gen = Generator::new(seed, cfg.max_size, cfg.max_op_len, block)
        .with_dio_align(cfg.dio_align)
        .with_shift_align(runner.shift_align());
    let deadline = cfg
        .duration
        .map(|d| Instant::now() + Duration::from_secs(d));
    let mut done = 0;
    let result = (|| {
        for num in 1..=ops {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            if runner.weights().total() == 0 {
                let e = Failure::Error("every operation turned out to be unsupported".into());
                return Err((
                    Entry {
                        num,
                        file: None,
                        op: Op::Check,
                    },
                    e,
                ));
            }
            let file = gen.pick_file(cfg.files);
            let op = gen.next_op(runner.weights(), runner.falloc_modes(), runner.size(file));
            step(
                &mut runner,
                Entry {
                    num,
                    file: Some(file),
                    op,
                },
            )?;
            done = num;
            let global = |op| Entry {
                num,
                file: None,
                op,
            };
            if cfg.corrupt_after == Some(num) {
                // The test hook: damage the file and check at once, so the
                // damage cannot be overwritten before it is noticed.
                let off = runner.size(0) / 2;
                step(
                    &mut runner,
                    Entry {
                        num,
                        file: Some(0),
                        op: Op::Corrupt { off },
                    },
                )?;
                step(&mut runner, global(Op::Check))?;
            }
            if cfg.check_every > 0 && num % cfg.check_every == 0 {
                step(&mut runner, global(Op::Check))?;
            }
            if cfg.drop_caches_every.is_some_and(|m| num % m == 0) {
                step(&mut runner, global(Op::DropCaches))?;
            }
            if cfg.remount_every.is_some_and(|k| num % k == 0) {
                step(&mut runner, global(Op::Remount))?;
            }
        }
        step(
            &mut runner,
            Entry {
                num: done,
                file: None,
                op: Op::Check,
            },
        )
    })();

    let log = runner.take_log();
    let log_error = log.and_then(|l| l.finish().err());
    match result {
        Err((entry, failure)) => {
            let remount = match &cfg.remount_cmd {
                Some(cmd) => format!(" --remount-cmd {}", shell_quote(cmd)),
                None => String::new(),
            };
            let note = match &log_error {
                None => format!(
                    "  log: {log}\n  rerun: mapfs-fsx -S {seed} (same options) {path}\n     or: mapfs-fsx --replay {log}{remount} {path}\n",
                    log = shell_quote(&log_path.display().to_string()),
                    path = shell_quote(&cfg.path.display().to_string())
                ),
                Some(e) => format!("  log: could not be written to {}: {e}\n", log_path.display()),
            };
            report(&entry, &failure, Some(seed), &runner, &note);
            EXIT_FAIL
        }
        Ok(()) => {
            if let Some(e) = log_error {
                return error(&format!("cannot write the log {}: {e}", log_path.display()));
            }
            // The log of a passing run is of no use unless asked for.
            if cfg.log.is_none() {
                let _ = std::fs::remove_file(&log_path);
            }
            println!("mapfs-fsx: {done} operations, seed {seed}, OK");
            EXIT_OK
        }
    }
}

/// A replay of a log: the same operations and checks, no randomness.
fn replay(cfg: &Config, log: &Path) -> u8 {
    let text = match std::fs::read_to_string(log) {
        Ok(t) => t,
        Err(e) => return usage(&format!("cannot read the log {}: {e}", log.display())),
    };
    let (header, entries) = match parse_log(&text) {
        Ok(x) => x,
        Err(e) => return usage(&format!("{}: {e}", log.display())),
    };
    if cfg.remount_cmd.is_none() && entries.iter().any(|e| e.op == Op::Remount) {
        return usage("the log remounts: give --remount-cmd (\"true\" only closes and reopens)");
    }
    sys::install_sigbus_handler(header.seed.unwrap_or(0));
    // The log's file count wins: its operations name the files.
    let paths = file_paths(&cfg.path, header.files);
    let desc = files_desc(&paths);
    let mut runner = match Runner::create(paths, cfg.weights.clone(), cfg.verbosity) {
        Ok(r) => r,
        Err(e) => return error(&e),
    };
    runner.set_remount_cmd(cfg.remount_cmd.clone());
    // A log with direct I/O needs the O_DIRECT descriptors, with the
    // alignment it was made with.
    if cfg.direct || entries.iter().any(|e| e.op.kind() == Some(OpKind::Direct)) {
        if let Err(e) = runner.enable_direct(header.dio_align.unwrap_or(cfg.dio_align)) {
            return error(&e);
        }
    }
    // Shifts in the log run in any case; the alignment they were made
    // with only makes a refusal's message precise.
    runner.enable_shift(header.shift_align.or(cfg.shift_align));
    let ops = entries.iter().filter(|e| e.op.kind().is_some()).count();
    let seed = header
        .seed
        .map_or_else(|| "unknown".to_owned(), |s| s.to_string());
    println!(
        "mapfs-fsx: replaying {} ({ops} operations, seed {seed}) on {desc}",
        log.display()
    );
    let last = entries.last().map_or(0, |e| e.num);
    let result = entries
        .into_iter()
        .chain([Entry {
            num: last,
            file: None,
            op: Op::Check,
        }])
        .try_for_each(|e| step(&mut runner, e));
    match result {
        Err((entry, failure)) => {
            let note = format!("  replayed log: {}\n", log.display());
            report(&entry, &failure, header.seed, &runner, &note);
            EXIT_FAIL
        }
        Ok(()) => {
            println!(
                "mapfs-fsx: {ops} operations replayed from {}, seed {seed}, OK",
                log.display()
            );
            EXIT_OK
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("/tmp/fsx-test.0"), "/tmp/fsx-test.0");
        assert_eq!(
            shell_quote("umount /mnt && mount"),
            "'umount /mnt && mount'"
        );
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn paths() {
        let one = file_paths(Path::new("/tmp/x"), 1);
        assert_eq!(one, vec![PathBuf::from("/tmp/x")]);
        let three = file_paths(Path::new("/tmp/x"), 3);
        assert_eq!(three[2], PathBuf::from("/tmp/x.2"));
        assert_eq!(files_desc(&three), "3 files /tmp/x.0 .. /tmp/x.2");
    }
}
