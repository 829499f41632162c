//! The mapfs-fsx program end to end, on files in the host's temporary
//! directory: passing runs, detected corruption and its report, replay,
//! remount, direct I/O (where the temporary directory takes O_DIRECT) and
//! usage errors.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FSX: &str = env!("CARGO_BIN_EXE_mapfs-fsx");

/// A scratch directory in the host's /tmp (a real filesystem, unlike
/// target/), removed when the test passes.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("mapfs-fsx-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes `text` as log `name` here and replays it on `file`.
    fn replay(&self, name: &str, text: &str, file: &Path) -> Output {
        let log = self.path(name);
        std::fs::write(&log, text).unwrap();
        fsx(&["--replay", log.to_str().unwrap()], file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn fsx(args: &[&str], file: &Path) -> Output {
    Command::new(FSX).args(args).arg(file).output().unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn both(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

/// The "first differing offset: N" of a report.
fn first_offset(report: &str) -> u64 {
    let rest = report
        .split("first differing offset: ")
        .nth(1)
        .expect(report);
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn random_run_passes() {
    let s = Scratch::new("pass");
    let f = s.path("file");
    let o = fsx(&["-S", "42", "-N", "2000"], &f);
    assert_eq!(code(&o), 0, "{}", both(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("mapfs-fsx: seed 42, 2000 operations,"),
        "{out}"
    );
    assert!(
        out.ends_with("mapfs-fsx: 2000 operations, seed 42, OK\n"),
        "{out}"
    );
    // Any other line may only be a skip notice (e.g. zero range on tmpfs).
    for line in out.lines().skip(1).filter(|l| !l.starts_with("mapfs-fsx:")) {
        assert!(
            line.starts_with("skipping ") && line.ends_with(": not supported here"),
            "{out}"
        );
    }
    assert!(stderr(&o).is_empty(), "{}", both(&o));
    assert!(f.exists());
    // The default log is removed after a passing run.
    assert!(!s.path("file.fsxlog").exists());
}

#[test]
fn several_files_pass() {
    let s = Scratch::new("files");
    let f = s.path("f");
    let o = fsx(
        &["-S", "3", "-N", "1500", "--files", "3", "-l", "64k", "-q"],
        &f,
    );
    assert_eq!(code(&o), 0, "{}", both(&o));
    assert!(stdout(&o).contains("3 files"), "{}", both(&o));
    assert!(
        stdout(&o).ends_with("mapfs-fsx: 1500 operations, seed 3, OK\n"),
        "{}",
        both(&o)
    );
    for i in 0..3 {
        let len = std::fs::metadata(s.path(&format!("f.{i}"))).unwrap().len();
        assert!(len <= 65536, "f.{i} is {len} bytes");
    }
    assert!(!f.exists());
}

/// On tmpfs some fallocate modes are unsupported: the run must skip them,
/// say so once each, and pass.
#[test]
fn unsupported_modes_are_skipped_on_tmpfs() {
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        eprintln!("no /dev/shm, skipped");
        return;
    }
    let f = shm.join(format!("mapfs-fsx-test-{}", std::process::id()));
    let o = fsx(&["-S", "11", "-N", "2000", "--weights", "falloc=30"], &f);
    let _ = std::fs::remove_file(&f);
    assert_eq!(code(&o), 0, "{}", both(&o));
    let out = stdout(&o);
    for line in out.lines().filter(|l| l.starts_with("skipping")) {
        assert_eq!(out.matches(line).count(), 1, "repeated notice:\n{out}");
    }
}

#[test]
fn corruption_is_detected_reported_and_replayed() {
    let s = Scratch::new("corrupt");
    let f = s.path("file");
    let o = fsx(
        &["-S", "7", "-N", "2000", "--debug-corrupt-after", "300"],
        &f,
    );
    assert_eq!(code(&o), 1, "{}", both(&o));
    let err = stderr(&o);
    for part in [
        "mapfs-fsx: MISMATCH at operation 300 (seed 7)\n",
        "  operation: 300 * check\n",
        "first differing offset: ",
        "  expected:\n    0x",
        "  found:\n    0x",
        "  file size: expected ",
        "--replay ",
    ] {
        assert!(err.contains(part), "report lacks {part:?}:\n{err}");
    }
    // The corrupted byte is the middle one, and the sizes agree.
    let log = std::fs::read_to_string(s.path("file.fsxlog")).unwrap();
    let corrupt = log.lines().find(|l| l.contains(" corrupt ")).expect(&log);
    let off: u64 = corrupt.split("off=").nth(1).unwrap().parse().unwrap();
    assert_eq!(first_offset(&err), off, "{err}");
    let size = std::fs::metadata(&f).unwrap().len();
    assert_eq!(off, size / 2);
    assert!(
        err.contains(&format!("file size: expected {size}, found {size}")),
        "{err}"
    );
    assert!(log.starts_with("# mapfs-fsx log"), "{log}");
    assert!(log.contains("# seed=7 files=1 "), "{log}");
    let entries: Vec<&str> = log.lines().filter(|l| !l.starts_with('#')).collect();
    // The checks at 100 and 200, the corruption and the check that caught
    // it (before the periodic check at 300).
    assert_eq!(entries.len(), 300 + 2 + 2, "{log}");
    assert_eq!(entries[entries.len() - 2], corrupt);
    // Exactly the failed check is the last line.
    assert_eq!(entries.last(), Some(&"300 * check"));

    // The log replays to the same failure.
    let r = fsx(&["--replay", s.path("file.fsxlog").to_str().unwrap()], &f);
    assert_eq!(code(&r), 1, "{}", both(&r));
    let rerr = stderr(&r);
    assert!(
        rerr.contains("MISMATCH at operation 300 (seed 7)"),
        "{rerr}"
    );
    assert_eq!(first_offset(&rerr), off);
}

/// A hand-written log: the damaged byte must be caught by a plain read and
/// by a mapped read, not only by the whole-file check.
#[test]
fn handwritten_log_mismatch_in_read_and_mapread() {
    let s = Scratch::new("handwritten");
    let f = s.path("file");
    for (op, what) in [("read", "pread"), ("mapread", "mmap read")] {
        let log = s.path(&format!("{op}.log"));
        std::fs::write(
            &log,
            format!(
                "# files=1\n\
                 1 f0 write off=0 len=10000 seed=0x1\n\
                 2 f0 corrupt off=5000\n\
                 3 f0 {op} off=4096 len=4096\n"
            ),
        )
        .unwrap();
        let o = fsx(&["--replay", log.to_str().unwrap()], &f);
        assert_eq!(code(&o), 1, "{}", both(&o));
        let err = stderr(&o);
        assert!(
            err.contains("MISMATCH at operation 3 (seed unknown)"),
            "{err}"
        );
        assert!(
            err.contains(&format!("  operation: 3 f0 {op} off=4096 len=4096\n")),
            "{err}"
        );
        assert!(
            err.contains(&format!("  compared: {what} of bytes 0x1000..0x2000\n")),
            "{err}"
        );
        assert_eq!(first_offset(&err), 5000, "{err}");
        // The window starts 16 bytes before, rounded down: 0x1370.
        assert!(err.contains("  expected:\n    0x00001370:"), "{err}");
        assert!(err.contains("  found:\n    0x00001370:"), "{err}");
        assert!(
            err.contains("file size: expected 10000, found 10000"),
            "{err}"
        );
    }
}

#[test]
fn wrong_size_is_detected() {
    let s = Scratch::new("size");
    let f = s.path("file");
    let log = s.path("log");
    // Corrupting past EOF writes a byte there, so the file grows.
    std::fs::write(
        &log,
        "1 f0 write off=0 len=100 seed=5\n2 f0 corrupt off=100\n3 f0 fsync\n",
    )
    .unwrap();
    let o = fsx(&["--replay", log.to_str().unwrap()], &f);
    assert_eq!(code(&o), 1, "{}", both(&o));
    let err = stderr(&o);
    assert!(err.contains("MISMATCH at operation 3"), "{err}");
    assert!(err.contains("after fstat reported a wrong size"), "{err}");
    assert!(
        err.contains("length: expected 100 bytes, found 101"),
        "{err}"
    );
    assert!(err.contains("file size: expected 100, found 101"), "{err}");
    assert_eq!(first_offset(&err), 100);
}

#[test]
fn explicit_log_is_kept_and_replays() {
    let s = Scratch::new("replay");
    let f = s.path("file");
    let log = s.path("run.log");
    let o = fsx(
        &[
            "-S",
            "5",
            "-N",
            "700",
            "--files",
            "2",
            "--log",
            log.to_str().unwrap(),
        ],
        &f,
    );
    assert_eq!(code(&o), 0, "{}", both(&o));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("# seed=5 files=2 "), "{text}");
    // 700 operations, 7 periodic checks, the final check.
    assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 708);
    let r = fsx(&["--replay", log.to_str().unwrap()], &f);
    assert_eq!(code(&r), 0, "{}", both(&r));
    assert!(
        stdout(&r).ends_with(&format!(
            "mapfs-fsx: 700 operations replayed from {}, seed 5, OK\n",
            log.display()
        )),
        "{}",
        both(&r)
    );
    // The replay left the same files as the run: run it again and compare.
    let a = std::fs::read(s.path("file.1")).unwrap();
    let o = fsx(&["-S", "5", "-N", "700", "--files", "2", "-q"], &f);
    assert_eq!(code(&o), 0, "{}", both(&o));
    assert_eq!(std::fs::read(s.path("file.1")).unwrap(), a);
}

#[test]
fn remount_runs_the_command_and_verifies() {
    let s = Scratch::new("remount");
    let f = s.path("file");
    let marker = s.path("marker");
    let cmd = format!("echo remount >> {}", marker.display());
    let o = fsx(
        &[
            "-S",
            "1",
            "-N",
            "450",
            "--remount-every",
            "100",
            "--remount-cmd",
            &cmd,
        ],
        &f,
    );
    assert_eq!(code(&o), 0, "{}", both(&o));
    assert_eq!(std::fs::read_to_string(&marker).unwrap().lines().count(), 4);

    // A failing command is an error, reported with the operation.
    let o = fsx(
        &[
            "-S",
            "1",
            "-N",
            "450",
            "--remount-every",
            "100",
            "--remount-cmd",
            "exit 3",
        ],
        &f,
    );
    assert_eq!(code(&o), 1, "{}", both(&o));
    let err = stderr(&o);
    assert!(err.contains("ERROR at operation 100 (seed 1)"), "{err}");
    assert!(err.contains("remount command `exit 3` failed"), "{err}");
    assert!(
        err.contains("--replay") && err.contains("--remount-cmd 'exit 3'"),
        "{err}"
    );

    // Replaying a log with remounts needs a command.
    let o = fsx(&["--replay", s.path("file.fsxlog").to_str().unwrap()], &f);
    assert_eq!(code(&o), 2, "{}", both(&o));
    assert!(stderr(&o).contains("--remount-cmd"), "{}", both(&o));
}

#[test]
fn duration_limits_the_run() {
    let s = Scratch::new("duration");
    let start = std::time::Instant::now();
    let o = fsx(
        &[
            "-S",
            "2",
            "--duration",
            "1",
            "--no-fsync",
            "--no-invalidate",
        ],
        &s.path("f"),
    );
    assert_eq!(code(&o), 0, "{}", both(&o));
    assert!(start.elapsed().as_secs() < 30);
    assert!(stdout(&o).contains("operations for 1s,"), "{}", both(&o));
    assert!(
        stdout(&o).contains(" operations, seed 2, OK\n"),
        "{}",
        both(&o)
    );
}

#[test]
fn verbose_prints_every_operation() {
    let s = Scratch::new("verbose");
    let o = fsx(
        &["-S", "4", "-N", "50", "-v", "--check-every", "0"],
        &s.path("f"),
    );
    assert_eq!(code(&o), 0, "{}", both(&o));
    let out = stdout(&o);
    for n in 1..=50 {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("{n} f0 "))),
            "no op {n}:\n{out}"
        );
    }
    // Quiet prints only the start and summary lines.
    let o = fsx(&["-S", "4", "-N", "50", "-q"], &s.path("f"));
    assert_eq!(stdout(&o).lines().count(), 2, "{}", both(&o));
}

#[test]
fn usage_errors_and_help() {
    let s = Scratch::new("usage");
    let f = s.path("f");
    for args in [
        &["--bogus"][..],
        &["-N"][..],
        &["--remount-every", "10"][..],
        &["--weights", "read=x"][..],
        &["--files", "0"][..],
    ] {
        let o = fsx(args, &f);
        assert_eq!(code(&o), 2, "{args:?}: {}", both(&o));
        assert!(
            stderr(&o).contains("Try 'mapfs-fsx --help'."),
            "{}",
            both(&o)
        );
    }
    let o = Command::new(FSX).output().unwrap();
    assert_eq!(code(&o), 2);
    let o = Command::new(FSX).arg("--help").output().unwrap();
    assert_eq!(code(&o), 0);
    let help = stdout(&o);
    for opt in [
        "-S, --seed",
        "-N, --ops",
        "-l, --max-size",
        "--block-size",
        "--weights",
        "--no-OP",
        "--duration",
        "--files",
        "--check-every",
        "--drop-caches",
        "--remount-every",
        "--remount-cmd",
        "--log",
        "--replay",
        "--direct",
        "--dio-align N",
        "--shift-align N",
        "-q",
        "-v",
        "-h, --help",
    ] {
        assert!(help.contains(opt), "help lacks {opt}");
    }
    // A log that does not parse is a usage error too.
    let log = s.path("bad.log");
    std::fs::write(&log, "1 f0 frobnicate\n").unwrap();
    let o = fsx(&["--replay", log.to_str().unwrap()], &f);
    assert_eq!(code(&o), 2, "{}", both(&o));
    assert!(
        stderr(&o).contains("line 1: unknown operation 'frobnicate'"),
        "{}",
        both(&o)
    );
}

/// Whether the filesystem holding `dir` takes O_DIRECT: one that does not
/// refuses the open with EINVAL.
fn o_direct_works(dir: &Path) -> bool {
    let probe = dir.join("o_direct-probe");
    let r = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(&probe);
    let _ = std::fs::remove_file(&probe);
    match r {
        Ok(_) => true,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => false,
        Err(e) => panic!("cannot probe O_DIRECT in {}: {e}", dir.display()),
    }
}

/// The `off=` and `len=` of a log line (dread, dwrite, falloc).
fn off_len(line: &str) -> (u64, u64) {
    let field = |k: &str| -> u64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .expect(line)
            .parse()
            .expect(line)
    };
    (field("off="), field("len="))
}

/// Direct I/O mixed with everything else passes, logs aligned dread and
/// dwrite lines under a header with dio-align, replays, survives remounts,
/// and leaves corruption detectable, by the periodic check and by a direct
/// read.  Skipped where the temporary directory refuses O_DIRECT.
#[test]
fn direct_io_runs_replays_and_detects_corruption() {
    let s = Scratch::new("direct");
    if !o_direct_works(&s.0) {
        eprintln!(
            "{} refuses O_DIRECT (EINVAL): direct I/O test skipped",
            s.0.display()
        );
        return;
    }
    let f = s.path("file");
    let log = s.path("direct.log");
    let o = fsx(
        &[
            "-S",
            "42",
            "-N",
            "2000",
            "--direct",
            "--log",
            log.to_str().unwrap(),
        ],
        &f,
    );
    assert_eq!(code(&o), 0, "{}", both(&o));
    let out = stdout(&o);
    assert!(out.contains(", O_DIRECT aligned to 512, "), "{out}");
    assert!(
        out.ends_with("mapfs-fsx: 2000 operations, seed 42, OK\n"),
        "{out}"
    );
    assert!(!out.contains("skipping dread") && !out.contains("skipping dwrite"));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("# seed=42 files=1 "), "{text}");
    assert!(text.contains(" dio-align=512\n"), "{text}");
    let direct: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" dread ") || l.contains(" dwrite "))
        .collect();
    let dreads = direct.iter().filter(|l| l.contains(" dread ")).count();
    // direct=10 of 54: about 370 of 2000, half each.
    assert!(dreads > 100 && direct.len() - dreads > 100, "{text}");
    for l in &direct {
        let (off, len) = off_len(l);
        assert!(off % 512 == 0 && len % 512 == 0, "{l}");
        assert!((512..=65536).contains(&len) && off < 262_144, "{l}");
    }
    // The log replays, with its alignment.
    let r = fsx(&["--replay", log.to_str().unwrap()], &f);
    assert_eq!(code(&r), 0, "{}", both(&r));

    // Another alignment, several files and remounts (which reopen the
    // O_DIRECT descriptors too).
    let o = fsx(
        &[
            "-S",
            "8",
            "-N",
            "2000",
            "--direct",
            "--dio-align",
            "4k",
            "--files",
            "2",
            "--remount-every",
            "500",
            "--remount-cmd",
            "true",
            "--log",
            log.to_str().unwrap(),
        ],
        &f,
    );
    assert_eq!(code(&o), 0, "{}", both(&o));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(" dio-align=4096\n"), "{text}");
    for l in text
        .lines()
        .filter(|l| l.contains(" dread ") || l.contains(" dwrite "))
    {
        let (off, len) = off_len(l);
        assert!(off % 4096 == 0 && len % 4096 == 0, "{l}");
    }

    // The corruption hook still makes the run fail, with direct I/O in the
    // mix.
    let o = fsx(
        &[
            "-S",
            "7",
            "-N",
            "2000",
            "--direct",
            "--debug-corrupt-after",
            "300",
        ],
        &f,
    );
    assert_eq!(code(&o), 1, "{}", both(&o));
    let err = stderr(&o);
    assert!(
        err.contains("mapfs-fsx: MISMATCH at operation 300 (seed 7)\n"),
        "{err}"
    );
    let text = std::fs::read_to_string(s.path("file.fsxlog")).unwrap();
    assert!(
        text.contains(" dwrite ") && text.contains(" dread "),
        "{text}"
    );
}

/// Hand-written logs: a direct read catches a damaged byte, reads across
/// and past EOF return the bytes up to EOF, a direct write past EOF moves
/// it, and a misaligned direct operation is an error naming the operation.
#[test]
fn direct_io_handwritten_logs() {
    let s = Scratch::new("direct-log");
    if !o_direct_works(&s.0) {
        eprintln!(
            "{} refuses O_DIRECT (EINVAL): direct I/O test skipped",
            s.0.display()
        );
        return;
    }
    let f = s.path("file");
    let replay = |name: &str, text: &str| s.replay(name, text, &f);

    let o = replay(
        "corrupt.log",
        "# files=1 dio-align=512\n\
         1 f0 dwrite off=0 len=10240 seed=0x1\n\
         2 f0 corrupt off=5000\n\
         3 f0 dread off=4096 len=4096\n",
    );
    assert_eq!(code(&o), 1, "{}", both(&o));
    let err = stderr(&o);
    assert!(
        err.contains("MISMATCH at operation 3 (seed unknown)"),
        "{err}"
    );
    assert!(
        err.contains("  operation: 3 f0 dread off=4096 len=4096\n"),
        "{err}"
    );
    assert!(
        err.contains("  compared: O_DIRECT pread of bytes 0x1000..0x2000\n"),
        "{err}"
    );
    assert_eq!(first_offset(&err), 5000, "{err}");

    // 5000 bytes: a read across EOF gets 904, one from EOF's aligned unit
    // on gets nothing; a direct write past EOF leaves a zero gap and moves
    // EOF, which buffered and direct reads then agree on.
    let o = replay(
        "eof.log",
        "# files=1\n\
         1 f0 write off=0 len=5000 seed=0x2\n\
         2 f0 dread off=4096 len=8192\n\
         3 f0 dread off=0 len=65536\n\
         4 f0 dread off=8192 len=512\n\
         5 f0 dwrite off=16384 len=1536 seed=0x3\n\
         6 f0 dread off=4096 len=16384\n\
         7 f0 read off=4000 len=20000\n\
         8 f0 truncate size=17000\n\
         9 f0 dread off=16384 len=4096\n\
         10 f0 fsync\n",
    );
    assert_eq!(code(&o), 0, "{}", both(&o));
    assert_eq!(std::fs::metadata(&f).unwrap().len(), 17000);

    let o = replay("misaligned.log", "1 f0 dread off=100 len=512\n");
    assert_eq!(code(&o), 1, "{}", both(&o));
    let err = stderr(&o);
    assert!(err.contains("ERROR at operation 1"), "{err}");
    assert!(
        err.contains("dread off=100 len=512 is not aligned to the direct I/O alignment 512"),
        "{err}"
    );
    // The log's alignment is the one used.
    let o = replay(
        "align.log",
        "# dio-align=4096\n1 f0 dwrite off=512 len=4096 seed=1\n",
    );
    assert_eq!(code(&o), 1, "{}", both(&o));
    assert!(stderr(&o).contains("alignment 4096"), "{}", both(&o));
}

/// The mode, offset and length of a `falloc` log line.
fn falloc_fields(line: &str) -> (String, u64, u64) {
    let mode = line
        .split("mode=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect(line)
        .to_owned();
    let (off, len) = off_len(line);
    (mode, off, len)
}

/// True if the filesystem of `dir` collapses and inserts ranges of 4 KiB,
/// found by replaying a tiny log: a collapse, then an insert.
fn shifts_work(s: &Scratch) -> bool {
    let log = s.path("probe.log");
    std::fs::write(
        &log,
        "1 f0 write off=0 len=12288 seed=1\n\
         2 f0 falloc mode=collapse_range off=0 len=4096\n\
         3 f0 falloc mode=insert_range off=4096 len=4096\n",
    )
    .unwrap();
    let o = fsx(&["--replay", log.to_str().unwrap()], &s.path("probe"));
    code(&o) == 0
}

/// With --shift-align, collapse and insert range run among the other
/// operations and pass, their log lines aligned and valid (each collapse
/// ends before EOF, each insert starts before it), under a header with
/// shift-align; the log replays.  Without it none is made.  Skipped where
/// the temporary directory's filesystem cannot shift.
#[test]
fn shift_ops_run_log_and_replay() {
    let s = Scratch::new("shift");
    if !shifts_work(&s) {
        eprintln!(
            "{} cannot collapse or insert 4 KiB ranges: shift test skipped",
            s.0.display()
        );
        return;
    }
    let f = s.path("file");
    let log = s.path("shift.log");
    let o = fsx(
        &[
            "-S",
            "42",
            "-N",
            "3000",
            "--shift-align",
            "4k",
            "--weights",
            "falloc=20",
            "--log",
            log.to_str().unwrap(),
        ],
        &f,
    );
    assert_eq!(code(&o), 0, "{}", both(&o));
    let out = stdout(&o);
    assert!(out.contains(", collapse/insert aligned to 4096, "), "{out}");
    assert!(!out.contains("skipping falloc(collapse"), "{out}");
    assert!(!out.contains("skipping falloc(insert"), "{out}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(" shift-align=4096\n"), "{text}");
    let (mut collapses, mut inserts) = (0, 0);
    for l in text.lines().filter(|l| l.contains(" falloc ")) {
        let (mode, off, len) = falloc_fields(l);
        if mode == "collapse_range" || mode == "insert_range" {
            assert!(off % 4096 == 0 && len % 4096 == 0 && len > 0, "{l}");
            if mode == "collapse_range" {
                collapses += 1;
            } else {
                inserts += 1;
            }
        }
    }
    // falloc=20 of 59, 2 modes of 7: about 290 shifts.
    assert!(collapses > 50 && inserts > 50, "{collapses} {inserts}");
    let r = fsx(&["--replay", log.to_str().unwrap()], &f);
    assert_eq!(code(&r), 0, "{}", both(&r));

    // The same seed without the flag makes no shift.
    let o = fsx(
        &[
            "-S",
            "42",
            "-N",
            "3000",
            "--weights",
            "falloc=20",
            "--log",
            log.to_str().unwrap(),
        ],
        &f,
    );
    assert_eq!(code(&o), 0, "{}", both(&o));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("shift-align"), "{text}");
    assert!(!text.contains("collapse_range") && !text.contains("insert_range"));
}

/// Hand-written logs: collapse and insert move the data as the model says
/// (a damaged byte is found where the shift moved it), and a range the
/// kernel must refuse is an error naming the operation, not a skip.
#[test]
fn shift_handwritten_logs() {
    let s = Scratch::new("shift-log");
    if !shifts_work(&s) {
        eprintln!(
            "{} cannot collapse or insert 4 KiB ranges: shift test skipped",
            s.0.display()
        );
        return;
    }
    let f = s.path("file");
    let replay = |name: &str, text: &str| s.replay(name, text, &f);
    // The byte damaged at 9000 is at 4904 after the collapse of the first
    // 4 KiB, and at 13096 after an insert of 8 KiB at 4096.
    let o = replay(
        "moved.log",
        "1 f0 write off=0 len=20000 seed=0x1\n\
         2 f0 corrupt off=9000\n\
         3 f0 falloc mode=collapse_range off=0 len=4096\n\
         4 f0 falloc mode=insert_range off=4096 len=8192\n\
         5 f0 read off=12288 len=4096\n",
    );
    assert_eq!(code(&o), 1, "{}", both(&o));
    let err = stderr(&o);
    assert!(err.contains("MISMATCH at operation 5"), "{err}");
    assert_eq!(first_offset(&err), 13096, "{err}");
    assert!(
        err.contains("file size: expected 24096, found 24096"),
        "{err}"
    );

    for (text, why) in [
        (
            "1 f0 write off=0 len=8192 seed=1\n\
             2 f0 falloc mode=collapse_range off=4096 len=4096\n",
            "collapse_range off=4096 len=4096 does not end before EOF (8192)",
        ),
        (
            "1 f0 write off=0 len=8192 seed=1\n\
             2 f0 falloc mode=insert_range off=8192 len=4096\n",
            "insert_range off=8192 does not start before EOF (8192)",
        ),
    ] {
        let o = replay("refused.log", text);
        assert_eq!(code(&o), 1, "{}", both(&o));
        let err = stderr(&o);
        assert!(err.contains("ERROR at operation 2"), "{err}");
        assert!(err.contains(why), "{err}");
        assert!(!stdout(&o).contains("skipping"), "{}", both(&o));
    }
    // A misaligned range reaches the kernel, whose EINVAL is a failure.
    let o = replay(
        "misaligned.log",
        "1 f0 write off=0 len=8192 seed=1\n\
         2 f0 falloc mode=collapse_range off=100 len=4096\n",
    );
    assert_eq!(code(&o), 1, "{}", both(&o));
    let err = stderr(&o);
    assert!(
        err.contains("FALLOC_FL_COLLAPSE_RANGE refused (EINVAL)"),
        "{err}"
    );
}

/// tmpfs cannot collapse or insert: with --shift-align the run fails at the
/// first shift, saying so, instead of skipping it.
#[test]
fn shift_unsupported_fails_on_tmpfs() {
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        eprintln!("no /dev/shm, skipped");
        return;
    }
    let f = shm.join(format!("mapfs-fsx-test-shift-{}", std::process::id()));
    let o = fsx(
        &[
            "-S",
            "11",
            "-N",
            "2000",
            "--weights",
            "falloc=30",
            "--shift-align",
            "4k",
        ],
        &f,
    );
    let log = format!("{}.fsxlog", f.display());
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&f);
    let _ = std::fs::remove_file(&log);
    assert_eq!(code(&o), 1, "{}", both(&o));
    let err = stderr(&o);
    assert!(err.contains("ERROR at operation "), "{err}");
    assert!(
        err.contains("the filesystem does not support FALLOC_FL_COLLAPSE_RANGE (EOPNOTSUPP)")
            || err.contains("the filesystem does not support FALLOC_FL_INSERT_RANGE (EOPNOTSUPP)"),
        "{err}"
    );
    assert!(err.contains("run without --shift-align"), "{err}");
    // The failed operation is the log's last line.
    let last = text.lines().last().unwrap_or_default();
    assert!(
        last.contains("mode=collapse_range") || last.contains("mode=insert_range"),
        "{text}"
    );
}
