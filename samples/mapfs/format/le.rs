//! Bounds-checked little-endian field access on byte slices.
//!
//! Readers return `None` when the field does not fit in the slice; writers
//! return `false` (and write nothing). Nothing here can panic.

/// Reads `N` bytes at `off`.
pub(crate) fn get_array<const N: usize>(buf: &[u8], off: usize) -> Option<[u8; N]> {
    let end = off.checked_add(N)?;
    buf.get(off..end)?.try_into().ok()
}

/// Reads a `u8` at `off`.
pub(crate) fn get_u8(buf: &[u8], off: usize) -> Option<u8> {
    buf.get(off).copied()
}

/// Reads a little-endian `u16` at `off`.
pub(crate) fn get_u16(buf: &[u8], off: usize) -> Option<u16> {
    get_array(buf, off).map(u16::from_le_bytes)
}

/// Reads a little-endian `u32` at `off`.
pub(crate) fn get_u32(buf: &[u8], off: usize) -> Option<u32> {
    get_array(buf, off).map(u32::from_le_bytes)
}

/// Reads a little-endian `u64` at `off`.
pub(crate) fn get_u64(buf: &[u8], off: usize) -> Option<u64> {
    get_array(buf, off).map(u64::from_le_bytes)
}

/// Reads a little-endian `i64` at `off`.
pub(crate) fn get_i64(buf: &[u8], off: usize) -> Option<i64> {
    get_array(buf, off).map(i64::from_le_bytes)
}

/// Writes `bytes` at `off`.
pub(crate) fn put_bytes(buf: &mut [u8], off: usize, bytes: &[u8]) -> bool {
    let Some(end) = off.checked_add(bytes.len()) else {
        return false;
    };
    match buf.get_mut(off..end) {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            true
        }
        None => false,
    }
}

/// Writes a `u8` at `off`.
pub(crate) fn put_u8(buf: &mut [u8], off: usize, v: u8) -> bool {
    put_bytes(buf, off, &[v])
}

/// Writes a little-endian `u16` at `off`.
pub(crate) fn put_u16(buf: &mut [u8], off: usize, v: u16) -> bool {
    put_bytes(buf, off, &v.to_le_bytes())
}

/// Writes a little-endian `u32` at `off`.
pub(crate) fn put_u32(buf: &mut [u8], off: usize, v: u32) -> bool {
    put_bytes(buf, off, &v.to_le_bytes())
}

/// Writes a little-endian `u64` at `off`.
pub(crate) fn put_u64(buf: &mut [u8], off: usize, v: u64) -> bool {
    put_bytes(buf, off, &v.to_le_bytes())
}

/// Writes a little-endian `i64` at `off`.
pub(crate) fn put_i64(buf: &mut [u8], off: usize, v: i64) -> bool {
    put_bytes(buf, off, &v.to_le_bytes())
}

/// Fills `buf[off..off + len]` with zeros (clamped to the slice).
pub(crate) fn zero(buf: &mut [u8], off: usize, len: usize) {
    let end = off.saturating_add(len).min(buf.len());
    if let Some(dst) = buf.get_mut(off..end) {
        dst.fill(0);
    }
}
