//! The random operation generator.
//!
//! Filesystem bugs cluster at edges: the first and last byte of a block, a
//! range that starts one byte before a block and ends one byte into the
//! next, the block holding EOF, a write just past EOF.  Uniformly random
//! offsets in a 256 KiB file hit those edges rarely, so most offsets and
//! lengths here are drawn from the edges on purpose, and the rest uniformly
//! so that nothing in between is left out.

use crate::model::FallocMode;
use crate::op::Op;
use crate::prng::Rng;
use crate::weights::{OpKind, Weights};

/// Draws operations from one seeded stream.
#[derive(Debug)]
pub struct Generator {
    rng: Rng,
    max_size: u64,
    max_op_len: u64,
    block: u64,
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
        }
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
    /// among `modes` (which must not be empty if falloc has a weight).
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
            OpKind::Falloc => {
                let mode = match modes.len() {
                    0 => FallocMode::KeepSize,
                    n => modes[self.rng.below(n as u64) as usize],
                };
                let (off, len) = self.growing_range(size);
                Op::Falloc { mode, off, len }
            }
            OpKind::Fsync if self.rng.percent(50) => Op::Fsync,
            OpKind::Fsync => Op::Fdatasync,
            OpKind::Invalidate => Op::Invalidate,
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
