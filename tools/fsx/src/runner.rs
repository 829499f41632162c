//! Runs operations on the real files and on their models, and compares.
//!
//! The same code runs random operations and replayed ones: the generator
//! (or the log parser) produces [`Entry`] values and [`Runner::run`] carries
//! each out, so a replay checks exactly what the original run checked.
//!
//! With direct I/O enabled ([`Runner::enable_direct`]) every file has a
//! second descriptor, opened with O_DIRECT next to the buffered one and
//! reopened with it at a remount; `dread` and `dwrite` go through it, every
//! other operation through the buffered one, and the same model stands for
//! both, so the page cache and the direct path must agree at every step.
//!
//! Collapse and insert range run only when a log asks for them or when the
//! run enables them ([`Runner::enable_shift`]), and like direct I/O they are
//! never skipped: a filesystem that answers EOPNOTSUPP fails the run with a
//! message saying so, and whoever asked for them decides whether to ask on
//! that filesystem.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write as _};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::model::{FallocMode, Model};
use crate::op::{Entry, Header, Op};
use crate::prng;
use crate::report::Mismatch;
use crate::sys::{self, AlignedBuf, Mapping};
use crate::weights::{OpKind, Weights};

/// The largest file offset an operation may reach.  The model lives in
/// memory, so a hand-edited log asking for a terabyte is refused instead of
/// exhausting memory.
pub const MODEL_LIMIT: u64 = 1 << 30;

/// How much the checker prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verbosity {
    /// Only the start line, the summary and failures.
    Quiet,
    /// Also the operations skipped as unsupported.
    Normal,
    /// Also every operation, before it runs.
    Verbose,
}

/// Why a run stopped early.
#[derive(Debug)]
pub enum Failure {
    /// A file's contents or size differed from its model.
    Mismatch(Box<Mismatch>),
    /// A system call failed unexpectedly, or the remount command did.
    Error(String),
}

/// The replay log, written as the run goes so that it survives a run that
/// is killed or crashes the machine partway.
#[derive(Debug)]
pub struct LogWriter {
    path: PathBuf,
    out: Option<BufWriter<File>>,
}

impl LogWriter {
    /// Creates (or empties) the log at `path` and writes the header.
    pub fn create(path: &Path, header: &Header) -> io::Result<LogWriter> {
        let mut out = BufWriter::new(File::create(path)?);
        write!(out, "{header}")?;
        Ok(LogWriter {
            path: path.to_owned(),
            out: Some(out),
        })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry.  The buffer is flushed at every event (check,
    /// drop_caches, remount), so after a crash the log on disk lags by at
    /// most one check interval, and the seed covers the rest.
    pub fn append(&mut self, e: &Entry) -> io::Result<()> {
        match &mut self.out {
            Some(out) => {
                writeln!(out, "{e}")?;
                if e.op.is_global() {
                    out.flush()?;
                }
                Ok(())
            }
            None => Err(io::Error::other("log written while closed for a remount")),
        }
    }

    /// Flushes and closes the log.  The log may live on the filesystem that
    /// is about to be unmounted, which an open file would keep busy.
    pub fn suspend(&mut self) -> io::Result<()> {
        match self.out.take() {
            Some(out) => sys::close(out.into_inner().map_err(io::IntoInnerError::into_error)?),
            None => Ok(()),
        }
    }

    /// Reopens the log after [`suspend`](Self::suspend), to append.
    pub fn resume(&mut self) -> io::Result<()> {
        if self.out.is_none() {
            let f = OpenOptions::new().append(true).open(&self.path)?;
            self.out = Some(BufWriter::new(f));
        }
        Ok(())
    }

    /// Flushes and closes the log for good.
    pub fn finish(mut self) -> io::Result<()> {
        self.suspend()
    }
}

/// Why an operation did not complete, before it is turned into a
/// [`Failure`] or a skip.
enum Problem {
    /// The operation's own system call said the filesystem does not
    /// support it.
    Unsupported,
    /// Any other error, already described.
    Io(String),
    /// A comparison failed.
    Mismatch(Box<Mismatch>),
}

/// Describes an unexpected error of `what` (a system call name).
fn io_err(what: &str, e: io::Error) -> Problem {
    Problem::Io(format!("{what}: {e}"))
}

/// True if `e`, returned by the system call that *is* operation `op`, means
/// "this filesystem cannot do that" rather than "something went wrong".
/// fallocate reports an unknown mode combination with EINVAL as well, and
/// mmap reports a filesystem without mmap support with ENODEV.  Direct I/O
/// is never skipped: the O_DIRECT open already showed the filesystem takes
/// it, and direct operations run only when asked for, so an aligned
/// transfer that fails is a failure.  Nor are collapse and insert range,
/// which also run only when asked for (see [`shift_failure`]).
fn is_unsupported(op: &Op, e: &io::Error) -> bool {
    match op {
        Op::DRead { .. } | Op::DWrite { .. } => return false,
        Op::Falloc { mode, .. } if mode.is_shift() => return false,
        _ => {}
    }
    match e.raw_os_error() {
        // ENOTSUP is the same number as EOPNOTSUPP on Linux.
        Some(libc::EOPNOTSUPP) => true,
        Some(libc::EINVAL) => matches!(op, Op::Falloc { .. }),
        Some(libc::ENODEV) => matches!(op, Op::MapRead { .. } | Op::MapWrite { .. }),
        _ => false,
    }
}

/// Converts the result of operation `op`'s own system call.
fn primary<T>(op: &Op, what: &str, r: io::Result<T>) -> Result<T, Problem> {
    r.map_err(|e| {
        if is_unsupported(op, &e) {
            Problem::Unsupported
        } else {
            io_err(what, e)
        }
    })
}

/// Converts the result of a helper system call (fstat, the reads of a
/// check, msync, ...): any error is unexpected.
fn io<T>(what: &str, r: io::Result<T>) -> Result<T, Problem> {
    r.map_err(|e| io_err(what, e))
}

/// A usize for a byte count already checked against [`MODEL_LIMIT`].
fn us(x: u64) -> usize {
    usize::try_from(x).unwrap_or(usize::MAX)
}

/// Describes the failure `e` of opening `path` with O_DIRECT.  EINVAL, the
/// answer of a filesystem without O_DIRECT support, is spelled out, because
/// with direct I/O asked for it is the finding, not a setup problem.
fn direct_open_error(path: &Path, e: &io::Error) -> String {
    if e.raw_os_error() == Some(libc::EINVAL) {
        format!(
            "cannot open {} with O_DIRECT: the filesystem refuses O_DIRECT \
             (EINVAL), so direct I/O cannot be tested on it",
            path.display()
        )
    } else {
        format!("cannot open {} with O_DIRECT: {e}", path.display())
    }
}

/// The fallocate flag of a shift mode, for messages.
fn shift_flag(mode: FallocMode) -> &'static str {
    match mode {
        FallocMode::CollapseRange => "FALLOC_FL_COLLAPSE_RANGE",
        FallocMode::InsertRange => "FALLOC_FL_INSERT_RANGE",
        _ => "a fallocate mode",
    }
}

/// Describes the failure `e` of collapse or insert range `mode` at `off`
/// for `len` bytes, made with the alignment `align` if known.  The range
/// was valid for the model's size (the runner checks that first), so
/// EOPNOTSUPP means the filesystem cannot shift at all, and EINVAL most
/// likely that the alignment is not a multiple of its block size; both are
/// spelled out, because the run asked for these operations and a failure
/// is the finding, not a reason to skip them.
fn shift_failure(
    mode: FallocMode,
    off: u64,
    len: u64,
    align: Option<u64>,
    e: &io::Error,
) -> String {
    let call = format!("fallocate({mode}) off={off} len={len}");
    let flag = shift_flag(mode);
    match e.raw_os_error() {
        Some(libc::EOPNOTSUPP) => format!(
            "{call}: the filesystem does not support {flag} (EOPNOTSUPP); run \
             without --shift-align to leave collapse and insert range out"
        ),
        Some(libc::EINVAL) => {
            let why = match align {
                Some(a) => format!(
                    "is the shift alignment {a} (--shift-align) a multiple of the \
                     filesystem's block size?"
                ),
                None => "are the offset and length multiples of the filesystem's \
                         block size?"
                    .to_owned(),
            };
            format!("{call}: {flag} refused (EINVAL) a range valid for the size: {why}")
        }
        _ => format!("{call}: {e}"),
    }
}

/// Opens `path` with O_DIRECT, describing a failure.
fn open_direct(path: &Path) -> Result<File, String> {
    sys::open_direct(path).map_err(|e| direct_open_error(path, &e))
}

/// The files under test, their models and what is still enabled.
#[derive(Debug)]
pub struct Runner {
    paths: Vec<PathBuf>,
    files: Vec<Option<File>>,
    /// The O_DIRECT descriptors, one per file; empty without direct I/O.
    direct: Vec<Option<File>>,
    /// The direct I/O alignment; `None` without direct I/O.
    dio_align: Option<u64>,
    /// The alignment of collapse and insert range, if known; `None`
    /// unless [`Runner::enable_shift`] gave one.
    shift_align: Option<u64>,
    models: Vec<Model>,
    weights: Weights,
    modes: Vec<FallocMode>,
    announced: Vec<String>,
    page: u64,
    verbosity: Verbosity,
    remount_cmd: Option<String>,
    log: Option<LogWriter>,
}

impl Runner {
    /// Creates (or truncates to zero) every file in `paths`: the models
    /// start empty, so the files must too.
    pub fn create(
        paths: Vec<PathBuf>,
        weights: Weights,
        verbosity: Verbosity,
    ) -> Result<Runner, String> {
        let mut files = Vec::with_capacity(paths.len());
        for p in &paths {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(p)
                .map_err(|e| format!("cannot create {}: {e}", p.display()))?;
            files.push(Some(f));
        }
        // The shift modes only once enable_shift asks for them.
        let mut modes: Vec<FallocMode> = FallocMode::ALL
            .into_iter()
            .filter(|m| !m.is_shift())
            .collect();
        if weights.get(OpKind::Falloc) == 0 {
            modes.clear();
        }
        Ok(Runner {
            models: vec![Model::new(); paths.len()],
            paths,
            files,
            direct: Vec::new(),
            dio_align: None,
            shift_align: None,
            weights,
            modes,
            announced: Vec::new(),
            page: sys::page_size(),
            verbosity,
            remount_cmd: None,
            log: None,
        })
    }

    /// Opens a second, O_DIRECT descriptor for every file, for the `dread`
    /// and `dwrite` operations, whose offsets and lengths must then be
    /// multiples of `align` (a power of two).  The error names the file and
    /// says so if the filesystem refuses O_DIRECT.
    pub fn enable_direct(&mut self, align: u64) -> Result<(), String> {
        let direct = self
            .paths
            .iter()
            .map(|p| open_direct(p).map(Some))
            .collect::<Result<Vec<_>, _>>()?;
        self.direct = direct;
        self.dio_align = Some(align);
        Ok(())
    }

    /// Adds collapse and insert range to the fallocate modes to choose
    /// from (unless falloc has weight 0), their offsets and lengths to be
    /// multiples of `align`; with `None`, only records that the alignment
    /// is unknown.  Log entries with those modes run whether or not they
    /// are enabled: the alignment only makes the failure messages precise.
    pub fn enable_shift(&mut self, align: Option<u64>) {
        self.shift_align = align;
        if align.is_some() && self.weights.get(OpKind::Falloc) > 0 {
            for m in FallocMode::ALL.into_iter().filter(|m| m.is_shift()) {
                if !self.modes.contains(&m) {
                    self.modes.push(m);
                }
            }
        }
    }

    /// The alignment of collapse and insert range, if enabled.
    pub fn shift_align(&self) -> Option<u64> {
        self.shift_align
    }

    /// The direct I/O alignment, if direct I/O is enabled.
    pub fn dio_align(&self) -> Option<u64> {
        self.dio_align
    }

    /// Sets the command a remount runs (with `sh -c`); without one, a
    /// remount only closes and reopens the files.
    pub fn set_remount_cmd(&mut self, cmd: Option<String>) {
        self.remount_cmd = cmd;
    }

    /// Starts logging every entry run from now on.
    pub fn set_log(&mut self, log: LogWriter) {
        self.log = Some(log);
    }

    /// Stops logging and hands the log back.
    pub fn take_log(&mut self) -> Option<LogWriter> {
        self.log.take()
    }

    /// The preferred I/O size (st_blksize) of the first file's filesystem.
    pub fn block_size(&self) -> io::Result<u64> {
        match &self.files[0] {
            Some(f) => Ok(f.metadata()?.blksize()),
            None => Err(io::Error::other("file not open")),
        }
    }

    /// The weights still in force: a kind found unsupported is set to 0.
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// The fallocate modes not (yet) found unsupported.
    pub fn falloc_modes(&self) -> &[FallocMode] {
        &self.modes
    }

    /// The model size of file `i`.
    pub fn size(&self, i: usize) -> u64 {
        self.models[i].size()
    }

    /// The path of file `i`.
    pub fn path(&self, i: usize) -> &Path {
        &self.paths[i]
    }

    /// How many files there are.
    pub fn file_count(&self) -> usize {
        self.paths.len()
    }

    /// Logs and runs one entry, comparing every result with the model.
    pub fn run(&mut self, entry: &Entry) -> Result<(), Failure> {
        if let Some(log) = &mut self.log {
            log.append(entry).map_err(|e| {
                Failure::Error(format!(
                    "cannot write the log {}: {e}",
                    log.path().display()
                ))
            })?;
        }
        if self.verbosity == Verbosity::Verbose {
            println!("{entry}");
        }
        sys::set_current_op(entry.num);
        let result = match (entry.file, entry.op) {
            (_, Op::Check) => {
                (0..self.file_count()).try_for_each(|i| self.verify(i, "whole-file check"))
            }
            (_, Op::DropCaches) => io(
                "write 3 to /proc/sys/vm/drop_caches",
                std::fs::write("/proc/sys/vm/drop_caches", "3\n"),
            ),
            (_, Op::Remount) => self.remount(),
            (Some(i), op) if i < self.file_count() => self.run_file_op(i, op),
            (_, op) => Err(Problem::Io(format!(
                "{} needs a valid file index",
                op.name()
            ))),
        };
        match result {
            Ok(()) => Ok(()),
            Err(Problem::Unsupported) => {
                self.disable(&entry.op);
                Ok(())
            }
            Err(Problem::Io(msg)) => Err(Failure::Error(msg)),
            Err(Problem::Mismatch(m)) => Err(Failure::Mismatch(m)),
        }
    }

    /// Stops choosing an operation the filesystem does not support, and says
    /// so once.
    fn disable(&mut self, op: &Op) {
        let label = match op {
            Op::Falloc { mode, .. } => {
                self.modes.retain(|m| m != mode);
                if self.modes.is_empty() {
                    self.weights.set(OpKind::Falloc, 0);
                }
                format!("falloc({mode})")
            }
            other => {
                if let Some(kind) = other.kind() {
                    self.weights.set(kind, 0);
                }
                other.name().to_owned()
            }
        };
        if !self.announced.contains(&label) {
            if self.verbosity != Verbosity::Quiet {
                println!("skipping {label}: not supported here");
            }
            self.announced.push(label);
        }
    }

    /// Runs a single-file operation on file `i`.
    fn run_file_op(&mut self, i: usize, op: Op) -> Result<(), Problem> {
        if let Some(end) = op.extent_end().filter(|&end| end > MODEL_LIMIT) {
            return Err(Problem::Io(format!(
                "{} reaches offset {end}, past the {MODEL_LIMIT}-byte limit of the model",
                op.name()
            )));
        }
        let page = self.page;
        let path = self.paths[i].display().to_string();
        let Some(file) = &self.files[i] else {
            return Err(Problem::Io(format!("{path} is not open")));
        };
        // The O_DIRECT descriptor and the alignment, for dread and dwrite;
        // the I/O buffer is aligned to a page at least, which satisfies
        // every device's DMA alignment.
        let direct = |off: u64, len: u64| -> Result<(&File, usize, usize), Problem> {
            let Some(align) = self.dio_align else {
                return Err(Problem::Io(format!(
                    "{} needs direct I/O, which is off: run with --direct",
                    op.name()
                )));
            };
            if !off.is_multiple_of(align) || !len.is_multiple_of(align) {
                return Err(Problem::Io(format!(
                    "{} off={off} len={len} is not aligned to the direct I/O \
                     alignment {align}",
                    op.name()
                )));
            }
            match self.direct.get(i) {
                Some(Some(f)) => Ok((f, us(align), us(align.max(page).max(4096)))),
                _ => Err(Problem::Io(format!("{path} is not open with O_DIRECT"))),
            }
        };
        let shift_align = self.shift_align;
        let model = &mut self.models[i];
        let mismatch = |what: &str, start: u64, expected: &[u8], found: Vec<u8>, model: &Model| {
            Problem::Mismatch(Box::new(Mismatch {
                file: i,
                what: what.to_owned(),
                start,
                expected: expected.to_vec(),
                found,
                expected_size: model.size(),
                found_size: file.metadata().ok().map(|m| m.len()),
            }))
        };
        match op {
            Op::Read { off, len } => {
                let found = primary(&op, "pread", sys::pread_full(file, off, us(len)))?;
                let expected = model.read(off, len);
                if expected != found.as_slice() {
                    return Err(mismatch("pread", off, expected, found, model));
                }
            }
            Op::Write { off, len, seed } => {
                let data = prng::data(seed, us(len));
                primary(&op, "pwrite", file.write_all_at(&data, off))?;
                model.write(off, &data);
            }
            Op::MapRead { off, len } => {
                let end = off + len;
                if end > model.size() {
                    return Err(Problem::Io(format!(
                        "mapread range ends at {end}, past EOF ({}): mmap would fault",
                        model.size()
                    )));
                }
                // mmap offsets must be page-aligned: map from the page
                // holding `off` to the end of the page holding `end - 1`.
                let map_start = off & !(page - 1);
                let map_end = end.div_ceil(page) * page;
                let map = primary(
                    &op,
                    "mmap",
                    Mapping::new(file, map_start, us(map_end - map_start), false),
                )?;
                let bytes = map.bytes();
                let found = bytes[us(off - map_start)..us(end - map_start)].to_vec();
                let expected = model.read(off, len);
                if expected != found.as_slice() {
                    return Err(mismatch("mmap read", off, expected, found, model));
                }
                // The part of the EOF page past EOF must read as zeros
                // (POSIX: a partial page at the end of an object is
                // zero-filled), however the file was extended and shrunk.
                let size = model.size();
                if size < map_end {
                    let tail = &bytes[us(size - map_start)..];
                    if tail.iter().any(|&b| b != 0) {
                        let zeros = vec![0; tail.len()];
                        return Err(mismatch(
                            "mmap read of the EOF page past EOF",
                            size,
                            &zeros,
                            tail.to_vec(),
                            model,
                        ));
                    }
                }
                io("munmap", map.unmap())?;
            }
            Op::MapWrite { off, len, seed } => {
                let end = off + len;
                // Stores past EOF through a mapping are lost (or fault), so,
                // as fsx does, extend the file first.
                if end > model.size() {
                    primary(&op, "ftruncate", file.set_len(end))?;
                    model.truncate(end);
                }
                let map_start = off & !(page - 1);
                let mut map = primary(
                    &op,
                    "mmap",
                    Mapping::new(file, map_start, us(end - map_start), true),
                )?;
                let data = prng::data(seed, us(len));
                map.bytes_mut()[us(off - map_start)..].copy_from_slice(&data);
                model.write(off, &data);
                io("msync", map.sync())?;
                io("munmap", map.unmap())?;
            }
            Op::DRead { off, len } => {
                let (dfile, align, buf_align) = direct(off, len)?;
                let mut buf = io(
                    "allocate an aligned buffer",
                    AlignedBuf::new(us(len), buf_align),
                )?;
                let n = primary(
                    &op,
                    "O_DIRECT pread",
                    sys::pread_direct(dfile, off, &mut buf, align),
                )?;
                let found = buf.bytes()[..n].to_vec();
                // Up to EOF and no further: a direct read ending past EOF
                // is short, one starting at or past EOF returns nothing.
                let expected = model.read(off, len);
                if expected != found.as_slice() {
                    return Err(mismatch("O_DIRECT pread", off, expected, found, model));
                }
            }
            Op::DWrite { off, len, seed } => {
                let (dfile, align, buf_align) = direct(off, len)?;
                let data = prng::data(seed, us(len));
                let mut buf = io(
                    "allocate an aligned buffer",
                    AlignedBuf::new(us(len), buf_align),
                )?;
                buf.bytes_mut().copy_from_slice(&data);
                primary(
                    &op,
                    "O_DIRECT pwrite",
                    sys::pwrite_direct(dfile, off, &buf, align),
                )?;
                model.write(off, &data);
            }
            Op::Truncate { size } => {
                primary(&op, "ftruncate", file.set_len(size))?;
                model.truncate(size);
            }
            Op::Falloc { mode, off, len } if mode.is_shift() => {
                // A range the kernel must refuse whatever the filesystem
                // (from a hand-edited log: the generator makes none) is
                // not worth a system call, and the model could not follow
                // an insert past its limit.
                if let Some(why) = model.shift_error(mode, off, len, MODEL_LIMIT) {
                    return Err(Problem::Io(format!(
                        "{why}: fallocate would refuse it (EINVAL), so it is not run"
                    )));
                }
                sys::fallocate(file, mode, off, len)
                    .map_err(|e| Problem::Io(shift_failure(mode, off, len, shift_align, &e)))?;
                model.falloc(mode, off, len);
            }
            Op::Falloc { mode, off, len } => {
                primary(&op, "fallocate", sys::fallocate(file, mode, off, len))?;
                model.falloc(mode, off, len);
            }
            Op::Fsync => primary(&op, "fsync", file.sync_all())?,
            Op::Fdatasync => primary(&op, "fdatasync", file.sync_data())?,
            Op::Invalidate => {
                // DONTNEED drops only clean pages: write the dirty ones
                // first so that the whole file is re-read from the disk.
                io("fsync", file.sync_all())?;
                primary(&op, "posix_fadvise", sys::fadvise_dontneed(file))?;
            }
            Op::Corrupt { off } => {
                // Behind the model's back: invert one byte (or, past EOF,
                // write 0xff, which also changes the size).
                let old = io("pread", sys::pread_full(file, off, 1))?;
                let new = old.first().map_or(0xff, |b| !b);
                io("pwrite", file.write_all_at(&[new], off))?;
                return Ok(());
            }
            Op::Check | Op::DropCaches | Op::Remount => {}
        }
        // Every operation must leave the size the model says: checking it
        // each time finds a wrong size at the operation that caused it.
        let found = io("fstat", file.metadata())?.len();
        if found != model.size() {
            return self.verify(i, "whole file, after fstat reported a wrong size");
        }
        Ok(())
    }

    /// Compares the whole of file `i` and its size with the model.
    fn verify(&self, i: usize, what: &str) -> Result<(), Problem> {
        let Some(file) = &self.files[i] else {
            return Err(Problem::Io(format!(
                "{} is not open",
                self.paths[i].display()
            )));
        };
        let model = &self.models[i];
        let found_size = io("fstat", file.metadata())?.len();
        // Read one byte past the larger of the two sizes, to notice data
        // past EOF, but not gigabytes of it if the size is garbage.
        let want = found_size.min(model.size() + 65536).max(model.size()) + 1;
        let found = io("pread", sys::pread_full(file, 0, us(want)))?;
        if found != model.bytes() || found_size != model.size() {
            return Err(Problem::Mismatch(Box::new(Mismatch {
                file: i,
                what: what.to_owned(),
                start: 0,
                expected: model.bytes().to_vec(),
                found,
                expected_size: model.size(),
                found_size: Some(found_size),
            })));
        }
        Ok(())
    }

    /// Closes every file, runs the remount command, reopens and checks.
    fn remount(&mut self) -> Result<(), Problem> {
        if let Some(log) = &mut self.log {
            io("close the log", log.suspend())?;
        }
        for (f, p) in self.direct.iter_mut().zip(&self.paths) {
            if let Some(f) = f.take() {
                io(
                    &format!("close the O_DIRECT {}", p.display()),
                    sys::close(f),
                )?;
            }
        }
        for (f, p) in self.files.iter_mut().zip(&self.paths) {
            if let Some(f) = f.take() {
                io(&format!("close {}", p.display()), sys::close(f))?;
            }
        }
        if let Some(cmd) = &self.remount_cmd {
            let status = io("run sh", Command::new("sh").arg("-c").arg(cmd).status())?;
            if !status.success() {
                return Err(Problem::Io(format!(
                    "remount command `{cmd}` failed: {status}"
                )));
            }
        }
        for (f, p) in self.files.iter_mut().zip(&self.paths) {
            let file = OpenOptions::new().read(true).write(true).open(p);
            *f = Some(io(&format!("reopen {}", p.display()), file)?);
        }
        // Only the files that had an O_DIRECT descriptor get one back.
        for (f, p) in self.direct.iter_mut().zip(&self.paths) {
            *f = Some(open_direct(p).map_err(Problem::Io)?);
        }
        if let Some(log) = &mut self.log {
            io("reopen the log", log.resume())?;
        }
        (0..self.file_count()).try_for_each(|i| self.verify(i, "whole-file check after remount"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn o_direct_refusal_is_named() {
        let p = Path::new("/mnt/x/f");
        let einval = io::Error::from_raw_os_error(libc::EINVAL);
        assert_eq!(
            direct_open_error(p, &einval),
            "cannot open /mnt/x/f with O_DIRECT: the filesystem refuses O_DIRECT \
             (EINVAL), so direct I/O cannot be tested on it"
        );
        let enoent = io::Error::from_raw_os_error(libc::ENOENT);
        let msg = direct_open_error(p, &enoent);
        assert!(
            msg.starts_with("cannot open /mnt/x/f with O_DIRECT: "),
            "{msg}"
        );
        assert!(!msg.contains("refuses"), "{msg}");
    }

    #[test]
    fn direct_errors_are_never_skipped() {
        let einval = io::Error::from_raw_os_error(libc::EINVAL);
        let notsup = io::Error::from_raw_os_error(libc::EOPNOTSUPP);
        for op in [
            Op::DRead { off: 0, len: 512 },
            Op::DWrite {
                off: 0,
                len: 512,
                seed: 1,
            },
        ] {
            assert!(!is_unsupported(&op, &einval));
            assert!(!is_unsupported(&op, &notsup));
        }
        assert!(is_unsupported(&Op::Fsync, &notsup));
    }

    #[test]
    fn shift_errors_are_never_skipped() {
        let einval = io::Error::from_raw_os_error(libc::EINVAL);
        let notsup = io::Error::from_raw_os_error(libc::EOPNOTSUPP);
        for mode in [FallocMode::CollapseRange, FallocMode::InsertRange] {
            let op = Op::Falloc {
                mode,
                off: 4096,
                len: 4096,
            };
            assert!(!is_unsupported(&op, &einval));
            assert!(!is_unsupported(&op, &notsup));
        }
        // The other modes are still skipped on both.
        let punch = Op::Falloc {
            mode: FallocMode::PunchHole,
            off: 0,
            len: 1,
        };
        assert!(is_unsupported(&punch, &einval));
        assert!(is_unsupported(&punch, &notsup));
    }

    #[test]
    fn shift_failures_are_named() {
        let notsup = io::Error::from_raw_os_error(libc::EOPNOTSUPP);
        assert_eq!(
            shift_failure(FallocMode::CollapseRange, 0, 4096, Some(4096), &notsup),
            "fallocate(collapse_range) off=0 len=4096: the filesystem does not \
             support FALLOC_FL_COLLAPSE_RANGE (EOPNOTSUPP); run without \
             --shift-align to leave collapse and insert range out"
        );
        let einval = io::Error::from_raw_os_error(libc::EINVAL);
        let msg = shift_failure(FallocMode::InsertRange, 1024, 1024, Some(1024), &einval);
        assert!(
            msg.starts_with(
                "fallocate(insert_range) off=1024 len=1024: FALLOC_FL_INSERT_RANGE \
                 refused (EINVAL)"
            ),
            "{msg}"
        );
        assert!(
            msg.contains("shift alignment 1024 (--shift-align)"),
            "{msg}"
        );
        let msg = shift_failure(FallocMode::InsertRange, 1024, 1024, None, &einval);
        assert!(
            msg.contains("multiples of the filesystem's block size"),
            "{msg}"
        );
        let eio = io::Error::from_raw_os_error(libc::EIO);
        let msg = shift_failure(FallocMode::InsertRange, 0, 512, None, &eio);
        assert!(
            msg.starts_with("fallocate(insert_range) off=0 len=512: "),
            "{msg}"
        );
        assert!(
            !msg.contains("EOPNOTSUPP") && !msg.contains("refused"),
            "{msg}"
        );
    }

    #[test]
    fn shift_modes_only_when_enabled() {
        let dir = std::env::temp_dir().join(format!("mapfs-fsx-shift-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let mut r =
            Runner::create(vec![path.clone()], Weights::default(), Verbosity::Quiet).unwrap();
        assert!(r.falloc_modes().iter().all(|m| !m.is_shift()));
        assert_eq!(r.falloc_modes().len(), 5);
        r.enable_shift(None);
        assert_eq!(r.falloc_modes().len(), 5);
        r.enable_shift(Some(4096));
        assert_eq!(r.falloc_modes(), &FallocMode::ALL);
        assert_eq!(r.shift_align(), Some(4096));
        // With falloc off they stay off.
        let mut w = Weights::default();
        w.set(OpKind::Falloc, 0);
        let mut r = Runner::create(vec![path], w, Verbosity::Quiet).unwrap();
        r.enable_shift(Some(4096));
        assert!(r.falloc_modes().is_empty());
        drop(r);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
