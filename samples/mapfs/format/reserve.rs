//! How many extents a file's map can come to hold before it is asked
//! again: what the extent tree's reservation must cover, so that writing
//! the inode back never fails for lack of space.
//!
//! Most changes of a map happen where `ENOSPC` can still be returned (a
//! write, a fault, fallocate, punch) and reserve the tree's growth first.
//! Three happen where it cannot, and must already be covered:
//!
//! - writeback gives a **delayed allocation** its blocks, as unwritten
//!   extents, in as many pieces as free space is fragmented;
//! - an I/O completion **converts** the range it wrote from unwritten to
//!   written, splitting an unwritten extent at each end of the range;
//! - the same, for blocks of a delayed allocation that writeback allocated
//!   but an earlier I/O did not cover.
//!
//! A file has at most one extent per data block, so reserving for as many
//! extents as data blocks is always enough ([`Counts::data_blocks`]); but
//! for a large preallocated file that is about one tree block per 250
//! blocks of preallocation, space nobody will use (a 1 GiB fallocate would
//! reserve 4 MiB it never needs). The sharper bound counts what can
//! change: only blocks **handed out** to a write or a write fault (or
//! allocated from a delayed allocation) and not converted yet can be
//! converted, and each can add at most two extents (split off on both
//! sides); each delayed block can become an extent of its own and then be
//! converted (three). The tree must cover the smaller of the two bounds.
//!
//! Why no change without a reservation raises the sharper bound:
//! - writeback allocating `got` delayed blocks in `r <= got` pieces: `r`
//!   more extents, `got` more handed-out blocks, `got` fewer delayed ones:
//!   `r + 2 * got - 3 * got <= 0`;
//! - a completion converting a range with `k >= 1` handed-out blocks in
//!   it: at most two more extents (the two ends), `k` fewer handed-out
//!   blocks: `2 - 2 * k <= 0`. A range without any handed-out block has no
//!   unwritten block to convert (every block a completion covers was
//!   written, so it was handed out before), and changes nothing.
//!
//! `tools/mapfs-format/tests/reserve.rs` checks both against random
//! sequences of every change.

/// What a map holds now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Data blocks mapped (written or unwritten).
    pub data_blocks: u64,
    /// Extents in the map.
    pub extents: u64,
    /// Blocks of unwritten extents handed out and not converted yet.
    pub handed_out: u64,
    /// Blocks of delayed allocations (reserved, no disk block yet).
    pub delalloc: u64,
}

/// The worst a change about to be made adds to a map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Growth {
    /// New data blocks (or delayed ones).
    pub data_blocks: u64,
    /// New extents, counting what the new handed-out or delayed blocks
    /// may become.
    pub extents: u64,
}

impl Growth {
    /// A new delayed allocation of `n` blocks.
    pub const fn delalloc(n: u64) -> Self {
        Self { data_blocks: n, extents: n.saturating_mul(3) }
    }

    /// `n` blocks of unwritten extents handed out to a write or a write
    /// fault (converted when the I/O completes).
    pub const fn handout(n: u64) -> Self {
        Self { data_blocks: 0, extents: n.saturating_mul(2) }
    }

    /// A new extent of `n` blocks that nothing converts behind our back
    /// (fallocate, a directory block).
    pub const fn new_extent(n: u64) -> Self {
        Self { data_blocks: n, extents: 1 }
    }

    /// A new unwritten extent of `n` blocks handed out to a direct write.
    pub const fn direct(n: u64) -> Self {
        Self::new_extent(n).and(Self::handout(n))
    }

    /// One extent cut in two (punch, insert range, a written extent past
    /// the EOF block turned unwritten).
    pub const fn split() -> Self {
        Self { data_blocks: 0, extents: 1 }
    }

    /// Both changes.
    pub const fn and(self, other: Self) -> Self {
        Self {
            data_blocks: self.data_blocks.saturating_add(other.data_blocks),
            extents: self.extents.saturating_add(other.extents),
        }
    }
}

/// The most extents a map holding `c` can reach after the change `g`,
/// without another reservation.
pub fn extent_bound(c: Counts, g: Growth) -> u64 {
    let by_blocks = c.data_blocks.saturating_add(c.delalloc).saturating_add(g.data_blocks);
    let by_changes = c
        .extents
        .saturating_add(c.handed_out.saturating_mul(2))
        .saturating_add(c.delalloc.saturating_mul(3))
        .saturating_add(g.extents);
    by_blocks.min(by_changes)
}

/// The most blocks a filesystem keeps back from ordinary allocations,
/// whatever its size.
pub const POOL_MAX: u64 = 512;

/// The blocks a filesystem of `data_blocks` data blocks keeps back for the
/// tree growth of writes into preallocated space (XFS's reserve pool,
/// `m_resblks`): a fallocate promises that writing the range will not fail
/// for lack of space, but each write's conversion may split an unwritten
/// extent in three, and the new extents need tree blocks. Ordinary
/// allocations and reservations leave these blocks free (and `statfs` does
/// not count them); a write into preallocated space may take them. A 32nd
/// of the data area, at most [`POOL_MAX`]: 512 tree blocks hold 32,000
/// extents at 1 KiB blocks and 130,000 at 4 KiB, as many scattered writes
/// into a full filesystem's preallocated files as half of that.
pub const fn pool_blocks(data_blocks: u64) -> u64 {
    let n = data_blocks / 32;
    if n < POOL_MAX {
        n
    } else {
        POOL_MAX
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preallocation_does_not_count_per_block() {
        let c = Counts { data_blocks: 1 << 21, extents: 3, handed_out: 0, delalloc: 0 };
        assert_eq!(extent_bound(c, Growth::new_extent(1 << 20)), 4);
    }

    #[test]
    fn small_files_count_blocks() {
        let c = Counts { data_blocks: 2, extents: 2, handed_out: 2, delalloc: 0 };
        assert_eq!(extent_bound(c, Growth::delalloc(1)), 3);
    }

    #[test]
    fn no_overflow() {
        let c = Counts { data_blocks: u64::MAX, extents: u64::MAX, handed_out: u64::MAX, delalloc: u64::MAX };
        assert_eq!(extent_bound(c, Growth::direct(u64::MAX)), u64::MAX);
    }

    #[test]
    fn pool_is_a_32nd_up_to_its_maximum() {
        assert_eq!(pool_blocks(0), 0);
        assert_eq!(pool_blocks(31), 0);
        assert_eq!(pool_blocks(3200), 100);
        assert_eq!(pool_blocks(32 * POOL_MAX), POOL_MAX);
        assert_eq!(pool_blocks(u64::MAX), POOL_MAX);
    }
}
