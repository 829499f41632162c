//! The in-memory model of a file: what its bytes and size must be after the
//! operations done so far.
//!
//! The model is deliberately the simplest thing that can be right: a byte
//! vector whose length is the file size.  Holes, unwritten extents and
//! preallocated blocks all read as zeros, so they are all just zeros here.

use std::fmt;

/// The fallocate(2) modes the checker uses, each a separate choice because a
/// filesystem may support some and not others.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FallocMode {
    /// Mode 0: allocate blocks; extends the size if the range ends past EOF.
    Alloc,
    /// `FALLOC_FL_KEEP_SIZE`: allocate blocks, never change the size.
    KeepSize,
    /// `FALLOC_FL_ZERO_RANGE`: zero the range; extends the size like mode 0.
    ZeroRange,
    /// `FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE`: zero the part of the
    /// range inside the file, keep the size.
    ZeroRangeKeepSize,
    /// `FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE` (punching requires
    /// KEEP_SIZE): deallocate, so the part inside the file reads as zeros.
    PunchHole,
    /// `FALLOC_FL_COLLAPSE_RANGE`: remove the range and move the rest of
    /// the file down over it; the size shrinks by the length.  `off` and
    /// `len` must be multiples of the filesystem block size and the range
    /// must end before EOF.
    CollapseRange,
    /// `FALLOC_FL_INSERT_RANGE`: move the data from `off` on up by `len`,
    /// leaving a hole that reads as zeros; the size grows by the length.
    /// `off` and `len` must be multiples of the filesystem block size and
    /// `off` must be before EOF.
    InsertRange,
}

impl FallocMode {
    /// Every mode, in the order the generator numbers them.  The shift
    /// modes come last: the generator leaves them out unless it knows the
    /// alignment they need, and then numbers the others as it always did.
    pub const ALL: [FallocMode; 7] = [
        FallocMode::Alloc,
        FallocMode::KeepSize,
        FallocMode::ZeroRange,
        FallocMode::ZeroRangeKeepSize,
        FallocMode::PunchHole,
        FallocMode::CollapseRange,
        FallocMode::InsertRange,
    ];

    /// True for the modes that move data within the file (collapse and
    /// insert range), whose offset and length must be multiples of the
    /// filesystem block size and which a filesystem may not support at
    /// all.
    pub fn is_shift(self) -> bool {
        matches!(self, FallocMode::CollapseRange | FallocMode::InsertRange)
    }

    /// The name used in logs and messages.
    pub fn name(self) -> &'static str {
        match self {
            FallocMode::Alloc => "alloc",
            FallocMode::KeepSize => "keep_size",
            FallocMode::ZeroRange => "zero_range",
            FallocMode::ZeroRangeKeepSize => "zero_range_keep_size",
            FallocMode::PunchHole => "punch_hole",
            FallocMode::CollapseRange => "collapse_range",
            FallocMode::InsertRange => "insert_range",
        }
    }

    /// The mode called `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

impl fmt::Display for FallocMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Converts a file offset to a vector index.  Callers check offsets against
/// the model size limit before using the model, so this cannot fail on any
/// machine the tool runs on (64-bit Linux).
fn idx(x: u64) -> usize {
    usize::try_from(x).expect("file offset does not fit in usize")
}

/// The expected contents of one file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Model {
    data: Vec<u8>,
}

impl Model {
    /// An empty file.
    pub fn new() -> Self {
        Model::default()
    }

    /// The expected file size.
    pub fn size(&self) -> u64 {
        self.data.len() as u64
    }

    /// All the expected bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// What pread(off, len) must return: the bytes in the range, cut short
    /// at EOF (empty if `off` is at or past EOF).
    pub fn read(&self, off: u64, len: u64) -> &[u8] {
        let size = self.size();
        let start = off.min(size);
        let end = off.saturating_add(len).min(size);
        &self.data[idx(start)..idx(end)]
    }

    /// pwrite(off, bytes): writing past EOF leaves a gap that reads as zeros.
    pub fn write(&mut self, off: u64, bytes: &[u8]) {
        let end = off + bytes.len() as u64;
        if end > self.size() {
            self.data.resize(idx(end), 0);
        }
        self.data[idx(off)..idx(end)].copy_from_slice(bytes);
    }

    /// ftruncate(size): shrinking drops the tail, growing appends zeros.
    pub fn truncate(&mut self, size: u64) {
        self.data.resize(idx(size), 0);
    }

    /// Zeroes the bytes in `start..end` that lie inside the file.
    fn zero(&mut self, start: u64, end: u64) {
        let end = end.min(self.size());
        if start < end {
            self.data[idx(start)..idx(end)].fill(0);
        }
    }

    /// Why fallocate(`mode`, `off`, `len`) must fail with EINVAL whatever
    /// the alignment, or `None` if the range is acceptable; always `None`
    /// for the modes that are not shift modes.  Collapse range must end
    /// before EOF (strictly: a collapse up to EOF is what ftruncate is
    /// for), insert range must start before EOF, and both must have a
    /// length; `limit` is the largest size the file may grow to.
    pub fn shift_error(&self, mode: FallocMode, off: u64, len: u64, limit: u64) -> Option<String> {
        let size = self.size();
        let end = off.saturating_add(len);
        match mode {
            _ if !mode.is_shift() => None,
            _ if len == 0 => Some(format!("{mode} needs a length above 0")),
            FallocMode::CollapseRange if end >= size => Some(format!(
                "collapse_range off={off} len={len} does not end before EOF ({size})"
            )),
            FallocMode::InsertRange if off >= size => Some(format!(
                "insert_range off={off} does not start before EOF ({size})"
            )),
            FallocMode::InsertRange if size.saturating_add(len) > limit => Some(format!(
                "insert_range len={len} would grow the file from {size} past {limit} bytes"
            )),
            _ => None,
        }
    }

    /// fallocate(mode, off, len), following man 2 fallocate: without
    /// KEEP_SIZE a range ending past EOF extends the size (the new bytes
    /// read as zeros); zero range and punch hole make the range read as
    /// zeros, but only inside the (possibly extended) file.  Collapse range
    /// removes `off..off+len` and moves the rest down, insert range moves
    /// everything from `off` up by `len` and fills the gap with zeros.  A
    /// shift the kernel would refuse ([`shift_error`](Self::shift_error)
    /// with no size limit) changes nothing, as the refused call does not.
    pub fn falloc(&mut self, mode: FallocMode, off: u64, len: u64) {
        if mode.is_shift() && self.shift_error(mode, off, len, u64::MAX).is_some() {
            return;
        }
        let end = off + len;
        match mode {
            FallocMode::Alloc => {
                if end > self.size() {
                    self.truncate(end);
                }
            }
            FallocMode::KeepSize => {}
            FallocMode::ZeroRange => {
                if end > self.size() {
                    self.truncate(end);
                }
                self.zero(off, end);
            }
            FallocMode::ZeroRangeKeepSize | FallocMode::PunchHole => self.zero(off, end),
            FallocMode::CollapseRange => {
                self.data.drain(idx(off)..idx(end));
            }
            FallocMode::InsertRange => {
                let at = idx(off);
                self.data.splice(at..at, std::iter::repeat_n(0, idx(len)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(n: u8) -> Model {
        let mut m = Model::new();
        m.write(0, &(1..=n).collect::<Vec<u8>>());
        m
    }

    #[test]
    fn write_past_eof_leaves_zero_gap() {
        let mut m = Model::new();
        m.write(5, &[7, 8]);
        assert_eq!(m.bytes(), &[0, 0, 0, 0, 0, 7, 8]);
        m.write(1, &[9]);
        assert_eq!(m.bytes(), &[0, 9, 0, 0, 0, 7, 8]);
        assert_eq!(m.size(), 7);
    }

    #[test]
    fn read_is_short_at_eof() {
        let m = filled(10);
        assert_eq!(m.read(8, 5), &[9, 10]);
        assert_eq!(m.read(10, 5), &[] as &[u8]);
        assert_eq!(m.read(100, 5), &[] as &[u8]);
        assert_eq!(m.read(2, 3), &[3, 4, 5]);
        assert_eq!(m.read(0, u64::MAX).len(), 10);
    }

    #[test]
    fn truncate_shrinks_and_extends_with_zeros() {
        let mut m = filled(10);
        m.truncate(3);
        assert_eq!(m.bytes(), &[1, 2, 3]);
        m.truncate(6);
        assert_eq!(m.bytes(), &[1, 2, 3, 0, 0, 0]);
        m.truncate(0);
        assert_eq!(m.size(), 0);
    }

    #[test]
    fn falloc_alloc_extends_without_touching_data() {
        let mut m = filled(4);
        m.falloc(FallocMode::Alloc, 2, 1);
        assert_eq!(m.bytes(), &[1, 2, 3, 4]);
        m.falloc(FallocMode::Alloc, 3, 4);
        assert_eq!(m.bytes(), &[1, 2, 3, 4, 0, 0, 0]);
    }

    #[test]
    fn falloc_keep_size_changes_nothing() {
        let mut m = filled(4);
        m.falloc(FallocMode::KeepSize, 0, 100);
        assert_eq!(m, filled(4));
    }

    #[test]
    fn zero_range_zeroes_and_extends() {
        let mut m = filled(6);
        m.falloc(FallocMode::ZeroRange, 1, 2);
        assert_eq!(m.bytes(), &[1, 0, 0, 4, 5, 6]);
        m.falloc(FallocMode::ZeroRange, 4, 4);
        assert_eq!(m.bytes(), &[1, 0, 0, 4, 0, 0, 0, 0]);
        // Entirely past EOF: extends, the gap reads as zeros.
        m.falloc(FallocMode::ZeroRange, 10, 2);
        assert_eq!(m.size(), 12);
        assert_eq!(&m.bytes()[8..], &[0, 0, 0, 0]);
    }

    #[test]
    fn zero_range_keep_size_clips_at_eof() {
        let mut m = filled(6);
        m.falloc(FallocMode::ZeroRangeKeepSize, 4, 10);
        assert_eq!(m.bytes(), &[1, 2, 3, 4, 0, 0]);
        m.falloc(FallocMode::ZeroRangeKeepSize, 20, 10);
        assert_eq!(m.size(), 6);
    }

    #[test]
    fn punch_hole_zeroes_inside_and_keeps_size() {
        let mut m = filled(8);
        m.falloc(FallocMode::PunchHole, 2, 3);
        assert_eq!(m.bytes(), &[1, 2, 0, 0, 0, 6, 7, 8]);
        m.falloc(FallocMode::PunchHole, 7, 100);
        assert_eq!(m.bytes(), &[1, 2, 0, 0, 0, 6, 7, 0]);
        m.falloc(FallocMode::PunchHole, 50, 1);
        assert_eq!(m.size(), 8);
    }

    #[test]
    fn collapse_range_removes_and_shifts_down() {
        let mut m = filled(12);
        m.falloc(FallocMode::CollapseRange, 4, 4);
        assert_eq!(m.bytes(), &[1, 2, 3, 4, 9, 10, 11, 12]);
        assert_eq!(m.size(), 8);
        // From the start, leaving one byte.
        m.falloc(FallocMode::CollapseRange, 0, 7);
        assert_eq!(m.bytes(), &[12]);
    }

    #[test]
    fn insert_range_shifts_up_and_zero_fills() {
        let mut m = filled(8);
        m.falloc(FallocMode::InsertRange, 4, 4);
        assert_eq!(m.bytes(), &[1, 2, 3, 4, 0, 0, 0, 0, 5, 6, 7, 8]);
        assert_eq!(m.size(), 12);
        // At offset 0, the whole file moves up.
        m.falloc(FallocMode::InsertRange, 0, 2);
        assert_eq!(m.bytes(), &[0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 5, 6, 7, 8]);
        // Just before EOF: the last byte moves up alone.
        m.falloc(FallocMode::InsertRange, 13, 1);
        assert_eq!(m.size(), 15);
        assert_eq!(&m.bytes()[12..], &[7, 0, 8]);
    }

    /// A collapse followed by an insert of the same range gives back the
    /// size, with the collapsed bytes now zeros and everything else in
    /// place.
    #[test]
    fn collapse_then_insert_restores_size() {
        let bs = 1024;
        let mut m = Model::new();
        let data: Vec<u8> = (0..6 * bs).map(|i| (i % 251) as u8 + 1).collect();
        m.write(0, &data);
        m.falloc(FallocMode::CollapseRange, 2 * bs, 2 * bs);
        assert_eq!(m.size(), 4 * bs);
        assert_eq!(&m.bytes()[..idx(2 * bs)], &data[..idx(2 * bs)]);
        assert_eq!(&m.bytes()[idx(2 * bs)..], &data[idx(4 * bs)..]);
        m.falloc(FallocMode::InsertRange, 2 * bs, 2 * bs);
        assert_eq!(m.size(), 6 * bs);
        let mut expected = data.clone();
        expected[idx(2 * bs)..idx(4 * bs)].fill(0);
        assert_eq!(m.bytes(), expected.as_slice());
    }

    #[test]
    fn refused_shifts_change_nothing() {
        let m0 = filled(8);
        for (mode, off, len) in [
            // Collapse must end strictly before EOF.
            (FallocMode::CollapseRange, 4, 4),
            (FallocMode::CollapseRange, 0, 8),
            (FallocMode::CollapseRange, 6, 100),
            (FallocMode::CollapseRange, 20, 1),
            // Insert must start before EOF.
            (FallocMode::InsertRange, 8, 4),
            (FallocMode::InsertRange, 100, 1),
            (FallocMode::InsertRange, 2, 0),
            (FallocMode::CollapseRange, 2, 0),
        ] {
            assert!(m0.shift_error(mode, off, len, u64::MAX).is_some());
            let mut m = m0.clone();
            m.falloc(mode, off, len);
            assert_eq!(m, m0, "{mode} off={off} len={len}");
        }
        assert!(m0.shift_error(FallocMode::CollapseRange, 4, 3, 8).is_none());
        assert!(m0.shift_error(FallocMode::InsertRange, 7, 4, 12).is_none());
        let err = m0.shift_error(FallocMode::InsertRange, 7, 5, 12).unwrap();
        assert!(err.contains("past 12 bytes"), "{err}");
        // The other modes have no such rule.
        assert!(m0.shift_error(FallocMode::PunchHole, 100, 0, 0).is_none());
    }

    #[test]
    fn mode_names_round_trip() {
        for m in FallocMode::ALL {
            assert_eq!(FallocMode::from_name(m.name()), Some(m));
        }
        assert_eq!(FallocMode::from_name("bogus"), None);
        assert_eq!(
            FallocMode::from_name("collapse_range"),
            Some(FallocMode::CollapseRange)
        );
        assert_eq!(
            FallocMode::from_name("insert_range"),
            Some(FallocMode::InsertRange)
        );
        let shift: Vec<FallocMode> = FallocMode::ALL
            .into_iter()
            .filter(|m| m.is_shift())
            .collect();
        assert_eq!(shift, [FallocMode::CollapseRange, FallocMode::InsertRange]);
    }
}
