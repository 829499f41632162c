//! Inode and block bitmaps.
//!
//! Bit `i` (bit `i % 8` of byte `i / 8`, least significant first) is 1 when
//! object `i` is in use. Each bitmap block holds `(block_size - 4) * 8` bits
//! followed by a 4-byte little-endian CRC32C:
//! `crc32c(uuid ‖ le64(disk_block) ‖ bits)`. Bits past the object count in
//! the last bitmap block are set to 1 (so searches never return them).
//!
//! The bit functions work on any byte slice (one block's data area, or a
//! whole in-memory bitmap) and never panic: out-of-range arguments give
//! [`BitmapError::OutOfRange`] or `None`.

use super::crc32c::meta_csum;
use super::layout::BITMAP_TAIL;
use super::le::{get_u32, put_u32};

/// Bitmap errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitmapError {
    /// A bit range does not fit in the slice.
    OutOfRange,
    /// The block is smaller than its checksum tail.
    TooShort,
    /// The block checksum does not match.
    BadChecksum {
        /// Stored value.
        stored: u32,
        /// Computed value.
        computed: u32,
    },
}

impl core::fmt::Display for BitmapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::OutOfRange => write!(f, "bit range out of range"),
            Self::TooShort => write!(f, "bitmap block too short"),
            Self::BadChecksum { stored, computed } => {
                write!(
                    f,
                    "bad checksum (stored {:#010x}, computed {:#010x})",
                    stored, computed
                )
            }
        }
    }
}

fn nbits_of(bits: &[u8]) -> u64 {
    (bits.len() as u64).saturating_mul(8)
}

fn check_range(bits: &[u8], start: u64, len: u64) -> Result<u64, BitmapError> {
    let end = start.checked_add(len).ok_or(BitmapError::OutOfRange)?;
    if end > nbits_of(bits) {
        return Err(BitmapError::OutOfRange);
    }
    Ok(end)
}

/// Value of bit `i`, or `None` if out of range.
pub fn test_bit(bits: &[u8], i: u64) -> Option<bool> {
    let byte = bits.get(usize::try_from(i / 8).ok()?)?;
    Some(byte & (1u8 << (i % 8)) != 0)
}

fn apply(bits: &mut [u8], start: u64, len: u64, set: bool) -> Result<(), BitmapError> {
    let end = check_range(bits, start, len)?;
    let mut i = start;
    while i < end {
        let idx = usize::try_from(i / 8).map_err(|_| BitmapError::OutOfRange)?;
        let byte = bits.get_mut(idx).ok_or(BitmapError::OutOfRange)?;
        if i & 7 == 0 && end - i >= 8 {
            *byte = if set { 0xFF } else { 0 };
            i += 8;
        } else {
            let m = 1u8 << (i % 8);
            if set {
                *byte |= m;
            } else {
                *byte &= !m;
            }
            i += 1;
        }
    }
    Ok(())
}

/// Sets bits `start..start + len`.
pub fn set_bits(bits: &mut [u8], start: u64, len: u64) -> Result<(), BitmapError> {
    apply(bits, start, len, true)
}

/// Clears bits `start..start + len`.
pub fn clear_bits(bits: &mut [u8], start: u64, len: u64) -> Result<(), BitmapError> {
    apply(bits, start, len, false)
}

/// Number of bits equal to `value` in `start..start + len`.
pub fn count_in_range(bits: &[u8], start: u64, len: u64, value: bool) -> Result<u64, BitmapError> {
    let end = check_range(bits, start, len)?;
    let mut ones = 0u64;
    let mut i = start;
    while i < end {
        let idx = usize::try_from(i / 8).map_err(|_| BitmapError::OutOfRange)?;
        let byte = *bits.get(idx).ok_or(BitmapError::OutOfRange)?;
        if i & 7 == 0 && end - i >= 8 {
            ones += u64::from(byte.count_ones());
            i += 8;
        } else {
            ones += u64::from(byte & (1u8 << (i % 8)) != 0);
            i += 1;
        }
    }
    Ok(if value { ones } else { len - ones })
}

/// Whether every bit in `start..start + len` is 1.
pub fn all_set(bits: &[u8], start: u64, len: u64) -> Result<bool, BitmapError> {
    Ok(count_in_range(bits, start, len, false)? == 0)
}

/// Whether every bit in `start..start + len` is 0.
pub fn all_clear(bits: &[u8], start: u64, len: u64) -> Result<bool, BitmapError> {
    Ok(count_in_range(bits, start, len, true)? == 0)
}

/// Number of zero (free) bits among the first `nbits` (clamped to the slice).
pub fn count_free(bits: &[u8], nbits: u64) -> u64 {
    let n = nbits.min(nbits_of(bits));
    count_in_range(bits, 0, n, false).unwrap_or(0)
}

/// First bit equal to `ONE` in `from..end` (`end` at most the slice's bit
/// count), or `None`.
///
/// Works 64 bits at a time: from the byte holding `from`, each 8 bytes are
/// one little-endian word whose bit `k` is map bit `base + k`, so the first
/// match in a word is its lowest set bit (after inverting, when looking for
/// a zero). Words with no match are skipped whole. Bits past the slice (in
/// the last, short word) read as not matching.
fn first_bit<const ONE: bool>(bits: &[u8], from: u64, end: u64) -> Option<u64> {
    if from >= end {
        return None;
    }
    let rest = bits.get(usize::try_from(from / 8).ok()?..)?;
    // Map bit number of bit 0 of the current word.
    let mut base = from - from % 8;
    // Bits below `from` in the first word are not candidates.
    let mut mask = !0u64 << (from % 8);
    let fill = if ONE { 0 } else { 0xFF };
    let matches = |w: u64| if ONE { w } else { !w };
    let found = |base: u64, hits: u64| {
        let i = base.checked_add(u64::from(hits.trailing_zeros()))?;
        if i < end {
            Some(i)
        } else {
            None
        }
    };
    let mut words = rest.chunks_exact(8);
    for chunk in &mut words {
        // `chunks_exact(8)` gives 8-byte chunks, so this never falls back.
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or([fill; 8]));
        let hits = matches(w) & mask;
        if hits != 0 {
            return found(base, hits);
        }
        base = base.checked_add(64)?;
        if base >= end {
            return None;
        }
        mask = !0;
    }
    let mut tail = [fill; 8];
    for (d, s) in tail.iter_mut().zip(words.remainder()) {
        *d = *s;
    }
    let hits = matches(u64::from_le_bytes(tail)) & mask;
    if hits != 0 {
        return found(base, hits);
    }
    None
}

/// First zero bit in `from..nbits` (`nbits` clamped to the slice).
pub fn find_zero(bits: &[u8], nbits: u64, from: u64) -> Option<u64> {
    let n = nbits.min(nbits_of(bits));
    first_bit::<false>(bits, from, n)
}

/// Length of the run of zero bits starting at `start`, at most `max_len`,
/// not crossing `nbits`.
pub fn zero_run_len(bits: &[u8], nbits: u64, start: u64, max_len: u64) -> u64 {
    let n = nbits.min(nbits_of(bits));
    let limit = start.saturating_add(max_len).min(n);
    // The run ends at the first one bit, or at `limit`.
    first_bit::<true>(bits, start, limit)
        .unwrap_or(limit)
        .saturating_sub(start)
}

/// Allocator search: finds a free run of up to `max_len` bits near `goal`.
///
/// Returns `(start, len)` with `1 <= len <= max_len`: the first zero bit at
/// or after `goal` (wrapping around to 0 once), extended while bits stay
/// zero. `None` when no bit among the first `nbits` is free or `max_len == 0`.
pub fn find_free_run(bits: &[u8], nbits: u64, goal: u64, max_len: u64) -> Option<(u64, u64)> {
    if max_len == 0 {
        return None;
    }
    let n = nbits.min(nbits_of(bits));
    let goal = if goal >= n { 0 } else { goal };
    let start = find_zero(bits, n, goal).or_else(|| find_zero(bits, goal, 0))?;
    let len = zero_run_len(bits, n, start, max_len);
    Some((start, len))
}

/// The bit area of a bitmap block (everything but the checksum tail).
pub fn block_bits(block: &[u8]) -> Result<&[u8], BitmapError> {
    let n = block
        .len()
        .checked_sub(BITMAP_TAIL)
        .ok_or(BitmapError::TooShort)?;
    block.get(..n).ok_or(BitmapError::TooShort)
}

/// Mutable bit area of a bitmap block.
pub fn block_bits_mut(block: &mut [u8]) -> Result<&mut [u8], BitmapError> {
    let n = block
        .len()
        .checked_sub(BITMAP_TAIL)
        .ok_or(BitmapError::TooShort)?;
    block.get_mut(..n).ok_or(BitmapError::TooShort)
}

/// Checksum of a bitmap block stored at `disk_block`.
pub fn block_csum(seed: u32, disk_block: u64, block: &[u8]) -> Result<u32, BitmapError> {
    Ok(meta_csum(seed, None, Some(disk_block), block_bits(block)?))
}

/// Recomputes and stores the checksum of a bitmap block.
pub fn set_block_csum(seed: u32, disk_block: u64, block: &mut [u8]) -> Result<(), BitmapError> {
    let c = block_csum(seed, disk_block, block)?;
    let n = block
        .len()
        .checked_sub(BITMAP_TAIL)
        .ok_or(BitmapError::TooShort)?;
    if put_u32(block, n, c) {
        Ok(())
    } else {
        Err(BitmapError::TooShort)
    }
}

/// Verifies the checksum of a bitmap block.
pub fn verify_block_csum(seed: u32, disk_block: u64, block: &[u8]) -> Result<(), BitmapError> {
    let computed = block_csum(seed, disk_block, block)?;
    let n = block
        .len()
        .checked_sub(BITMAP_TAIL)
        .ok_or(BitmapError::TooShort)?;
    let stored = get_u32(block, n).ok_or(BitmapError::TooShort)?;
    if stored == computed {
        Ok(())
    } else {
        Err(BitmapError::BadChecksum { stored, computed })
    }
}

/// Initialises a bitmap block: clears the first `valid_bits` bits, sets the
/// padding bits after them, and stores the checksum.
pub fn init_block(
    seed: u32,
    disk_block: u64,
    block: &mut [u8],
    valid_bits: u64,
) -> Result<(), BitmapError> {
    let bits = block_bits_mut(block)?;
    let total = nbits_of(bits);
    let valid = valid_bits.min(total);
    clear_bits(bits, 0, valid)?;
    set_bits(bits, valid, total - valid)?;
    set_block_csum(seed, disk_block, block)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit-by-bit reference for [`find_zero`].
    fn naive_find_zero(bits: &[u8], nbits: u64, from: u64) -> Option<u64> {
        let n = nbits.min(nbits_of(bits));
        (from..n).find(|&i| test_bit(bits, i) == Some(false))
    }

    /// Bit-by-bit reference for [`zero_run_len`].
    fn naive_zero_run_len(bits: &[u8], nbits: u64, start: u64, max_len: u64) -> u64 {
        let n = nbits.min(nbits_of(bits));
        let limit = start.saturating_add(max_len).min(n);
        let mut i = start;
        while i < limit && test_bit(bits, i) == Some(false) {
            i += 1;
        }
        i.saturating_sub(start)
    }

    /// Reference for [`find_free_run`], straight from its documentation.
    fn naive_find_free_run(bits: &[u8], nbits: u64, goal: u64, max_len: u64) -> Option<(u64, u64)> {
        if max_len == 0 {
            return None;
        }
        let n = nbits.min(nbits_of(bits));
        let goal = if goal >= n { 0 } else { goal };
        let start = (goal..n)
            .chain(0..goal)
            .find(|&i| test_bit(bits, i) == Some(false))?;
        Some((start, naive_zero_run_len(bits, n, start, max_len)))
    }

    use super::super::testutil::XorShift;

    /// Fills `bits` in one of several styles: independent bits with a set
    /// probability of `k / 16`, or runs of zeros and ones (mean length
    /// `run`), as an allocator leaves them.
    fn fill(rng: &mut XorShift, bits: &mut [u8], style: u32) {
        match style {
            0..=16 => {
                for b in bits.iter_mut() {
                    let mut v = 0u8;
                    for k in 0..8 {
                        if rng.below(16) < u64::from(style) {
                            v |= 1 << k;
                        }
                    }
                    *b = v;
                }
            }
            _ => {
                let run = [3u64, 20, 70, 300][(style as usize - 17) % 4];
                let mut one = rng.next() & 1 != 0;
                let nb = nbits_of(bits);
                for i in 0..nb {
                    if rng.below(run) == 0 {
                        one = !one;
                    }
                    let (idx, m) = ((i / 8) as usize, 1u8 << (i % 8));
                    if one {
                        bits[idx] |= m;
                    } else {
                        bits[idx] &= !m;
                    }
                }
            }
        }
    }

    const STYLES: [u32; 11] = [0, 1, 4, 8, 12, 15, 16, 17, 18, 19, 20];

    const MAX_LENS: [u64; 12] = [0, 1, 2, 7, 8, 9, 63, 64, 65, 129, 1000, u64::MAX];

    fn nbits_choices(len: usize, rng: &mut XorShift) -> [u64; 7] {
        let total = len as u64 * 8;
        [
            0,
            total,
            total.saturating_sub(1),
            total.saturating_sub(rng.below(70)),
            rng.below(total + 1),
            total + 5,
            u64::MAX,
        ]
    }

    /// Every `from`/`start`/`goal` position (and a few past the end) on
    /// small maps of every length up to 24 bytes.
    #[test]
    fn small_maps_match_reference_everywhere() {
        let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
        let mut buf = [0u8; 24];
        let mut checked = 0u64;
        for len in 0..=buf.len() {
            for &style in &STYLES {
                for _round in 0..3 {
                    let bits = &mut buf[..len];
                    fill(&mut rng, bits, style);
                    let bits = &*bits;
                    for nbits in nbits_choices(len, &mut rng) {
                        let total = nbits_of(bits);
                        let positions = (0..=total + 2).chain([u64::MAX - 1, u64::MAX]);
                        for p in positions {
                            assert_eq!(
                                find_zero(bits, nbits, p),
                                naive_find_zero(bits, nbits, p),
                                "find_zero len {} nbits {} from {} bits {:02x?}",
                                len,
                                nbits,
                                p,
                                bits
                            );
                            for &m in &MAX_LENS {
                                assert_eq!(
                                    zero_run_len(bits, nbits, p, m),
                                    naive_zero_run_len(bits, nbits, p, m),
                                    "zero_run_len len {} nbits {} start {} max {} bits {:02x?}",
                                    len,
                                    nbits,
                                    p,
                                    m,
                                    bits
                                );
                                assert_eq!(
                                    find_free_run(bits, nbits, p, m),
                                    naive_find_free_run(bits, nbits, p, m),
                                    "find_free_run len {} nbits {} goal {} max {} bits {:02x?}",
                                    len,
                                    nbits,
                                    p,
                                    m,
                                    bits
                                );
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 100_000);
    }

    /// Block-sized maps (and odd sizes near them), random positions.
    #[test]
    fn large_maps_match_reference() {
        let mut rng = XorShift(0xD1B5_4A32_D192_ED03);
        let mut buf = [0u8; 4096 + 13];
        for (round, len) in [4096usize, 4092, 4096 + 13, 1001, 520, 4095]
            .into_iter()
            .cycle()
            .take(60)
            .enumerate()
        {
            let style = STYLES[round % STYLES.len()];
            let bits = &mut buf[..len];
            fill(&mut rng, bits, style);
            // Sometimes leave a single free bit (or none) in a full map.
            if round % 7 == 3 {
                bits.fill(0xFF);
                let b = rng.below(nbits_of(bits) + 1);
                let _ = clear_bits(bits, b.min(nbits_of(bits)), u64::from(b < nbits_of(bits)));
            }
            let bits = &*bits;
            for nbits in nbits_choices(len, &mut rng) {
                let total = nbits_of(bits);
                for _ in 0..300 {
                    let p = rng.below(total + 3);
                    let m = match rng.below(4) {
                        0 => MAX_LENS[rng.below(MAX_LENS.len() as u64) as usize],
                        1 => rng.below(total + 2),
                        _ => rng.below(300),
                    };
                    assert_eq!(find_zero(bits, nbits, p), naive_find_zero(bits, nbits, p));
                    assert_eq!(
                        zero_run_len(bits, nbits, p, m),
                        naive_zero_run_len(bits, nbits, p, m)
                    );
                    assert_eq!(
                        find_free_run(bits, nbits, p, m),
                        naive_find_free_run(bits, nbits, p, m)
                    );
                }
            }
        }
    }

    #[test]
    fn word_boundaries() {
        // All used except one bit, for every bit of a 3-word map; then all
        // free except one bit.
        let mut bits = [0u8; 24];
        for hole in 0..192u64 {
            bits.fill(0xFF);
            clear_bits(&mut bits, hole, 1).unwrap();
            for from in 0..192 {
                let want = if from <= hole { Some(hole) } else { None };
                assert_eq!(find_zero(&bits, 192, from), want);
                assert_eq!(find_zero(&bits, hole, from), None);
            }
            assert_eq!(find_free_run(&bits, 192, hole + 1, 5), Some((hole, 1)));
            bits.fill(0);
            set_bits(&mut bits, hole, 1).unwrap();
            for start in 0..=hole {
                assert_eq!(zero_run_len(&bits, 192, start, u64::MAX), hole - start);
                assert_eq!(zero_run_len(&bits, 192, start, 3), (hole - start).min(3));
            }
            assert_eq!(zero_run_len(&bits, 192, hole + 1, u64::MAX), 191 - hole);
            assert_eq!(zero_run_len(&bits, hole + 1, hole + 1, u64::MAX), 0);
        }
    }
}
