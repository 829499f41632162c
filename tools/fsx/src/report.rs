//! Mismatch descriptions and their report text.

use std::fmt::Write as _;

/// What a comparison found: the expected and the found bytes of one range of
/// one file, plus the expected and the found file size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// The file index.
    pub file: usize,
    /// What was compared ("pread", "whole-file check", ...).
    pub what: String,
    /// The file offset of the first byte of `expected` and `found`.
    pub start: u64,
    /// The bytes the model says the range holds.
    pub expected: Vec<u8>,
    /// The bytes the file returned (shorter than `expected` on a short read).
    pub found: Vec<u8>,
    /// The model's file size.
    pub expected_size: u64,
    /// The size fstat reported, if it could be read.
    pub found_size: Option<u64>,
}

/// The index of the first difference between `a` and `b`, counting a length
/// difference as a difference at the end of the shorter one.
pub fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => Some(i),
        None if a.len() != b.len() => Some(a.len().min(b.len())),
        None => None,
    }
}

/// Hex dump of the bytes of `data` (which starts at file offset `start`)
/// in the file range `from..to`, 16 to a line, each line prefixed with its
/// file offset and indented by `indent`.
fn hex_lines(out: &mut String, indent: &str, data: &[u8], start: u64, from: u64, to: u64) {
    let end = to.min(start + data.len() as u64);
    let mut off = from;
    if off >= end {
        let _ = writeln!(
            out,
            "{indent}(no bytes: the read ended at {:#x})",
            start + data.len() as u64
        );
        return;
    }
    while off < end {
        let line_end = ((off / 16 + 1) * 16).min(end);
        let _ = write!(out, "{indent}{off:#010x}:");
        // Keep columns aligned when a dump starts mid-line.
        for _ in 0..off % 16 {
            out.push_str("   ");
        }
        for o in off..line_end {
            let _ = write!(out, " {:02x}", data[(o - start) as usize]);
        }
        out.push('\n');
        off = line_end;
    }
}

impl Mismatch {
    /// The file offset of the first differing byte, if any byte differs
    /// (a mismatch found by fstat alone may have identical data).
    pub fn first_offset(&self) -> Option<u64> {
        first_difference(&self.expected, &self.found).map(|i| self.start + i as u64)
    }

    /// The multi-line description: first differing offset, up to 64
    /// expected and found bytes around it, and the sizes.
    pub fn describe(&self, path: &str) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "  file:     f{} = {path}", self.file);
        let _ = writeln!(
            s,
            "  compared: {} of bytes {:#x}..{:#x}",
            self.what,
            self.start,
            self.start + self.expected.len() as u64
        );
        match self.first_offset() {
            Some(off) => {
                let _ = writeln!(s, "  first differing offset: {off} ({off:#x})");
                if self.found.len() != self.expected.len() {
                    let _ = writeln!(
                        s,
                        "  length: expected {} bytes, found {}",
                        self.expected.len(),
                        self.found.len()
                    );
                }
                // A 64-byte window, 16-byte aligned, starting up to 16 bytes
                // before the difference and kept inside the compared range.
                let from = (off.saturating_sub(16) & !15).max(self.start);
                let to = from + 64;
                s.push_str("  expected:\n");
                hex_lines(&mut s, "    ", &self.expected, self.start, from, to);
                s.push_str("  found:\n");
                hex_lines(&mut s, "    ", &self.found, self.start, from, to);
            }
            None => s.push_str("  data: identical\n"),
        }
        let found = match self.found_size {
            Some(n) => n.to_string(),
            None => "unknown (fstat failed)".into(),
        };
        let _ = writeln!(
            s,
            "  file size: expected {}, found {found}",
            self.expected_size
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_difference_cases() {
        assert_eq!(first_difference(b"abc", b"abc"), None);
        assert_eq!(first_difference(b"abc", b"abd"), Some(2));
        assert_eq!(first_difference(b"abc", b"ab"), Some(2));
        assert_eq!(first_difference(b"", b"x"), Some(0));
    }

    #[test]
    fn describe_shows_window_around_difference() {
        let expected: Vec<u8> = (0..200).map(|i| i as u8).collect();
        let mut found = expected.clone();
        found[100] = 0xee;
        let m = Mismatch {
            file: 0,
            what: "pread".into(),
            start: 4000,
            expected,
            found,
            expected_size: 5000,
            found_size: Some(5000),
        };
        assert_eq!(m.first_offset(), Some(4100));
        let d = m.describe("/tmp/x");
        assert!(d.contains("first differing offset: 4100 (0x1004)"), "{d}");
        assert!(d.contains("file size: expected 5000, found 5000"), "{d}");
        // The window starts at 0xff0 (16 before 0x1004, rounded down), so
        // byte 0x1004 is on the second line of each dump: exactly one line
        // differs between the two dumps.
        let (e, f) = d.split_once("  found:\n").unwrap();
        let dump = |t: &str| -> Vec<String> {
            t.lines()
                .filter(|l| l.starts_with("    0x"))
                .map(str::to_owned)
                .collect()
        };
        let (e, f) = (dump(e), dump(f));
        // 64 bytes: 4 lines each, the first at 0xff0.
        assert_eq!((e.len(), f.len()), (4, 4), "{d}");
        assert!(e[0].starts_with("    0x00000ff0: 50 51"), "{d}");
        let diff: Vec<_> = e.iter().zip(&f).filter(|(a, b)| a != b).collect();
        assert_eq!(diff.len(), 1, "{d}");
        assert!(
            diff[0].0.starts_with("    0x00001000: 60 61 62 63 64 65"),
            "{d}"
        );
        assert!(
            diff[0].1.starts_with("    0x00001000: 60 61 62 63 ee 65"),
            "{d}"
        );
    }

    #[test]
    fn describe_short_read() {
        let m = Mismatch {
            file: 2,
            what: "pread".into(),
            start: 10,
            expected: vec![1, 2, 3, 4],
            found: vec![1, 2],
            expected_size: 14,
            found_size: Some(12),
        };
        let d = m.describe("p");
        assert!(d.contains("first differing offset: 12 (0xc)"), "{d}");
        assert!(d.contains("length: expected 4 bytes, found 2"), "{d}");
        assert!(
            d.contains("    0x0000000a:                               01 02 03 04"),
            "{d}"
        );
        assert!(
            d.contains("    0x0000000a:                               01 02\n"),
            "{d}"
        );
        assert!(d.contains("file size: expected 14, found 12"), "{d}");
    }
}
