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

/// First zero bit in `from..nbits` (`nbits` clamped to the slice).
pub fn find_zero(bits: &[u8], nbits: u64, from: u64) -> Option<u64> {
    let n = nbits.min(nbits_of(bits));
    let mut i = from;
    while i < n {
        let byte = *bits.get(usize::try_from(i / 8).ok()?)?;
        if i & 7 == 0 && byte == 0xFF {
            i = i.checked_add(8)?;
            continue;
        }
        if byte & (1u8 << (i % 8)) == 0 {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Length of the run of zero bits starting at `start`, at most `max_len`,
/// not crossing `nbits`.
pub fn zero_run_len(bits: &[u8], nbits: u64, start: u64, max_len: u64) -> u64 {
    let n = nbits.min(nbits_of(bits));
    let limit = start.saturating_add(max_len).min(n);
    let mut i = start;
    while i < limit {
        match test_bit(bits, i) {
            Some(false) => i += 1,
            _ => break,
        }
    }
    i.saturating_sub(start)
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
