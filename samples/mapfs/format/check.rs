//! Checks of one inode as a whole, made once its fields decoded and
//! validated ([`super::inode::Inode::validate`]) and its extent tree walked
//! ([`super::tree::walk`]): the relations between fields that the kernel
//! must verify before it trusts any counter derived from them (a crafted
//! image can carry valid checksums).
//!
//! - `blocks` equals the data blocks of the extents plus the tree blocks,
//!   so that freeing them never takes the count below zero;
//! - the link count fits the type (directories have `.` and an entry in
//!   their parent) and stays below [`MAX_LINKS`], so that a new link can
//!   never wrap it;
//! - no disk block is claimed twice within the file (two extents, two tree
//!   blocks, or an extent and a tree block);
//! - a directory is whole blocks, each mapped and written, none past its
//!   size; a symlink stored in a block has exactly that block;
//! - a special file (device node, FIFO, socket) has size 0 and a zero data
//!   area, and only a device node has a device number.

use super::extent::Extent;
use super::inode::{FileType, Inode, FLAG_INLINE};
use super::symlink::max_symlink_len;

/// The largest link count mapfs gives an inode (as ext4's 65000): a link
/// that would go past it fails with `EMLINK`.
pub const MAX_LINKS: u32 = 65_000;

/// What [`check_inode`] found wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InodeCheckError {
    /// `blocks` is not the number of data and tree blocks the file maps.
    BlockCount {
        /// The inode's `blocks` field.
        stored: u64,
        /// Extent blocks plus tree blocks.
        counted: u64,
    },
    /// The link count cannot be right for this type (0 outside the orphan
    /// list, below 2 for a directory, above [`MAX_LINKS`]).
    LinkCount(u32),
    /// A disk block is mapped twice within the file.
    DoubleClaim(u64),
    /// A directory's size is not whole blocks, or its blocks are not all
    /// mapped and written, or it maps blocks past its size.
    DirShape,
    /// A symlink's size does not fit its storage, or a symlink stored in a
    /// block does not map exactly that block.
    SymlinkShape,
    /// A special file has a size or data, or a file that is not a device
    /// node has a device number.
    SpecialShape,
}

impl core::fmt::Display for InodeCheckError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BlockCount { stored, counted } => {
                write!(f, "block count {} but {} blocks mapped", stored, counted)
            }
            Self::LinkCount(n) => write!(f, "impossible link count {}", n),
            Self::DoubleClaim(b) => write!(f, "disk block {} mapped twice", b),
            Self::DirShape => write!(f, "directory blocks do not match its size"),
            Self::SymlinkShape => write!(f, "symlink size does not match its storage"),
            Self::SpecialShape => write!(f, "special file with data, or device number on a non-device"),
        }
    }
}

/// Checks inode `raw` of type `ft` with its `extents` and extent-tree
/// blocks `tree_blocks` (both as the tree walk found them: extents sorted
/// and inside the data area, tree blocks inside the data area). `unlinked`
/// admits a link count of 0 (an entry of the orphan list).
pub fn check_inode(
    raw: &Inode,
    ft: FileType,
    extents: &[Extent],
    tree_blocks: &[u64],
    block_size: u32,
    unlinked: bool,
) -> Result<(), InodeCheckError> {
    check_inode_with(raw, ft, extents, tree_blocks, 0, block_size, unlinked)
}

/// [`check_inode`] of an inode that also owns `other_blocks` blocks
/// outside its extent tree (its xattr block, see [`super::xattr`]).
pub fn check_inode_with(
    raw: &Inode,
    ft: FileType,
    extents: &[Extent],
    tree_blocks: &[u64],
    other_blocks: u64,
    block_size: u32,
    unlinked: bool,
) -> Result<(), InodeCheckError> {
    let nlink = raw.nlink;
    let min_links = match (ft, unlinked) {
        (_, true) => 0,
        (FileType::Directory, false) => 2,
        (_, false) => 1,
    };
    if nlink < min_links || nlink > MAX_LINKS {
        return Err(InodeCheckError::LinkCount(nlink));
    }
    let data = extents
        .iter()
        .fold(0u64, |acc, e| acc.saturating_add(u64::from(e.len)));
    let counted = data.saturating_add(tree_blocks.len() as u64).saturating_add(other_blocks);
    if raw.blocks != counted {
        return Err(InodeCheckError::BlockCount {
            stored: raw.blocks,
            counted,
        });
    }
    let bs = u64::from(block_size.max(1));
    match ft {
        FileType::Directory => {
            if raw.size == 0 || !raw.size.is_multiple_of(bs) {
                return Err(InodeCheckError::DirShape);
            }
            // Blocks 0 .. size / bs, each mapped and written, and no more.
            let mut next = 0u64;
            for e in extents {
                if e.unwritten || e.file_block != next {
                    return Err(InodeCheckError::DirShape);
                }
                next = e.end();
            }
            if next != raw.size / bs {
                return Err(InodeCheckError::DirShape);
            }
        }
        FileType::Symlink => {
            let len = usize::try_from(raw.size).unwrap_or(usize::MAX);
            if raw.flags & FLAG_INLINE == 0 {
                let one_block = matches!(
                    extents,
                    [e] if e.file_block == 0 && e.len == 1 && !e.unwritten
                );
                if !one_block || !tree_blocks.is_empty() {
                    return Err(InodeCheckError::SymlinkShape);
                }
            } else if !extents.is_empty() {
                return Err(InodeCheckError::SymlinkShape);
            }
            if len == 0 || len > max_symlink_len(block_size) {
                return Err(InodeCheckError::SymlinkShape);
            }
        }
        FileType::Regular => {}
        FileType::CharDevice | FileType::BlockDevice | FileType::Fifo | FileType::Socket => {
            if raw.size != 0 || raw.data.iter().any(|&b| b != 0) {
                return Err(InodeCheckError::SpecialShape);
            }
        }
    }
    if raw.rdev != 0 && !matches!(ft, FileType::CharDevice | FileType::BlockDevice) {
        return Err(InodeCheckError::SpecialShape);
    }
    Ok(())
}

/// Checks that no two of the disk ranges `(first block, count)` overlap.
/// Sorts `ranges` in place.
pub fn check_claims(ranges: &mut [(u64, u64)]) -> Result<(), InodeCheckError> {
    ranges.sort_unstable();
    let mut end = 0u64;
    for (i, &(start, len)) in ranges.iter().enumerate() {
        if i > 0 && start < end {
            return Err(InodeCheckError::DoubleClaim(start));
        }
        end = start.saturating_add(len);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::inode::{S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG};

    fn ext(file_block: u64, disk_block: u64, len: u32) -> Extent {
        Extent {
            file_block,
            disk_block,
            len,
            unwritten: false,
        }
    }

    fn inode(mode: u16, nlink: u32, size: u64, blocks: u64) -> Inode {
        Inode {
            mode,
            nlink,
            size,
            blocks,
            ..Inode::default()
        }
    }

    #[test]
    fn block_count_must_match() {
        let e = [ext(0, 100, 3), ext(10, 200, 2)];
        let ok = inode(S_IFREG | 0o644, 1, 50_000, 6);
        assert_eq!(check_inode(&ok, FileType::Regular, &e, &[300], 4096, false), Ok(()));
        for blocks in [0, 5, 7, u64::MAX] {
            let bad = Inode { blocks, ..ok };
            assert_eq!(
                check_inode(&bad, FileType::Regular, &e, &[300], 4096, false),
                Err(InodeCheckError::BlockCount { stored: blocks, counted: 6 })
            );
        }
    }

    #[test]
    fn link_counts() {
        let f = inode(S_IFREG | 0o644, 0, 0, 0);
        assert_eq!(
            check_inode(&f, FileType::Regular, &[], &[], 1024, false),
            Err(InodeCheckError::LinkCount(0))
        );
        assert_eq!(check_inode(&f, FileType::Regular, &[], &[], 1024, true), Ok(()));
        let many = Inode { nlink: MAX_LINKS + 1, ..f };
        assert_eq!(
            check_inode(&many, FileType::Regular, &[], &[], 1024, false),
            Err(InodeCheckError::LinkCount(MAX_LINKS + 1))
        );
        let max = Inode { nlink: MAX_LINKS, ..f };
        assert_eq!(check_inode(&max, FileType::Regular, &[], &[], 1024, false), Ok(()));
        let d = inode(S_IFDIR | 0o755, 1, 1024, 1);
        assert_eq!(
            check_inode(&d, FileType::Directory, &[ext(0, 50, 1)], &[], 1024, false),
            Err(InodeCheckError::LinkCount(1))
        );
        let d2 = Inode { nlink: 2, ..d };
        assert_eq!(check_inode(&d2, FileType::Directory, &[ext(0, 50, 1)], &[], 1024, false), Ok(()));
    }

    #[test]
    fn directory_shape() {
        let d = inode(S_IFDIR | 0o755, 2, 2048, 2);
        let two = [ext(0, 50, 1), ext(1, 70, 1)];
        assert_eq!(check_inode(&d, FileType::Directory, &two, &[], 1024, false), Ok(()));
        // A hole, an unwritten block, a block past the size, a partial block.
        let hole = [ext(0, 50, 1), ext(2, 70, 1)];
        let unwritten = [ext(0, 50, 1), Extent { unwritten: true, ..ext(1, 70, 1) }];
        let past = [ext(0, 50, 1), ext(1, 70, 2)];
        for e in [&hole[..], &unwritten[..]] {
            assert_eq!(
                check_inode(&d, FileType::Directory, e, &[], 1024, false),
                Err(InodeCheckError::DirShape)
            );
        }
        let d3 = Inode { blocks: 3, ..d };
        assert_eq!(
            check_inode(&d3, FileType::Directory, &past, &[], 1024, false),
            Err(InodeCheckError::DirShape)
        );
        for size in [0, 1000, 3072] {
            let bad = Inode { size, ..d };
            assert_eq!(
                check_inode(&bad, FileType::Directory, &two, &[], 1024, false),
                Err(InodeCheckError::DirShape)
            );
        }
    }

    #[test]
    fn symlink_shape() {
        let s = inode(S_IFLNK | 0o777, 1, 300, 1);
        assert_eq!(check_inode(&s, FileType::Symlink, &[ext(0, 9, 1)], &[], 1024, false), Ok(()));
        let two = Inode { blocks: 2, ..s };
        assert_eq!(
            check_inode(&two, FileType::Symlink, &[ext(0, 9, 2)], &[], 1024, false),
            Err(InodeCheckError::SymlinkShape)
        );
        assert_eq!(
            check_inode(&Inode { blocks: 0, ..s }, FileType::Symlink, &[], &[], 1024, false),
            Err(InodeCheckError::SymlinkShape)
        );
        for size in [0, 5000] {
            assert_eq!(
                check_inode(&Inode { size, ..s }, FileType::Symlink, &[ext(0, 9, 1)], &[], 1024, false),
                Err(InodeCheckError::SymlinkShape)
            );
        }
    }

    #[test]
    fn special_shape() {
        let c = Inode { rdev: 0x103, ..inode(S_IFCHR | 0o600, 1, 0, 0) };
        assert_eq!(check_inode(&c, FileType::CharDevice, &[], &[], 1024, false), Ok(()));
        let p = inode(S_IFIFO | 0o600, 1, 0, 0);
        assert_eq!(check_inode(&p, FileType::Fifo, &[], &[], 1024, false), Ok(()));
        let mut data = c;
        data.data[7] = 1;
        let bad = [
            (Inode { size: 1, ..c }, FileType::CharDevice),
            (data, FileType::CharDevice),
            (Inode { rdev: 1, ..p }, FileType::Fifo),
            (Inode { rdev: 1, ..inode(S_IFREG | 0o644, 1, 0, 0) }, FileType::Regular),
        ];
        for (i, ft) in bad {
            assert_eq!(check_inode(&i, ft, &[], &[], 1024, false), Err(InodeCheckError::SpecialShape));
        }
        // A special file maps no blocks.
        assert_eq!(
            check_inode(&Inode { blocks: 1, ..c }, FileType::CharDevice, &[], &[], 1024, false),
            Err(InodeCheckError::BlockCount { stored: 1, counted: 0 })
        );
    }

    #[test]
    fn claims() {
        let mut ok = [(10, 5), (0, 10), (15, 1)];
        assert_eq!(check_claims(&mut ok), Ok(()));
        let mut overlap = [(10, 5), (0, 11)];
        assert_eq!(check_claims(&mut overlap), Err(InodeCheckError::DoubleClaim(10)));
        let mut same = [(7, 1), (7, 1)];
        assert_eq!(check_claims(&mut same), Err(InodeCheckError::DoubleClaim(7)));
        assert_eq!(check_claims(&mut []), Ok(()));
    }
}
