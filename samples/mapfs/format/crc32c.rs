//! CRC32C (Castagnoli, reflected polynomial 0x82F63B78), table driven
//! (slicing-by-8).
//!
//! Every checksum in mapfs is a standard CRC32C: initial value `!0`, final
//! XOR `!0`, as used by iSCSI, ext4 and btrfs. [`crc32c`] computes it over one
//! buffer and [`crc32c_append`] continues it over further data, so that
//! `crc32c_append(crc32c(a), b) == crc32c(a ‖ b)`.

/// The reflected CRC32C polynomial.
const POLY: u32 = 0x82F6_3B78;

/// Slicing-by-8 lookup tables, generated at compile time.
///
/// `TABLES[0]` is the ordinary byte-wise table (the CRC register after
/// feeding one byte `i` into a zero register); `TABLES[k][i]` is the same
/// byte followed by `k` zero bytes. One step of [`update`] folds eight input
/// bytes at once by XOR-ing one entry from each table.
static TABLES: [[u32; 256]; 8] = make_tables();

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

const fn make_tables() -> [[u32; 256]; 8] {
    let mut tables = [[0u32; 256]; 8];
    tables[0] = make_table();
    let mut k = 1usize;
    while k < 8 {
        let mut i = 0usize;
        while i < 256 {
            // One more zero byte through the byte-wise step.
            let prev = tables[k - 1][i];
            tables[k][i] = (prev >> 8) ^ tables[0][(prev & 0xFF) as usize];
            i += 1;
        }
        k += 1;
    }
    tables
}

/// Entry `x & 0xFF` of table `K`.
#[inline(always)]
fn lookup<const K: usize>(x: u64) -> u32 {
    // `K < 8` at every call site and `x & 0xFF <= 255` indexes a 256-entry
    // table; `get` keeps this panic free (the compiler removes the checks).
    TABLES
        .get(K)
        .and_then(|t| t.get((x & 0xFF) as usize))
        .copied()
        .unwrap_or(0)
}

/// Continues a raw (not finalised) CRC register over `data`.
///
/// Eight bytes per step (slicing-by-8), then the remainder byte-wise.
fn update(mut reg: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        // `chunks_exact(8)` yields 8-byte chunks, so the conversion never
        // fails; `unwrap_or` keeps this panic free.
        let bytes = <[u8; 8]>::try_from(chunk).unwrap_or([0; 8]);
        let w = u64::from_le_bytes(bytes) ^ u64::from(reg);
        reg = lookup::<7>(w)
            ^ lookup::<6>(w >> 8)
            ^ lookup::<5>(w >> 16)
            ^ lookup::<4>(w >> 24)
            ^ lookup::<3>(w >> 32)
            ^ lookup::<2>(w >> 40)
            ^ lookup::<1>(w >> 48)
            ^ lookup::<0>(w >> 56);
    }
    for &b in chunks.remainder() {
        reg = (reg >> 8) ^ lookup::<0>(u64::from(reg ^ u32::from(b)));
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

    /// The byte-wise table on its own, independent of [`TABLES`].
    const REF_TABLE: [u32; 256] = make_table();

    /// Byte-wise reference: the plain one-table algorithm (the previous
    /// implementation of [`update`]).
    fn update_bytewise(mut reg: u32, data: &[u8]) -> u32 {
        for &b in data {
            let idx = (reg ^ u32::from(b)) & 0xFF;
            let t = REF_TABLE.get(idx as usize).copied().unwrap_or(0);
            reg = (reg >> 8) ^ t;
        }
        reg
    }

    /// Bit-at-a-time reference (no table at all).
    fn update_bitwise(mut reg: u32, data: &[u8]) -> u32 {
        for &b in data {
            reg ^= u32::from(b);
            for _ in 0..8 {
                reg = if reg & 1 != 0 {
                    (reg >> 1) ^ POLY
                } else {
                    reg >> 1
                };
            }
        }
        reg
    }

    use super::super::testutil::XorShift;

    #[test]
    fn tables_match_definition() {
        assert_eq!(TABLES[0], REF_TABLE);
        for k in 0..8 {
            for i in 0..256u32 {
                let mut data = [0u8; 8];
                data[0] = i as u8;
                // Byte `i` then `k` zero bytes, from a zero register.
                assert_eq!(TABLES[k][i as usize], update_bitwise(0, &data[..=k]));
            }
        }
    }

    #[test]
    fn slicing_matches_bytewise_all_short_lengths() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut buf = [0u8; 300 + 8];
        for round in 0..8 {
            rng.fill(&mut buf);
            let seed = rng.next() as u32;
            for len in 0..=300usize {
                // Every misalignment of the start within a word as well.
                let off = (round + len) % 8;
                let data = &buf[off..off + len];
                let want = update_bytewise(seed, data);
                assert_eq!(update(seed, data), want, "len {} off {}", len, off);
                assert_eq!(update_bitwise(seed, data), want);
                assert_eq!(crc32c(data), !update_bytewise(!0, data));
            }
        }
    }

    #[test]
    fn slicing_matches_bytewise_blocks() {
        let mut rng = XorShift(0x0123_4567_89AB_CDEF);
        let mut buf = [0u8; 4096 + 16];
        for round in 0..16 {
            rng.fill(&mut buf);
            if round == 0 {
                buf.fill(0);
            } else if round == 1 {
                buf.fill(0xFF);
            }
            for off in [0usize, 1, 3, 8, 13] {
                let data = &buf[off..off + 4096];
                assert_eq!(update(!0, data), update_bytewise(!0, data));
                // Split anywhere: append must still be concatenation.
                let cut = (rng.next() % 4097) as usize;
                let (a, b) = data.split_at(cut);
                assert_eq!(crc32c_append(crc32c(a), b), crc32c(data));
            }
        }
    }

    #[test]
    fn known_vectors() {
        // RFC 3720 (iSCSI) appendix B.4 test vectors.
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xFFu8; 32]), 0x62A8_AB43);
        let mut inc = [0u8; 32];
        for (i, b) in inc.iter_mut().enumerate() {
            *b = i as u8;
        }
        assert_eq!(crc32c(&inc), 0x46DD_794E);
        let mut dec = [0u8; 32];
        for (i, b) in dec.iter_mut().enumerate() {
            *b = 31 - i as u8;
        }
        assert_eq!(crc32c(&dec), 0x113F_DB5C);
    }

    /// Rough throughput check: `cargo test --release -- --ignored --nocapture bench_`.
    #[test]
    #[ignore]
    fn bench_crc32c_4k() {
        let mut rng = XorShift(42);
        let mut buf = [0u8; 4096];
        rng.fill(&mut buf);
        let iters = 100_000u32;
        let t = std::time::Instant::now();
        let mut acc = 0u32;
        for i in 0..iters {
            acc ^= update(i, core::hint::black_box(&buf));
        }
        let fast = t.elapsed();
        let t = std::time::Instant::now();
        for i in 0..iters {
            acc ^= update_bytewise(i, core::hint::black_box(&buf));
        }
        let slow = t.elapsed();
        std::println!(
            "crc32c 4 KiB x {}: slicing-by-8 {:?}, byte-wise {:?}, speedup x{}/100 ({})",
            iters,
            fast,
            slow,
            slow.as_nanos() * 100 / fast.as_nanos().max(1),
            acc
        );
    }

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
