//! The random operation generator.
//!
//! Filesystem bugs cluster at edges: the first and last byte of a block, a
//! range that starts one byte before a block and ends one byte into the
//! next, the block holding EOF, a write just past EOF.  Uniformly random
//! offsets in a 256 KiB file hit those edges rarely, so most offsets and
//! lengths here are drawn from the edges on purpose, and the rest uniformly
//! so that nothing in between is left out.
//!
//! Direct I/O (`dread`, `dwrite`) must use offsets and lengths that are
//! multiples of the direct I/O alignment: they are drawn the same way and
//! rounded down to it, so the aligned unit holding a block edge or EOF is
//! the one that comes up often.  Their lengths run from one alignment unit
//! to 64 KiB (less if `max_op_len` is less, but never less than one unit).
//!
//! Collapse and insert range (the shift modes of fallocate) are made only
//! when the generator is told their alignment
//! ([`with_shift_align`](Generator::with_shift_align)): the kernel refuses
//! them unless offset and length are multiples of the filesystem block
//! size, which the generator cannot find out for itself.  Their offsets and
//! lengths are drawn like the others' and rounded down to the alignment,
//! their lengths are one unit to `max_op_len` (rounded down, but at least
//! one unit), and every one is valid for the file's size: a collapse ends
//! before EOF, an insert starts before EOF and leaves the file at or below
//! the maximum size.  Without the alignment the other modes are chosen
//! exactly as before the shift modes existed, so a seed makes the same
//! operations it always did.

use crate::model::FallocMode;
use crate::op::{Op, DEFAULT_DIO_ALIGN, MAX_DIO_LEN};
use crate::prng::Rng;
use crate::weights::{OpKind, Weights};

/// Draws operations from one seeded stream.
#[derive(Debug)]
pub struct Generator {
    rng: Rng,
    max_size: u64,
    max_op_len: u64,
    block: u64,
    dio_align: u64,
    shift_align: Option<u64>,
}

impl Generator {
    /// A generator for files of at most `max_size` bytes (at least 1),
    /// operations of at most `max_op_len` bytes and offsets biased toward
    /// multiples of `block`.
    pub fn new(seed: u64, max_size: u64, max_op_len: u64, block: u64) -> Self {
        Generator {
            rng: Rng::new(seed),
            max_size: max_size.max(1),
            max_op_len: max_op_len.clamp(1, max_size.max(1)),
            block: block.max(1),
            dio_align: DEFAULT_DIO_ALIGN,
            shift_align: None,
        }
    }

    /// The same generator with direct I/O offsets and lengths made
    /// multiples of `align` (default [`DEFAULT_DIO_ALIGN`]).  Only the
    /// direct operations depend on it.
    pub fn with_dio_align(mut self, align: u64) -> Self {
        self.dio_align = align.max(1);
        self
    }

    /// The same generator with collapse and insert range enabled, their
    /// offsets and lengths multiples of `align` (which must be a multiple
    /// of the filesystem block size for the kernel to accept them), or
    /// with them disabled (`None`, the default).  Only the shift modes
    /// depend on it, and only if `modes` offers them to
    /// [`next_op`](Self::next_op).
    pub fn with_shift_align(mut self, align: Option<u64>) -> Self {
        self.shift_align = align.map(|a| a.max(1));
        self
    }

    /// Which of `files` files the next operation goes to.
    pub fn pick_file(&mut self, files: usize) -> usize {
        // Lossless both ways: usize is 64 bits on every supported target.
        self.rng.below(files as u64) as usize
    }

    /// A random offset in `0..limit` (`limit` at least 1): uniform, on a
    /// block boundary or one byte either side, near EOF (`size`), or near 0.
    fn offset(&mut self, limit: u64, size: u64) -> u64 {
        let b = self.block;
        let r = self.rng.below(100);
        let off = if r < 35 {
            self.rng.below(limit)
        } else if r < 65 {
            let k = self.rng.below(limit / b + 1);
            (k * b + self.rng.below(3)).saturating_sub(1)
        } else if r < 90 {
            if self.rng.percent(50) {
                // EOF itself or a byte either side.
                (size + self.rng.below(3)).saturating_sub(1)
            } else {
                // Within a block of EOF.
                (size + self.rng.below(2 * b + 1)).saturating_sub(b)
            }
        } else {
            self.rng.below(limit.min(16))
        };
        off.min(limit - 1)
    }

    /// A random length in `1..=max`: sub-block, whole blocks give or take a
    /// byte, or uniform.
    fn length(&mut self, max: u64) -> u64 {
        let b = self.block;
        let r = self.rng.below(100);
        let len = if r < 30 {
            self.rng.range(1, 16)
        } else if r < 60 {
            (self.rng.range(1, 4) * b + self.rng.below(3)).saturating_sub(1)
        } else {
            self.rng.range(1, self.max_op_len)
        };
        len.clamp(1, max.max(1))
    }

    /// A multiple of the direct I/O alignment below `limit` (at least 1):
    /// an [`offset`](Self::offset) rounded down.
    fn aligned_offset(&mut self, limit: u64, size: u64) -> u64 {
        let a = self.dio_align;
        self.offset(limit, size) / a * a
    }

    /// A multiple of the direct I/O alignment from one unit to `max` (a
    /// multiple of the alignment, at least one unit): a
    /// [`length`](Self::length) rounded down, but never to zero.
    fn aligned_length(&mut self, max: u64) -> u64 {
        let a = self.dio_align;
        (self.length(max) / a).max(1) * a
    }

    /// The longest direct operation: 64 KiB or `max_op_len`, whichever is
    /// less, rounded down to the alignment but at least one unit.
    fn max_dio_len(&self) -> u64 {
        let a = self.dio_align;
        (self.max_op_len.min(MAX_DIO_LEN) / a).max(1) * a
    }

    /// A direct read or write, half and half, on a file whose model is
    /// `size` bytes long.  Writes end at or below the maximum size, as
    /// plain writes do.  Reads start below the maximum size, mostly inside
    /// the file but often across or past EOF, and may end past the maximum
    /// size up to the next alignment unit.  With a maximum size below one
    /// unit no write fits, and a read is made instead.
    fn direct_op(&mut self, size: u64) -> Op {
        let a = self.dio_align;
        let write_end = self.max_size / a * a;
        if self.rng.percent(50) && write_end >= a {
            // off <= write_end - a, so at least one unit fits.
            let off = self.aligned_offset(write_end - a + 1, size);
            let len = self.aligned_length((write_end - off).min(self.max_dio_len()));
            Op::DWrite {
                off,
                len,
                seed: self.rng.next_u64(),
            }
        } else {
            let read_end = self.max_size.div_ceil(a) * a;
            let limit = (size + self.block.max(a)).min(self.max_size);
            // off < max_size, so off <= read_end - a.
            let off = self.aligned_offset(limit, size);
            let len = self.aligned_length((read_end - off).min(self.max_dio_len()));
            Op::DRead { off, len }
        }
    }

    /// The offset and length of a collapse or insert range aligned to `a`
    /// and valid for a file of `size` bytes, or `None` if there is none:
    /// a collapse needs a unit to remove with at least one byte after it
    /// (`size` above `a`), an insert a byte to insert before and room for a
    /// unit below the maximum size.
    fn shift_range(&mut self, mode: FallocMode, size: u64, a: u64) -> Option<(u64, u64)> {
        let max_len = (self.max_op_len / a).max(1) * a;
        if mode == FallocMode::CollapseRange {
            // The last multiple of `a` before EOF: the range must end at
            // or before it.
            let end = size.checked_sub(1)? / a * a;
            if end < a {
                return None;
            }
            let off = self.offset(end - a + 1, size) / a * a;
            let len = (self.length((end - off).min(max_len)) / a).max(1) * a;
            Some((off, len))
        } else {
            let room = self.max_size.checked_sub(size)? / a * a;
            if size == 0 || room < a {
                return None;
            }
            let off = self.offset(size, size) / a * a;
            let len = (self.length(room.min(max_len)) / a).max(1) * a;
            Some((off, len))
        }
    }

    /// A fallocate on a file whose model is `size` bytes long, its mode
    /// one of `modes` (the shift modes only with a shift alignment).  A
    /// shift mode that has no valid range at this size gives a write
    /// instead, which, growing the file, makes room for the next one.
    fn falloc_op(&mut self, modes: &[FallocMode], size: u64) -> Op {
        let shift = self.shift_align.is_some();
        let usable = |m: &&FallocMode| shift || !m.is_shift();
        let mode = match modes.iter().filter(usable).count() {
            0 => FallocMode::KeepSize,
            n => {
                let k = self.rng.below(n as u64) as usize;
                modes
                    .iter()
                    .filter(usable)
                    .nth(k)
                    .copied()
                    .unwrap_or(FallocMode::KeepSize)
            }
        };
        match self.shift_align {
            Some(a) if mode.is_shift() => match self.shift_range(mode, size, a) {
                Some((off, len)) => Op::Falloc { mode, off, len },
                None => {
                    let (off, len) = self.growing_range(size);
                    Op::Write {
                        off,
                        len,
                        seed: self.rng.next_u64(),
                    }
                }
            },
            _ => {
                let (off, len) = self.growing_range(size);
                Op::Falloc { mode, off, len }
            }
        }
    }

    /// A range for an operation that may grow the file: starts anywhere
    /// below the maximum size and ends at or below it.
    fn growing_range(&mut self, size: u64) -> (u64, u64) {
        let off = self.offset(self.max_size, size);
        let len = self.length((self.max_size - off).min(self.max_op_len));
        (off, len)
    }

    /// A new size for truncate: anywhere up to the maximum, a block
    /// boundary give or take a byte, near the current size, or zero.
    fn new_size(&mut self, size: u64) -> u64 {
        let b = self.block;
        let m = self.max_size;
        let r = self.rng.below(100);
        let s = if r < 40 {
            self.rng.range(0, m)
        } else if r < 70 {
            (self.rng.below(m / b + 1) * b + self.rng.below(3)).saturating_sub(1)
        } else if r < 90 {
            (size + self.rng.below(2 * b + 1)).saturating_sub(b)
        } else {
            0
        };
        s.min(m)
    }

    /// The next operation on a file whose model is `size` bytes long,
    /// chosen by `weights` (whose total must not be zero) and, for falloc,
    /// among `modes` (which must not be empty if falloc has a weight; its
    /// shift modes count only with a shift alignment).
    pub fn next_op(&mut self, weights: &Weights, modes: &[FallocMode], size: u64) -> Op {
        let kind = weights.pick(self.rng.below(weights.total()));
        match kind {
            OpKind::Read => {
                // Mostly inside the file, sometimes across or past EOF.
                let off = self.offset(size + self.block, size);
                let len = self.length(self.max_op_len);
                Op::Read { off, len }
            }
            OpKind::Write => {
                let (off, len) = self.growing_range(size);
                Op::Write {
                    off,
                    len,
                    seed: self.rng.next_u64(),
                }
            }
            // mmap of a range past EOF would fault, so mapread stays inside
            // the file; an empty file gets a plain read instead.
            OpKind::MapRead if size == 0 => {
                let len = self.length(self.max_op_len);
                Op::Read { off: 0, len }
            }
            OpKind::MapRead => {
                let off = self.offset(size, size);
                let len = self.length(size - off);
                Op::MapRead { off, len }
            }
            OpKind::MapWrite => {
                let (off, len) = self.growing_range(size);
                Op::MapWrite {
                    off,
                    len,
                    seed: self.rng.next_u64(),
                }
            }
            OpKind::Truncate => Op::Truncate {
                size: self.new_size(size),
            },
            OpKind::Falloc => self.falloc_op(modes, size),
            OpKind::Fsync if self.rng.percent(50) => Op::Fsync,
            OpKind::Fsync => Op::Fdatasync,
            OpKind::Invalidate => Op::Invalidate,
            OpKind::Direct => self.direct_op(size),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Model;
    use crate::prng;

    /// Runs the generator against a model alone and checks that every
    /// operation respects the limits the runner relies on.
    #[test]
    fn operations_stay_in_bounds() {
        for (max, block) in [(262_144, 4096), (1000, 512), (1, 4096), (5000, 1)] {
            let mut g = Generator::new(max ^ block, max, 65536, block);
            let mut m = Model::new();
            let w = Weights::default();
            for _ in 0..20_000 {
                let size = m.size();
                match g.next_op(&w, &FallocMode::ALL, size) {
                    Op::Read { len, .. } => assert!((1..=65536).contains(&len)),
                    Op::Write { off, len, seed } => {
                        assert!(len >= 1 && off + len <= max);
                        m.write(off, &prng::data(seed, len as usize));
                    }
                    Op::MapRead { off, len } => assert!(len >= 1 && off + len <= size),
                    Op::MapWrite { off, len, .. } => assert!(len >= 1 && off + len <= max),
                    Op::Truncate { size } => {
                        assert!(size <= max);
                        m.truncate(size);
                    }
                    Op::Falloc { mode, off, len } => {
                        assert!(len >= 1 && off + len <= max);
                        m.falloc(mode, off, len);
                    }
                    Op::Fsync | Op::Fdatasync | Op::Invalidate => {}
                    other => panic!("generated {other:?}"),
                }
                assert!(m.size() <= max);
            }
        }
    }

    /// With the default weights (direct I/O off) the stream of operations
    /// is the one the checker produced before direct I/O existed, so old
    /// seeds and logs still mean the same run.  The fingerprint was taken
    /// from the generator as it was before the direct operations were added.
    #[test]
    fn default_stream_is_unchanged() {
        let w = Weights::default();
        let mut g = Generator::new(42, 262_144, 65536, 4096);
        let mut m = Model::new();
        // FNV-1a over the Debug text of each operation.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for _ in 0..5000 {
            let op = g.next_op(&w, &FallocMode::ALL, m.size());
            match op {
                Op::Write { off, len, seed } | Op::MapWrite { off, len, seed } => {
                    m.write(off, &prng::data(seed, len as usize));
                }
                Op::Truncate { size } => m.truncate(size),
                Op::Falloc { mode, off, len } => m.falloc(mode, off, len),
                _ => {}
            }
            for b in format!("{op:?}\n").bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        assert_eq!(h, 0xeaa9_b8bf_14c9_e92b, "fingerprint {h:#018x}");
    }

    /// Direct operations with every other kind mixed in: offsets and
    /// lengths are multiples of the alignment, lengths run from one unit to
    /// 64 KiB, offsets stay below the maximum size, writes end at or below
    /// it, and the model never grows past it.
    #[test]
    fn direct_ops_are_aligned_and_in_bounds() {
        for (max, block, align, max_op) in [
            (262_144, 4096, 512, 65536),
            (262_144, 4096, 4096, 65536),
            (1 << 20, 4096, 65536, 65536),
            (100_000, 1024, 512, 65536),
            (5000, 512, 4096, 65536),
            (1000, 512, 512, 100),
            (300, 512, 512, 65536),
        ] {
            let mut g = Generator::new(max ^ align, max, max_op, block).with_dio_align(align);
            let mut m = Model::new();
            let mut w = Weights::default();
            w.set(OpKind::Direct, 30);
            let (mut reads, mut writes, mut past_eof, mut at_eof) = (0, 0, 0, 0);
            for _ in 0..20_000 {
                let size = m.size();
                match g.next_op(&w, &FallocMode::ALL, size) {
                    Op::DRead { off, len } => {
                        reads += 1;
                        assert_eq!(off % align, 0, "dread off={off} align={align}");
                        assert_eq!(len % align, 0, "dread len={len} align={align}");
                        assert!((align..=MAX_DIO_LEN).contains(&len), "dread len={len}");
                        assert!(off < max, "dread off={off} max={max}");
                        assert!(off + len <= max.div_ceil(align) * align);
                        if off + len > size {
                            past_eof += 1;
                        }
                        if off >= size {
                            at_eof += 1;
                        }
                    }
                    Op::DWrite { off, len, seed } => {
                        writes += 1;
                        assert_eq!(off % align, 0, "dwrite off={off} align={align}");
                        assert_eq!(len % align, 0, "dwrite len={len} align={align}");
                        assert!((align..=MAX_DIO_LEN).contains(&len), "dwrite len={len}");
                        assert!(off + len <= max, "dwrite off={off} len={len} max={max}");
                        m.write(off, &prng::data(seed, len as usize));
                    }
                    Op::Write { off, len, seed } | Op::MapWrite { off, len, seed } => {
                        m.write(off, &prng::data(seed, len as usize));
                    }
                    Op::Truncate { size } => m.truncate(size),
                    Op::Falloc { mode, off, len } => m.falloc(mode, off, len),
                    _ => {}
                }
                assert!(m.size() <= max);
            }
            assert!(reads > 2000, "{max}/{align}: {reads} dreads");
            if max >= align {
                assert!(writes > 2000, "{max}/{align}: {writes} dwrites");
                // Reads across and past EOF come up, not just inside.
                assert!(past_eof > 100 && at_eof > 20, "{past_eof} {at_eof}");
            } else {
                assert_eq!(writes, 0, "no dwrite fits in {max} bytes");
            }
        }
    }

    /// Lengths cover the range: one unit, a block, near 64 KiB and in
    /// between.
    #[test]
    fn direct_lengths_vary() {
        let mut g = Generator::new(9, 1 << 20, 65536, 4096).with_dio_align(512);
        let mut w = Weights::default();
        w.apply_spec(
            "read=0,write=0,mapread=0,mapwrite=0,truncate=0,falloc=0,fsync=0,invalidate=0,direct=1",
        )
        .unwrap();
        let lens: Vec<u64> = (0..5000)
            .map(|_| match g.next_op(&w, &[], 200_000) {
                Op::DRead { len, .. } | Op::DWrite { len, .. } => len,
                other => panic!("generated {other:?}"),
            })
            .collect();
        assert!(lens.contains(&512));
        assert!(lens.contains(&4096));
        assert!(lens.iter().any(|&l| l >= 60 << 10));
        assert!(lens.iter().any(|&l| l > 8192 && l < 60 << 10));
    }

    /// Block edges and EOF must come up far more often than chance.
    #[test]
    fn offsets_favour_edges() {
        let mut g = Generator::new(1, 1 << 20, 65536, 4096);
        let n = 10_000;
        let mut edges = 0;
        let mut eof = 0;
        for _ in 0..n {
            let off = g.offset(1 << 20, 100_000);
            if matches!(off % 4096, 0 | 1 | 4095) {
                edges += 1;
            }
            if off.abs_diff(100_000) <= 1 {
                eof += 1;
            }
        }
        // Uniform offsets would give about 0.07% for each.
        assert!(edges > n / 5, "{edges}");
        assert!(eof > n / 20, "{eof}");
    }

    #[test]
    fn same_seed_same_operations() {
        let w = Weights::default();
        let mut a = Generator::new(5, 262_144, 65536, 4096);
        let mut b = Generator::new(5, 262_144, 65536, 4096);
        for size in 0..1000 {
            assert_eq!(
                a.next_op(&w, &FallocMode::ALL, size * 7),
                b.next_op(&w, &FallocMode::ALL, size * 7)
            );
        }
    }

    /// Applies a generated operation to the model, as the runner would.
    fn apply(m: &mut Model, op: Op) {
        match op {
            Op::Write { off, len, seed } | Op::MapWrite { off, len, seed } => {
                m.write(off, &prng::data(seed, len as usize));
            }
            Op::DWrite { off, len, seed } => m.write(off, &prng::data(seed, len as usize)),
            Op::Truncate { size } => m.truncate(size),
            Op::Falloc { mode, off, len } => m.falloc(mode, off, len),
            _ => {}
        }
    }

    /// With a shift alignment, collapse and insert range come up among the
    /// other operations, and every one is aligned and valid for the size
    /// the file has when it runs: the kernel would refuse nothing.
    #[test]
    fn shift_ops_are_aligned_and_valid() {
        for (max, block, align, max_op) in [
            (262_144, 4096, 4096, 65536),
            (262_144, 4096, 1024, 65536),
            (262_144, 1024, 1024, 65536),
            (1 << 20, 4096, 65536, 65536),
            (100_000, 512, 512, 65536),
            (20_000, 4096, 4096, 1000),
            (3 * 4096, 4096, 4096, 65536),
        ] {
            let mut g = Generator::new(max ^ align ^ 0x5eed, max, max_op, block)
                .with_shift_align(Some(align));
            let mut m = Model::new();
            let mut w = Weights::default();
            w.set(OpKind::Falloc, 20);
            let (mut collapses, mut inserts) = (0, 0);
            let (mut collapse_to_eof, mut insert_at_0) = (0, 0);
            for _ in 0..20_000 {
                let size = m.size();
                let op = g.next_op(&w, &FallocMode::ALL, size);
                if let Op::Falloc { mode, off, len } = op {
                    if mode.is_shift() {
                        let what = format!("{mode} off={off} len={len} size={size} max={max}");
                        assert_eq!(off % align, 0, "{what}");
                        assert_eq!(len % align, 0, "{what}");
                        assert!(len >= align && len <= max_op.max(align), "{what}");
                        assert_eq!(m.shift_error(mode, off, len, max), None, "{what}");
                        if mode == FallocMode::CollapseRange {
                            assert!(off + len < size, "{what}");
                            collapses += 1;
                            if size - (off + len) < align {
                                collapse_to_eof += 1;
                            }
                        } else {
                            assert!(off < size && size + len <= max, "{what}");
                            inserts += 1;
                            if off == 0 {
                                insert_at_0 += 1;
                            }
                        }
                    } else {
                        assert!(len >= 1 && off + len <= max);
                    }
                }
                apply(&mut m, op);
                assert!(m.size() <= max);
            }
            let what = format!("max={max} align={align}");
            // About 900 and 700 with room to move; fewer inserts when the
            // maximum size is only a few units.
            assert!(collapses > 150, "{what}: {collapses} collapses");
            assert!(inserts > 150, "{what}: {inserts} inserts");
            // The edges come up: a collapse up to the last unit before
            // EOF, an insert at the start.
            assert!(collapse_to_eof > 20, "{what}: {collapse_to_eof}");
            assert!(insert_at_0 > 20, "{what}: {insert_at_0}");
        }
    }

    /// Without a shift alignment no collapse or insert is ever made, even
    /// when the modes list offers them, and the other modes all come up.
    #[test]
    fn shift_ops_need_the_alignment() {
        let mut w = Weights::default();
        w.set(OpKind::Falloc, 40);
        let mut g = Generator::new(77, 262_144, 65536, 1024);
        let mut m = Model::new();
        let mut seen = Vec::new();
        for _ in 0..20_000 {
            let op = g.next_op(&w, &FallocMode::ALL, m.size());
            if let Op::Falloc { mode, .. } = op {
                assert!(!mode.is_shift(), "generated {op:?}");
                if !seen.contains(&mode) {
                    seen.push(mode);
                }
            }
            apply(&mut m, op);
        }
        assert_eq!(seen.len(), 5, "{seen:?}");
    }

    /// A shift mode that has no valid range at the current size gives a
    /// write instead; so does one that would not fit below the maximum.
    #[test]
    fn impossible_shifts_become_writes() {
        let mut w = Weights::default();
        w.apply_spec("read=0,write=0,mapread=0,mapwrite=0,truncate=0,fsync=0,invalidate=0")
            .unwrap();
        let mut g = Generator::new(4, 65536, 65536, 4096).with_shift_align(Some(4096));
        for (mode, size) in [
            (FallocMode::CollapseRange, 0),
            (FallocMode::CollapseRange, 4096),
            (FallocMode::InsertRange, 0),
            (FallocMode::InsertRange, 65536 - 4095),
        ] {
            for _ in 0..100 {
                match g.next_op(&w, &[mode], size) {
                    Op::Write { off, len, .. } => assert!(off + len <= 65536),
                    other => panic!("{mode} at size {size}: generated {other:?}"),
                }
            }
        }
        // Just enough: one byte after the first unit for a collapse of it;
        // one unit of file and one of room for an insert of a unit at 0.
        let mut g = Generator::new(4, 8192, 65536, 4096).with_shift_align(Some(4096));
        for (mode, size) in [
            (FallocMode::CollapseRange, 4097),
            (FallocMode::InsertRange, 4096),
            (FallocMode::InsertRange, 1),
        ] {
            for _ in 0..100 {
                assert_eq!(
                    g.next_op(&w, &[mode], size),
                    Op::Falloc {
                        mode,
                        off: 0,
                        len: 4096
                    }
                );
            }
        }
    }

    #[test]
    fn disabled_modes_are_not_chosen() {
        let mut w = Weights::default();
        w.apply_spec("read=0,write=0,mapread=0,mapwrite=0,truncate=0,fsync=0,invalidate=0")
            .unwrap();
        let mut g = Generator::new(3, 10_000, 4096, 512);
        for _ in 0..1000 {
            match g.next_op(&w, &[FallocMode::PunchHole], 5000) {
                Op::Falloc {
                    mode: FallocMode::PunchHole,
                    ..
                } => {}
                other => panic!("generated {other:?}"),
            }
        }
    }
}
