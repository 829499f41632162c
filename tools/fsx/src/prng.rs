//! A small deterministic pseudo-random number generator.
//!
//! Runs must be reproducible from the seed alone, on any machine and with
//! any compiler version, so the generator is defined here rather than taken
//! from a crate whose output may change between releases.  The algorithm is
//! SplitMix64 (a Weyl sequence passed through a 64-bit mixing function): it
//! is tiny, has no bad seeds (zero included) and its output is more than
//! good enough for choosing operations and filling buffers.

/// The generator state.  Cloning it forks an identical stream.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

/// The golden-ratio increment of the Weyl sequence.
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

impl Rng {
    /// A generator whose stream depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`; `n` must not be zero.
    ///
    /// Uses the high half of a 64x64-bit product rather than `%`, which
    /// avoids the division and most of the modulo bias.
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0, "Rng::below(0)");
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `lo..=hi` (`lo <= hi`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        debug_assert!(lo <= hi);
        match (hi - lo).checked_add(1) {
            Some(span) => lo + self.below(span),
            None => self.next_u64(),
        }
    }

    /// True with probability `percent`/100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let tail = chunks.into_remainder();
        if !tail.is_empty() {
            let bytes = self.next_u64().to_le_bytes();
            tail.copy_from_slice(&bytes[..tail.len()]);
        }
    }
}

/// The data written by a write or mapwrite operation: `len` bytes drawn from
/// a generator seeded with the operation's own data seed.  Giving each
/// operation its own seed keeps the log lines self-contained: a replay needs
/// no state from earlier operations to regenerate the data.
pub fn data(seed: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    Rng::new(seed).fill(&mut buf);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproducible() {
        let a: Vec<u64> = {
            let mut r = Rng::new(42);
            (0..10).map(|_| r.next_u64()).collect()
        };
        let mut r = Rng::new(42);
        let b: Vec<u64> = (0..10).map(|_| r.next_u64()).collect();
        assert_eq!(a, b);
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
        // Zero is a fine seed.
        assert_ne!(Rng::new(0).next_u64(), 0);
    }

    #[test]
    fn bounds() {
        let mut r = Rng::new(7);
        for n in 1..200 {
            assert!(r.below(n) < n);
            let x = r.range(n, n + 3);
            assert!((n..=n + 3).contains(&x));
        }
        assert_eq!(r.range(5, 5), 5);
        let _ = r.range(0, u64::MAX);
    }

    #[test]
    fn data_is_prefix_stable() {
        // A shorter buffer is a prefix of a longer one: the tail handling
        // must not shift the stream.
        let long = data(9, 37);
        let short = data(9, 13);
        assert_eq!(&long[..13], &short[..]);
        assert_eq!(data(9, 0), Vec::<u8>::new());
        assert_ne!(data(9, 16), data(10, 16));
    }
}
