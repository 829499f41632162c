//! mapfs on-disk format.
//!
//! Everything here is plain `core` Rust: no allocation, no `unsafe`, no
//! panics on any input. Decoders take byte slices and return errors as
//! values; operations on variable-sized things work in caller-provided
//! buffers or through callbacks. All integers are little-endian. The
//! format is described in `Documentation/mapfs/format.rst`, whose
//! sections follow these modules:
//!
//! - [`crc32c`] holds the checksum and how metadata checksums are seeded,
//! - [`layout`] holds block sizes, limits and region placement,
//! - [`super_block`] holds the superblock and its validation,
//! - [`bitmap`] holds inode and block bitmaps,
//! - [`inode`] holds inodes,
//! - [`extent`] holds extents and in-memory extent-list editing,
//! - [`emap`] holds a file's extent map in memory, as the leaves of its
//!   tree (O(log n) lookups and edits, incremental writeback),
//! - [`tree`] holds the on-disk extent tree (walk and encode),
//! - [`reserve`] bounds the extents a map can reach before it reserves
//!   again (what the extent tree's reservation covers),
//! - [`check`] holds the checks of an inode as a whole (block count, link
//!   count, shape, blocks claimed twice),
//! - [`dir`] holds directory blocks,
//! - [`symlink`] holds symbolic link targets,
//! - [`xattr`] holds extended attributes (the inode extension and the
//!   xattr block).

#![forbid(unsafe_code)]

pub mod bitmap;
pub mod check;
pub mod crc32c;
pub mod dir;
pub mod emap;
pub mod extent;
pub mod inode;
pub mod layout;
mod le;
pub mod recover;
pub mod reserve;
pub mod super_block;
pub mod symlink;
pub mod tree;
pub mod xattr;

/// Largest file size in bytes for a block size: `2^32 * block_size`
/// (file blocks are 32-bit on disk).
pub fn max_file_size(block_size: u32) -> u64 {
    extent::MAX_FILE_BLOCKS.saturating_mul(u64::from(block_size))
}

/// Helpers shared by the format's unit tests.
#[cfg(test)]
pub(crate) mod testutil {
    /// A small deterministic PRNG (xorshift64) for randomized tests.
    pub(crate) struct XorShift(pub(crate) u64);

    impl XorShift {
        pub(crate) fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        /// A value in `0..n` (0 when `n` is 0).
        pub(crate) fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }

        /// Fills `buf` with pseudo-random bytes.
        pub(crate) fn fill(&mut self, buf: &mut [u8]) {
            for b in buf {
                *b = self.next() as u8;
            }
        }
    }
}
