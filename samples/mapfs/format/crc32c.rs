//! CRC32C (Castagnoli, reflected polynomial 0x82F63B78), table driven.
//!
//! Every checksum in mapfs is a standard CRC32C: initial value `!0`, final
//! XOR `!0`, as used by iSCSI, ext4 and btrfs. [`crc32c`] computes it over one
//! buffer and [`crc32c_append`] continues it over further data, so that
//! `crc32c_append(crc32c(a), b) == crc32c(a ‖ b)`.

/// The reflected CRC32C polynomial.
const POLY: u32 = 0x82F6_3B78;

/// Byte-wise lookup table, generated at compile time.
const TABLE: [u32; 256] = make_table();

const fn make_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0usize;
    while i < 256 {
        // `i < 256`, so the conversion is lossless.
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// Continues a raw (not finalised) CRC register over `data`.
fn update(mut reg: u32, data: &[u8]) -> u32 {
    for &b in data {
        let idx = (reg ^ u32::from(b)) & 0xFF;
        // `idx <= 255` and the table has 256 entries; `get` keeps this panic free.
        let t = TABLE.get(idx as usize).copied().unwrap_or(0);
        reg = (reg >> 8) ^ t;
    }
    reg
}

/// CRC32C of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    !update(!0, data)
}

/// Continues a finished CRC32C value `crc` (of some data `a`) over `data`,
/// giving the CRC32C of `a ‖ data`.
pub fn crc32c_append(crc: u32, data: &[u8]) -> u32 {
    !update(!crc, data)
}

/// The per-filesystem checksum seed: `crc32c(uuid)`.
///
/// Every metadata checksum except the superblock's starts from this seed, so
/// a block copied from another mapfs filesystem never verifies.
pub fn fs_seed(uuid: &[u8; 16]) -> u32 {
    crc32c(uuid)
}

/// Metadata checksum: `crc32c(uuid ‖ le64(ino) ‖ le64(block) ‖ data)`, given
/// `seed == fs_seed(uuid)`. `ino` or `block` is omitted (not hashed at all)
/// when `None`; see the format documentation for which structure uses which.
pub fn meta_csum(seed: u32, ino: Option<u64>, block: Option<u64>, data: &[u8]) -> u32 {
    let mut c = seed;
    if let Some(i) = ino {
        c = crc32c_append(c, &i.to_le_bytes());
    }
    if let Some(b) = block {
        c = crc32c_append(c, &b.to_le_bytes());
    }
    crc32c_append(c, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_vector() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn append_is_concatenation() {
        let a = b"hello, ";
        let b = b"world";
        assert_eq!(crc32c_append(crc32c(a), b), crc32c(b"hello, world"));
    }

    #[test]
    fn meta_csum_matches_concatenation() {
        let uuid = [7u8; 16];
        let mut all = [0u8; 16 + 8 + 8 + 3];
        all[..16].copy_from_slice(&uuid);
        all[16..24].copy_from_slice(&5u64.to_le_bytes());
        all[24..32].copy_from_slice(&9u64.to_le_bytes());
        all[32..].copy_from_slice(b"abc");
        assert_eq!(
            meta_csum(fs_seed(&uuid), Some(5), Some(9), b"abc"),
            crc32c(&all)
        );
    }
}
