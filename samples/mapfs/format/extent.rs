//! Extents and the in-memory extent-map editing logic.
//!
//! A file's block map is a list of [`Extent`]s kept sorted by file block,
//! non-overlapping and non-empty, with neighbours that are contiguous in
//! both file and disk blocks and in the same state merged (up to
//! [`MAX_EXTENT_LEN`]). [`ExtentList`] edits such a list in a caller-owned
//! slice: every operation first works out how many entries the result needs
//! and fails with [`ExtentError::NoSpace`] (leaving the list untouched) when
//! the slice is too small, so the caller can grow its buffer and retry.

/// Maximum number of blocks in one extent (the on-disk length field has 31
/// bits; bit 31 is the unwritten flag).
pub const MAX_EXTENT_LEN: u32 = (1 << 31) - 1;
/// Number of addressable file blocks: file blocks are `0..MAX_FILE_BLOCKS`.
pub const MAX_FILE_BLOCKS: u64 = 1 << 32;

/// One mapping of consecutive file blocks to consecutive disk blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extent {
    /// First file block (in units of the filesystem block size).
    pub file_block: u64,
    /// First disk block.
    pub disk_block: u64,
    /// Number of blocks, `1..=MAX_EXTENT_LEN`.
    pub len: u32,
    /// Allocated but not yet written: reads as zeros.
    pub unwritten: bool,
}

impl Extent {
    /// One past the last file block (saturating).
    pub fn end(&self) -> u64 {
        self.file_block.saturating_add(u64::from(self.len))
    }

    /// One past the last disk block (saturating).
    pub fn disk_end(&self) -> u64 {
        self.disk_block.saturating_add(u64::from(self.len))
    }

    /// Whether the extent is well formed on its own: non-empty, within
    /// [`MAX_EXTENT_LEN`] and [`MAX_FILE_BLOCKS`], and its disk range does not
    /// overflow.
    pub fn is_valid(&self) -> bool {
        self.len != 0
            && self.len <= MAX_EXTENT_LEN
            && self
                .file_block
                .checked_add(u64::from(self.len))
                .is_some_and(|e| e <= MAX_FILE_BLOCKS)
            && self.disk_block.checked_add(u64::from(self.len)).is_some()
    }

    /// Whether `next` directly follows `self` in file and disk blocks, in the
    /// same state, and the two fit in one extent.
    pub fn can_merge(&self, next: &Extent) -> bool {
        self.end() == next.file_block
            && self.disk_end() == next.disk_block
            && self.unwritten == next.unwritten
            && u64::from(self.len) + u64::from(next.len) <= u64::from(MAX_EXTENT_LEN)
    }
}

/// A run of disk blocks taken out of a file's map, reported to the caller
/// (which normally frees it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskRange {
    /// First disk block.
    pub disk_block: u64,
    /// Number of blocks.
    pub len: u64,
    /// Whether the blocks were mapped unwritten.
    pub unwritten: bool,
}

/// What a file block maps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mapping {
    /// The block is mapped.
    Mapped {
        /// Disk block of the looked-up file block.
        disk_block: u64,
        /// Blocks from the looked-up one to the end of its extent.
        len: u64,
        /// Whether the extent is unwritten.
        unwritten: bool,
    },
    /// The block is a hole.
    Hole {
        /// Blocks from the looked-up one to the next extent (or to
        /// [`MAX_FILE_BLOCKS`]).
        len: u64,
        /// Allocation goal: the disk block that would continue the previous
        /// extent contiguously, if there is a previous extent.
        goal: Option<u64>,
    },
}

/// Extent list errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtentError {
    /// The result needs `needed` entries but the buffer has fewer; nothing
    /// was changed.
    NoSpace {
        /// Entries the result needs.
        needed: usize,
    },
    /// An argument range or extent is empty, too long or past
    /// [`MAX_FILE_BLOCKS`].
    BadRange,
    /// The list violates an invariant at entry `index` (unsorted,
    /// overlapping, empty or out-of-range extent).
    Corrupt {
        /// Index of the offending entry.
        index: usize,
    },
}

impl core::fmt::Display for ExtentError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoSpace { needed } => write!(f, "extent list needs {} entries", needed),
            Self::BadRange => write!(f, "bad block range"),
            Self::Corrupt { index } => write!(f, "extent list corrupt at entry {}", index),
        }
    }
}

/// Checks that `extents` is sorted, non-overlapping and every extent valid.
/// (Unmerged neighbours are allowed; see [`is_normalized`].)
pub fn check_list(extents: &[Extent]) -> Result<(), ExtentError> {
    let mut prev_end = 0u64;
    for (index, e) in extents.iter().enumerate() {
        if !e.is_valid() || e.file_block < prev_end {
            return Err(ExtentError::Corrupt { index });
        }
        prev_end = e.end();
    }
    Ok(())
}

/// Whether `extents` satisfies [`check_list`] and no two neighbours could be
/// merged.
pub fn is_normalized(extents: &[Extent]) -> bool {
    check_list(extents).is_ok()
        && extents
            .windows(2)
            .all(|w| !matches!(w, [a, b] if a.can_merge(b)))
}

/// Total number of mapped blocks.
pub fn mapped_blocks(extents: &[Extent]) -> u64 {
    extents
        .iter()
        .fold(0u64, |acc, e| acc.saturating_add(u64::from(e.len)))
}

/// Looks up file block `fb` in a sorted extent list.
pub fn lookup(extents: &[Extent], fb: u64) -> Mapping {
    let i = extents.partition_point(|e| e.end() <= fb);
    let prev = i.checked_sub(1).and_then(|p| extents.get(p));
    match extents.get(i) {
        Some(e) if e.file_block <= fb => Mapping::Mapped {
            disk_block: e.disk_block.saturating_add(fb - e.file_block),
            len: e.end() - fb,
            unwritten: e.unwritten,
        },
        next => {
            let until = next.map_or(MAX_FILE_BLOCKS, |e| e.file_block);
            Mapping::Hole {
                len: until.saturating_sub(fb),
                goal: prev.map(|p| p.disk_block.saturating_add(fb.saturating_sub(p.file_block))),
            }
        }
    }
}

fn check_range(start: u64, len: u64) -> Result<u64, ExtentError> {
    match start.checked_add(len) {
        Some(end) if len != 0 && end <= MAX_FILE_BLOCKS => Ok(end),
        _ => Err(ExtentError::BadRange),
    }
}

/// `e` restricted to file blocks `a..b` (which must intersect it).
fn piece(e: &Extent, a: u64, b: u64) -> Extent {
    let a = a.max(e.file_block);
    let b = b.min(e.end());
    Extent {
        file_block: a,
        disk_block: e.disk_block.saturating_add(a - e.file_block),
        len: u32::try_from(b.saturating_sub(a)).unwrap_or(0),
        unwritten: e.unwritten,
    }
}

/// A sorted extent list in a caller-owned slice: `buf[..len]` are the
/// entries, `buf[len..]` spare capacity.
#[derive(Debug)]
pub struct ExtentList<'a> {
    buf: &'a mut [Extent],
    len: usize,
}

impl<'a> ExtentList<'a> {
    /// Wraps `buf` whose first `len` entries are the current list, after
    /// checking them with [`check_list`].
    pub fn new(buf: &'a mut [Extent], len: usize) -> Result<Self, ExtentError> {
        let cur = buf.get(..len).ok_or(ExtentError::BadRange)?;
        check_list(cur)?;
        Ok(Self { buf, len })
    }

    /// Wraps `buf` whose first `len` entries are a list the caller keeps
    /// valid itself (for example one built only through these operations),
    /// skipping the O(n) check of [`ExtentList::new`]. Operations on an
    /// invalid list give wrong results but never panic.
    pub fn new_trusted(buf: &'a mut [Extent], len: usize) -> Result<Self, ExtentError> {
        if len > buf.len() {
            return Err(ExtentError::BadRange);
        }
        Ok(Self { buf, len })
    }

    /// The entries.
    pub fn as_slice(&self) -> &[Extent] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Size of the underlying buffer.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Looks up file block `fb` (see [`lookup`]).
    pub fn lookup(&self, fb: u64) -> Mapping {
        lookup(self.as_slice(), fb)
    }

    /// Maps file blocks `ext.file_block .. ext.end()` to `ext`, replacing
    /// whatever was mapped there. Every disk range that was mapped in that
    /// range is passed to `displaced` (after the capacity check, so only
    /// when the operation succeeds). Needs at most two more entries than the
    /// current length.
    pub fn insert(
        &mut self,
        ext: Extent,
        displaced: impl FnMut(DiskRange),
    ) -> Result<(), ExtentError> {
        if !ext.is_valid() {
            return Err(ExtentError::BadRange);
        }
        self.splice(ext.file_block, ext.end(), Some(ext), displaced)
    }

    /// Unmaps file blocks `start .. start + len` (punch hole / truncate),
    /// passing every disk range removed to `freed`. Needs at most one more
    /// entry than the current length.
    pub fn remove(
        &mut self,
        start: u64,
        len: u64,
        freed: impl FnMut(DiskRange),
    ) -> Result<(), ExtentError> {
        let end = check_range(start, len)?;
        self.splice(start, end, None, freed)
    }

    /// Marks the mapped blocks in `start .. start + len` written (holes in the
    /// range are left alone), splitting unwritten extents at the range
    /// boundaries and merging afterwards. Needs at most two more entries than
    /// the current length.
    pub fn mark_written(&mut self, start: u64, len: u64) -> Result<(), ExtentError> {
        let end = check_range(start, len)?;
        let cur = self.as_slice();
        let i = cur.partition_point(|e| e.end() <= start);
        let j = cur.partition_point(|e| e.file_block < end);
        let overlapping = cur.get(i..j).unwrap_or(&[]);
        let mut extra = 0usize;
        if overlapping
            .first()
            .is_some_and(|e| e.unwritten && e.file_block < start)
        {
            extra += 1;
        }
        if overlapping
            .last()
            .is_some_and(|e| e.unwritten && e.end() > end)
        {
            extra += 1;
        }
        let needed = self.len.saturating_add(extra);
        if needed > self.capacity() {
            return Err(ExtentError::NoSpace { needed });
        }
        // Convert one unwritten extent at a time, from the left. Each step
        // keeps the invariants and stays within `needed` entries.
        let mut pos = start;
        while pos < end {
            let cur = self.as_slice();
            let k = cur.partition_point(|e| e.end() <= pos);
            let Some(e) = cur.get(k).copied() else { break };
            if e.file_block >= end {
                break;
            }
            let a = pos.max(e.file_block);
            let b = end.min(e.end());
            if e.unwritten {
                let mut w = piece(&e, a, b);
                w.unwritten = false;
                self.splice(a, b, Some(w), |_| {})?;
            }
            pos = b;
        }
        Ok(())
    }

    /// Collapse range: moves every extent from `start + len` on down by
    /// `len` blocks, merging the extents that meet at `start`. File blocks
    /// `start .. start + len` must be unmapped already ([`Self::remove`]),
    /// else [`ExtentError::BadRange`] and nothing changes. Needs no spare
    /// entry.
    pub fn shift_down(&mut self, start: u64, len: u64) -> Result<(), ExtentError> {
        let end = check_range(start, len)?;
        let cur = self.as_slice();
        let i = cur.partition_point(|e| e.end() <= start);
        if cur.get(i).is_some_and(|e| e.file_block < end) {
            return Err(ExtentError::BadRange);
        }
        for e in self.buf.get_mut(i..self.len).unwrap_or(&mut []) {
            e.file_block -= len;
        }
        self.merge_window(i.saturating_sub(1), (i + 1).min(self.len));
        Ok(())
    }

    /// Insert range: moves every extent from `start` on up by `len` blocks,
    /// splitting the one that crosses `start`, so that `start .. start +
    /// len` becomes a hole. [`ExtentError::BadRange`] if a mapped block
    /// would move past [`MAX_FILE_BLOCKS`]. Needs at most one more entry
    /// than the current length.
    pub fn shift_up(&mut self, start: u64, len: u64) -> Result<(), ExtentError> {
        check_range(start, len)?;
        let cur = self.as_slice();
        if cur.last().is_some_and(|e| e.end().saturating_add(len) > MAX_FILE_BLOCKS) {
            return Err(ExtentError::BadRange);
        }
        let mut i = cur.partition_point(|e| e.end() <= start);
        if let Some(e) = cur.get(i).copied().filter(|e| e.file_block < start) {
            let needed = self.len + 1;
            if needed > self.capacity() {
                return Err(ExtentError::NoSpace { needed });
            }
            self.buf.copy_within(i + 1..self.len, i + 2);
            let (left, right) = (piece(&e, e.file_block, start), piece(&e, start, e.end()));
            if let Some(l) = self.buf.get_mut(i) {
                *l = left;
            }
            if let Some(r) = self.buf.get_mut(i + 1) {
                *r = right;
            }
            self.len = needed;
            i += 1;
        }
        for e in self.buf.get_mut(i..self.len).unwrap_or(&mut []) {
            e.file_block += len;
        }
        Ok(())
    }

    /// Merges every pair of neighbours that can be merged.
    pub fn merge_all(&mut self) {
        let mut w = 0usize;
        let mut r = 0usize;
        while r < self.len {
            let Some(cur) = self.buf.get(r).copied() else {
                break;
            };
            let merged = match w.checked_sub(1).and_then(|p| self.buf.get_mut(p)) {
                Some(prev) if w > 0 && prev.can_merge(&cur) => {
                    prev.len += cur.len;
                    true
                }
                _ => false,
            };
            if !merged {
                if let Some(slot) = self.buf.get_mut(w) {
                    *slot = cur;
                }
                w += 1;
            }
            r += 1;
        }
        self.len = w;
    }

    /// Replaces file blocks `start..end` with `new` (which, if present,
    /// covers exactly that range), reporting displaced disk ranges.
    fn splice(
        &mut self,
        start: u64,
        end: u64,
        new: Option<Extent>,
        mut displaced: impl FnMut(DiskRange),
    ) -> Result<(), ExtentError> {
        let cur = self.as_slice();
        let i = cur.partition_point(|e| e.end() <= start);
        let j = cur.partition_point(|e| e.file_block < end).max(i);
        // At most three new items: left remnant, the new extent, right remnant.
        let mut items = [Extent::default(); 3];
        let mut n = 0usize;
        let mut push = |e: Extent| {
            if let Some(slot) = items.get_mut(n) {
                *slot = e;
                n += 1;
            }
        };
        if let Some(first) = cur.get(i).filter(|e| i < j && e.file_block < start) {
            push(piece(first, first.file_block, start));
        }
        if let Some(e) = new {
            push(e);
        }
        if let Some(last) = j
            .checked_sub(1)
            .and_then(|l| cur.get(l))
            .filter(|e| i < j && e.end() > end)
        {
            push(piece(last, end, last.end()));
        }
        let removed = j - i;
        let needed = (self.len - removed).saturating_add(n);
        if needed > self.capacity() {
            return Err(ExtentError::NoSpace { needed });
        }
        for e in cur.get(i..j).unwrap_or(&[]) {
            let p = piece(e, start, end);
            displaced(DiskRange {
                disk_block: p.disk_block,
                len: u64::from(p.len),
                unwritten: p.unwritten,
            });
        }
        // Move the tail to its new place, then write the new items.
        let tail_dst = i + n;
        if j != tail_dst && j < self.len {
            self.buf.copy_within(j..self.len, tail_dst);
        }
        for (k, item) in items.iter().take(n).enumerate() {
            if let Some(slot) = self.buf.get_mut(i + k) {
                *slot = *item;
            }
        }
        self.len = needed;
        // Merge across the edited window: from the entry before `i` to the
        // entry after the new items.
        let lo = i.saturating_sub(1);
        let hi = (i + n + 1).min(self.len);
        self.merge_window(lo, hi);
        Ok(())
    }

    /// Merges mergeable neighbours among entries `lo..hi`, shifting the
    /// rest of the list down.
    fn merge_window(&mut self, lo: usize, hi: usize) {
        let mut k = lo;
        let mut hi = hi;
        while k + 1 < hi && k + 1 < self.len {
            let (Some(a), Some(b)) = (self.buf.get(k).copied(), self.buf.get(k + 1).copied())
            else {
                break;
            };
            if a.can_merge(&b) {
                if let Some(slot) = self.buf.get_mut(k) {
                    slot.len += b.len;
                }
                self.buf.copy_within(k + 2..self.len, k + 1);
                self.len -= 1;
                hi -= 1;
            } else {
                k += 1;
            }
        }
    }
}
