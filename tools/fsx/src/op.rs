//! Operations, log entries and the text format of the replay log.
//!
//! A log line carries every parameter of one operation, including the seed
//! of the data it writes, so a replay needs nothing but the log:
//!
//! ```text
//! # mapfs-fsx log
//! # seed=42 files=2 max-size=262144 block-size=4096 dio-align=512 shift-align=4096
//! 1 f0 write off=4095 len=2 seed=0x6c3e8a7f01d2b944
//! 2 f1 falloc mode=punch_hole off=8192 len=4097
//! 3 f1 dwrite off=7680 len=1024 seed=0x0b5e22d4c1a9f310
//! 4 f0 dread off=0 len=4096
//! 5 f0 falloc mode=collapse_range off=0 len=4096
//! 6 f1 falloc mode=insert_range off=4096 len=8192
//! 100 * check
//! ```
//!
//! Fields: the operation number (events such as `check` and `remount`
//! carry the number of the operation they follow), the file (`fN`, or `*`
//! for events that concern every file), the operation name and its
//! `key=value` parameters.  Lines starting with `#` and blank lines are
//! ignored except for the `key=value` words of comment lines, which form
//! the header.  `dio-align` is there only when the run used direct I/O
//! (`dread`, `dwrite`); a replay uses it as the alignment of those.
//! `shift-align` is there only when the run made collapse and insert range
//! operations (`--shift-align`); it is for the reader, since their lines
//! carry their offsets and lengths.

use std::fmt;

use crate::model::FallocMode;
use crate::weights::OpKind;

/// The smallest alignment of the direct I/O operations: the traditional
/// sector size, the finest alignment a block-device filesystem accepts.
pub const MIN_DIO_ALIGN: u64 = 512;

/// The longest direct I/O operation the generator makes, and so the
/// largest alignment that leaves it a choice of lengths.
pub const MAX_DIO_LEN: u64 = 64 << 10;

/// The direct I/O alignment used when none is given.
pub const DEFAULT_DIO_ALIGN: u64 = MIN_DIO_ALIGN;

/// True if `align` can be the direct I/O alignment: a power of two from
/// [`MIN_DIO_ALIGN`] to [`MAX_DIO_LEN`].
pub fn valid_dio_align(align: u64) -> bool {
    align.is_power_of_two() && (MIN_DIO_ALIGN..=MAX_DIO_LEN).contains(&align)
}

/// The smallest alignment `--shift-align` accepts for collapse and insert
/// range: the smallest block size of a Linux filesystem.
pub const MIN_SHIFT_ALIGN: u64 = 512;

/// True if `align` can be the alignment of collapse and insert range: a
/// power of two of at least [`MIN_SHIFT_ALIGN`].  (Whether it is a multiple
/// of the filesystem's block size only the filesystem can say.)
pub fn valid_shift_align(align: u64) -> bool {
    align.is_power_of_two() && align >= MIN_SHIFT_ALIGN
}

/// One thing the checker does, with all its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// pread `len` bytes at `off` and compare them with the model.
    Read {
        /// Byte offset.
        off: u64,
        /// Byte count.
        len: u64,
    },
    /// pwrite `len` bytes at `off`, the data generated from `seed`.
    Write {
        /// Byte offset.
        off: u64,
        /// Byte count.
        len: u64,
        /// Seed of the data (see [`crate::prng::data`]).
        seed: u64,
    },
    /// Map `off..off+len` (inside EOF) read-only and compare.
    MapRead {
        /// Byte offset.
        off: u64,
        /// Byte count.
        len: u64,
    },
    /// Extend the file to `off+len` if needed, map the range writable,
    /// store the data generated from `seed`, msync, unmap.
    MapWrite {
        /// Byte offset.
        off: u64,
        /// Byte count.
        len: u64,
        /// Seed of the data.
        seed: u64,
    },
    /// ftruncate to `size`.
    Truncate {
        /// The new size.
        size: u64,
    },
    /// fallocate(`mode`, `off`, `len`).
    Falloc {
        /// The fallocate mode.
        mode: FallocMode,
        /// Byte offset.
        off: u64,
        /// Byte count.
        len: u64,
    },
    /// fsync.
    Fsync,
    /// fdatasync.
    Fdatasync,
    /// fsync, then posix_fadvise(POSIX_FADV_DONTNEED) on the whole file.
    Invalidate,
    /// Test hook: invert the byte at `off` behind the model's back, so the
    /// next comparison must report a mismatch.
    Corrupt {
        /// Byte offset.
        off: u64,
    },
    /// pread through the file's O_DIRECT descriptor into an aligned buffer
    /// and compare; `off` and `len` are multiples of the direct I/O
    /// alignment, and the read returns only the bytes before EOF.
    DRead {
        /// Byte offset.
        off: u64,
        /// Byte count.
        len: u64,
    },
    /// pwrite through the file's O_DIRECT descriptor from an aligned
    /// buffer, the data generated from `seed`; aligned like [`Op::DRead`].
    DWrite {
        /// Byte offset.
        off: u64,
        /// Byte count.
        len: u64,
        /// Seed of the data.
        seed: u64,
    },
    /// Compare every file in full with its model.
    Check,
    /// Write 3 to /proc/sys/vm/drop_caches.
    DropCaches,
    /// Close the files, run the remount command, reopen, check every file.
    Remount,
}

impl Op {
    /// The name used in the log.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Read { .. } => "read",
            Op::Write { .. } => "write",
            Op::MapRead { .. } => "mapread",
            Op::MapWrite { .. } => "mapwrite",
            Op::Truncate { .. } => "truncate",
            Op::Falloc { .. } => "falloc",
            Op::Fsync => "fsync",
            Op::Fdatasync => "fdatasync",
            Op::Invalidate => "invalidate",
            Op::DRead { .. } => "dread",
            Op::DWrite { .. } => "dwrite",
            Op::Corrupt { .. } => "corrupt",
            Op::Check => "check",
            Op::DropCaches => "drop_caches",
            Op::Remount => "remount",
        }
    }

    /// True for the events that concern every file rather than one.
    pub fn is_global(&self) -> bool {
        matches!(self, Op::Check | Op::DropCaches | Op::Remount)
    }

    /// The random-operation kind this belongs to, for the events and the
    /// test hook none.
    pub fn kind(&self) -> Option<OpKind> {
        Some(match self {
            Op::Read { .. } => OpKind::Read,
            Op::Write { .. } => OpKind::Write,
            Op::MapRead { .. } => OpKind::MapRead,
            Op::MapWrite { .. } => OpKind::MapWrite,
            Op::Truncate { .. } => OpKind::Truncate,
            Op::Falloc { .. } => OpKind::Falloc,
            Op::Fsync | Op::Fdatasync => OpKind::Fsync,
            Op::Invalidate => OpKind::Invalidate,
            Op::DRead { .. } | Op::DWrite { .. } => OpKind::Direct,
            Op::Corrupt { .. } | Op::Check | Op::DropCaches | Op::Remount => return None,
        })
    }

    /// The byte range the operation touches, if it has one, for checking it
    /// against the model size limit before running it.
    pub fn extent_end(&self) -> Option<u64> {
        match *self {
            Op::Read { off, len }
            | Op::Write { off, len, .. }
            | Op::MapRead { off, len }
            | Op::MapWrite { off, len, .. }
            | Op::DRead { off, len }
            | Op::DWrite { off, len, .. }
            | Op::Falloc { off, len, .. } => Some(off.saturating_add(len)),
            Op::Truncate { size } => Some(size),
            Op::Corrupt { off } => Some(off.saturating_add(1)),
            Op::Fsync
            | Op::Fdatasync
            | Op::Invalidate
            | Op::Check
            | Op::DropCaches
            | Op::Remount => None,
        }
    }
}

/// One line of the log: an operation, its number and its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The operation number, counting from 1; events carry the number of the
    /// operation they follow.
    pub num: u64,
    /// The file index, or `None` for the events that concern every file.
    pub file: Option<usize>,
    /// What to do.
    pub op: Op,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.num)?;
        match self.file {
            Some(i) => write!(f, "f{i} ")?,
            None => f.write_str("* ")?,
        }
        f.write_str(self.op.name())?;
        match self.op {
            Op::Read { off, len } | Op::MapRead { off, len } | Op::DRead { off, len } => {
                write!(f, " off={off} len={len}")
            }
            Op::Write { off, len, seed }
            | Op::MapWrite { off, len, seed }
            | Op::DWrite { off, len, seed } => {
                write!(f, " off={off} len={len} seed={seed:#018x}")
            }
            Op::Truncate { size } => write!(f, " size={size}"),
            Op::Falloc { mode, off, len } => write!(f, " mode={mode} off={off} len={len}"),
            Op::Corrupt { off } => write!(f, " off={off}"),
            Op::Fsync
            | Op::Fdatasync
            | Op::Invalidate
            | Op::Check
            | Op::DropCaches
            | Op::Remount => Ok(()),
        }
    }
}

/// Parses a decimal or `0x` hexadecimal number.
pub fn parse_number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// The `key=value` parameters of a line, consumed one by one so that both
/// missing and unexpected keys are errors: a log that does not say exactly
/// what to do is better rejected than guessed at.
struct Params<'a>(Vec<(&'a str, &'a str)>);

impl<'a> Params<'a> {
    fn take(&mut self, key: &str) -> Result<&'a str, String> {
        let i = self
            .0
            .iter()
            .position(|(k, _)| *k == key)
            .ok_or_else(|| format!("missing {key}="))?;
        Ok(self.0.remove(i).1)
    }

    fn number(&mut self, key: &str) -> Result<u64, String> {
        let v = self.take(key)?;
        parse_number(v).ok_or_else(|| format!("invalid {key}={v}"))
    }

    fn finish(self) -> Result<(), String> {
        match self.0.first() {
            Some((k, _)) => Err(format!("unexpected parameter {k}=")),
            None => Ok(()),
        }
    }
}

impl Entry {
    /// Parses one log line (without comments).
    pub fn parse(line: &str) -> Result<Entry, String> {
        let mut words = line.split_whitespace();
        let (Some(num), Some(file), Some(name)) = (words.next(), words.next(), words.next()) else {
            return Err("expected NUMBER FILE OPERATION [KEY=VALUE...]".into());
        };
        let num = parse_number(num).ok_or_else(|| format!("invalid operation number '{num}'"))?;
        let file = match file {
            "*" => None,
            f => Some(
                f.strip_prefix('f')
                    .and_then(|n| n.parse::<usize>().ok())
                    .ok_or_else(|| format!("invalid file '{f}' (expected fN or *)"))?,
            ),
        };
        let mut params = Params(
            words
                .map(|w| {
                    w.split_once('=')
                        .ok_or_else(|| format!("'{w}' is not KEY=VALUE"))
                })
                .collect::<Result<_, _>>()?,
        );
        let op = match name {
            "read" => Op::Read {
                off: params.number("off")?,
                len: params.number("len")?,
            },
            "mapread" => Op::MapRead {
                off: params.number("off")?,
                len: params.number("len")?,
            },
            "write" => Op::Write {
                off: params.number("off")?,
                len: params.number("len")?,
                seed: params.number("seed")?,
            },
            "mapwrite" => Op::MapWrite {
                off: params.number("off")?,
                len: params.number("len")?,
                seed: params.number("seed")?,
            },
            "dread" => Op::DRead {
                off: params.number("off")?,
                len: params.number("len")?,
            },
            "dwrite" => Op::DWrite {
                off: params.number("off")?,
                len: params.number("len")?,
                seed: params.number("seed")?,
            },
            "truncate" => Op::Truncate {
                size: params.number("size")?,
            },
            "falloc" => {
                let m = params.take("mode")?;
                Op::Falloc {
                    mode: FallocMode::from_name(m)
                        .ok_or_else(|| format!("unknown fallocate mode '{m}'"))?,
                    off: params.number("off")?,
                    len: params.number("len")?,
                }
            }
            "fsync" => Op::Fsync,
            "fdatasync" => Op::Fdatasync,
            "invalidate" => Op::Invalidate,
            "corrupt" => Op::Corrupt {
                off: params.number("off")?,
            },
            "check" => Op::Check,
            "drop_caches" => Op::DropCaches,
            "remount" => Op::Remount,
            other => return Err(format!("unknown operation '{other}'")),
        };
        params.finish()?;
        match (op.is_global(), file) {
            (true, Some(_)) => return Err(format!("{name} applies to every file: use '*'")),
            (false, None) => return Err(format!("{name} needs a file (fN)")),
            _ => {}
        }
        if let Op::Read { len: 0, .. }
        | Op::Write { len: 0, .. }
        | Op::MapRead { len: 0, .. }
        | Op::MapWrite { len: 0, .. }
        | Op::DRead { len: 0, .. }
        | Op::DWrite { len: 0, .. }
        | Op::Falloc { len: 0, .. } = op
        {
            return Err("zero length".into());
        }
        Ok(Entry { num, file, op })
    }
}

/// The run parameters recorded at the top of a log.  Only `files` and
/// `dio_align` matter to a replay; the rest is there so a reader knows how
/// the log was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The seed of the run.
    pub seed: Option<u64>,
    /// How many files the run used.
    pub files: usize,
    /// The maximum file size.
    pub max_size: Option<u64>,
    /// The block size used to bias offsets.
    pub block_size: Option<u64>,
    /// The alignment of the direct I/O operations, if the run used them.
    pub dio_align: Option<u64>,
    /// The alignment of collapse and insert range, if the run made them.
    pub shift_align: Option<u64>,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            seed: None,
            files: 1,
            max_size: None,
            block_size: None,
            dio_align: None,
            shift_align: None,
        }
    }
}

impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "# mapfs-fsx log: NUMBER FILE OPERATION [KEY=VALUE...]; replay with --replay"
        )?;
        f.write_str("#")?;
        if let Some(s) = self.seed {
            write!(f, " seed={s}")?;
        }
        write!(f, " files={}", self.files)?;
        if let Some(m) = self.max_size {
            write!(f, " max-size={m}")?;
        }
        if let Some(b) = self.block_size {
            write!(f, " block-size={b}")?;
        }
        if let Some(a) = self.dio_align {
            write!(f, " dio-align={a}")?;
        }
        if let Some(a) = self.shift_align {
            write!(f, " shift-align={a}")?;
        }
        writeln!(f)
    }
}

/// Parses a whole log.  Errors name the line.
pub fn parse_log(text: &str) -> Result<(Header, Vec<Entry>), String> {
    let mut header = Header::default();
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        let at = |e: String| format!("line {}: {e}", i + 1);
        if let Some(comment) = line.strip_prefix('#') {
            for (k, v) in comment.split_whitespace().filter_map(|w| w.split_once('=')) {
                let n = || parse_number(v).ok_or_else(|| at(format!("invalid {k}={v}")));
                match k {
                    "seed" => header.seed = Some(n()?),
                    "files" => {
                        header.files = usize::try_from(n()?)
                            .ok()
                            .filter(|&f| f > 0)
                            .ok_or_else(|| at(format!("invalid files={v}")))?;
                    }
                    "max-size" => header.max_size = Some(n()?),
                    "block-size" => header.block_size = Some(n()?),
                    "dio-align" => {
                        let a = n()?;
                        if !valid_dio_align(a) {
                            return Err(at(format!(
                                "invalid dio-align={v} (a power of two from \
                                 {MIN_DIO_ALIGN} to {MAX_DIO_LEN})"
                            )));
                        }
                        header.dio_align = Some(a);
                    }
                    "shift-align" => {
                        let a = n()?;
                        if !valid_shift_align(a) {
                            return Err(at(format!(
                                "invalid shift-align={v} (a power of two, at least \
                                 {MIN_SHIFT_ALIGN})"
                            )));
                        }
                        header.shift_align = Some(a);
                    }
                    _ => {}
                }
            }
        } else if !line.is_empty() {
            entries.push(Entry::parse(line).map_err(at)?);
        }
    }
    if let Some(e) = entries
        .iter()
        .find(|e| e.file.is_some_and(|f| f >= header.files))
    {
        return Err(format!(
            "operation {} uses file f{} but the log has files={}",
            e.num,
            e.file.unwrap_or(0),
            header.files
        ));
    }
    Ok((header, entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_op() -> Vec<Entry> {
        let ops = [
            Op::Read { off: 4095, len: 2 },
            Op::Write {
                off: 0,
                len: 65536,
                seed: u64::MAX,
            },
            Op::MapRead { off: 1, len: 4097 },
            Op::MapWrite {
                off: 8191,
                len: 1,
                seed: 0,
            },
            Op::Truncate { size: 0 },
            Op::Truncate { size: 262_143 },
            Op::Fsync,
            Op::Fdatasync,
            Op::Invalidate,
            Op::Corrupt { off: 77 },
            Op::DRead { off: 0, len: 512 },
            Op::DRead {
                off: 261_632,
                len: 65536,
            },
            Op::DWrite {
                off: 4096,
                len: 1024,
                seed: 0x0123_4567_89ab_cdef,
            },
            Op::DWrite {
                off: 0,
                len: 65536,
                seed: 0,
            },
        ];
        let mut v: Vec<Entry> = ops
            .into_iter()
            .enumerate()
            .map(|(i, op)| Entry {
                num: i as u64 + 1,
                file: Some(i % 3),
                op,
            })
            .collect();
        for (i, mode) in FallocMode::ALL.into_iter().enumerate() {
            v.push(Entry {
                num: 20 + i as u64,
                file: Some(2),
                op: Op::Falloc {
                    mode,
                    off: 3,
                    len: 12_345,
                },
            });
        }
        for op in [Op::Check, Op::DropCaches, Op::Remount] {
            v.push(Entry {
                num: 30,
                file: None,
                op,
            });
        }
        v
    }

    #[test]
    fn log_round_trip() {
        let header = Header {
            seed: Some(12345),
            files: 3,
            max_size: Some(262_144),
            block_size: Some(4096),
            dio_align: Some(4096),
            shift_align: Some(1024),
        };
        let mut text = header.to_string();
        assert!(
            text.contains(" block-size=4096 dio-align=4096 shift-align=1024\n"),
            "{text}"
        );
        for e in every_op() {
            text.push_str(&format!("{e}\n"));
        }
        let (h, entries) = parse_log(&text).unwrap();
        assert_eq!(h, header);
        assert_eq!(entries, every_op());
        // Without direct I/O and shifts the header has no dio-align and
        // no shift-align, as before.
        let header = Header {
            dio_align: None,
            shift_align: None,
            ..header
        };
        assert!(!header.to_string().contains("dio-align"));
        assert!(!header.to_string().contains("shift-align"));
        assert_eq!(parse_log(&header.to_string()).unwrap().0, header);
    }

    #[test]
    fn direct_ops() {
        let e = Entry {
            num: 9,
            file: Some(0),
            op: Op::DWrite {
                off: 512,
                len: 1024,
                seed: 0xab,
            },
        };
        assert_eq!(
            e.to_string(),
            "9 f0 dwrite off=512 len=1024 seed=0x00000000000000ab"
        );
        assert_eq!(Entry::parse(&e.to_string()), Ok(e));
        let e = Entry {
            num: 10,
            file: Some(1),
            op: Op::DRead {
                off: 4096,
                len: 8192,
            },
        };
        assert_eq!(e.to_string(), "10 f1 dread off=4096 len=8192");
        assert_eq!(Entry::parse(&e.to_string()), Ok(e));
        assert_eq!(e.op.kind(), Some(OpKind::Direct));
        assert_eq!(e.op.extent_end(), Some(12288));
        assert!(!e.op.is_global());
    }

    #[test]
    fn line_format() {
        let e = Entry {
            num: 7,
            file: Some(1),
            op: Op::Write {
                off: 10,
                len: 3,
                seed: 0xab,
            },
        };
        assert_eq!(
            e.to_string(),
            "7 f1 write off=10 len=3 seed=0x00000000000000ab"
        );
        let e = Entry {
            num: 8,
            file: Some(0),
            op: Op::Falloc {
                mode: FallocMode::PunchHole,
                off: 1,
                len: 2,
            },
        };
        assert_eq!(e.to_string(), "8 f0 falloc mode=punch_hole off=1 len=2");
        for (mode, text) in [
            (
                FallocMode::CollapseRange,
                "9 f0 falloc mode=collapse_range off=4096 len=8192",
            ),
            (
                FallocMode::InsertRange,
                "9 f0 falloc mode=insert_range off=4096 len=8192",
            ),
        ] {
            let e = Entry {
                num: 9,
                file: Some(0),
                op: Op::Falloc {
                    mode,
                    off: 4096,
                    len: 8192,
                },
            };
            assert_eq!(e.to_string(), text);
            assert_eq!(Entry::parse(text), Ok(e));
            assert_eq!(e.op.kind(), Some(OpKind::Falloc));
        }
        assert_eq!(
            Entry {
                num: 100,
                file: None,
                op: Op::Check
            }
            .to_string(),
            "100 * check"
        );
    }

    #[test]
    fn header_is_optional() {
        let (h, e) = parse_log("\n1 f0 read off=0 len=1\n").unwrap();
        assert_eq!(h, Header::default());
        assert_eq!(e.len(), 1);
    }

    #[test]
    fn bad_lines_are_rejected() {
        for (line, why) in [
            ("1 f0", "expected NUMBER"),
            ("x f0 fsync", "invalid operation number"),
            ("1 g0 fsync", "invalid file"),
            ("1 f0 frobnicate", "unknown operation"),
            ("1 f0 read off=1", "missing len="),
            ("1 f0 read off=1 len=2 seed=3", "unexpected parameter seed="),
            ("1 f0 read off=1 len", "not KEY=VALUE"),
            ("1 f0 read off=z len=1", "invalid off=z"),
            (
                "1 f0 falloc mode=bogus off=1 len=1",
                "unknown fallocate mode",
            ),
            ("1 f0 check", "use '*'"),
            ("1 * fsync", "needs a file"),
            ("1 f0 write off=0 len=0 seed=1", "zero length"),
            ("1 f0 dread off=0 len=0", "zero length"),
            ("1 f0 dwrite off=0 len=0 seed=1", "zero length"),
            ("1 f0 dwrite off=0 len=512", "missing seed="),
            (
                "1 f0 dread off=0 len=512 seed=1",
                "unexpected parameter seed=",
            ),
            ("1 * dread off=0 len=512", "needs a file"),
        ] {
            let err = Entry::parse(line).unwrap_err();
            assert!(err.contains(why), "{line}: {err}");
        }
        let err = parse_log("# files=2\n1 f0 fsync\n2 f2 fsync\n").unwrap_err();
        assert!(err.contains("f2"), "{err}");
        let err = parse_log("1 f0 fsync\nbogus\n").unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
        assert!(parse_log("# files=0\n").is_err());
        for bad in ["0", "256", "1000", "131072", "x"] {
            let err = parse_log(&format!("# dio-align={bad}\n")).unwrap_err();
            assert!(err.contains("invalid dio-align="), "{bad}: {err}");
        }
        for bad in ["0", "256", "1000", "x"] {
            let err = parse_log(&format!("# shift-align={bad}\n")).unwrap_err();
            assert!(err.contains("invalid shift-align="), "{bad}: {err}");
        }
        for bad in ["collapse_range", "insert_range"] {
            let err = Entry::parse(&format!("1 f0 falloc mode={bad} off=0 len=0")).unwrap_err();
            assert!(err.contains("zero length"), "{bad}: {err}");
        }
    }
}
