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
}

impl FallocMode {
    /// Every mode, in the order the generator numbers them.
    pub const ALL: [FallocMode; 5] = [
        FallocMode::Alloc,
        FallocMode::KeepSize,
        FallocMode::ZeroRange,
        FallocMode::ZeroRangeKeepSize,
        FallocMode::PunchHole,
    ];

    /// The name used in logs and messages.
    pub fn name(self) -> &'static str {
        match self {
            FallocMode::Alloc => "alloc",
            FallocMode::KeepSize => "keep_size",
            FallocMode::ZeroRange => "zero_range",
            FallocMode::ZeroRangeKeepSize => "zero_range_keep_size",
            FallocMode::PunchHole => "punch_hole",
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

    /// fallocate(mode, off, len), following man 2 fallocate: without
    /// KEEP_SIZE a range ending past EOF extends the size (the new bytes
    /// read as zeros); zero range and punch hole make the range read as
    /// zeros, but only inside the (possibly extended) file.
    pub fn falloc(&mut self, mode: FallocMode, off: u64, len: u64) {
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
    fn mode_names_round_trip() {
        for m in FallocMode::ALL {
            assert_eq!(FallocMode::from_name(m.name()), Some(m));
        }
        assert_eq!(FallocMode::from_name("bogus"), None);
    }
}
