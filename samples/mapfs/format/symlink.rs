//! Symbolic link targets.
//!
//! A target of at most [`INLINE_SYMLINK_MAX`] (156) bytes is stored in the
//! inode's data area with [`FLAG_INLINE`] set; a longer one (up to
//! [`max_symlink_len`]) is stored at the start of the file's single data
//! block, mapped by a one-extent tree (file block 0, length 1). The inode
//! size is the target length; there is no terminating NUL.

use super::inode::{Inode, FLAG_INLINE, INODE_DATA_SIZE};
use super::tree::init_root;

/// Longest target stored inline.
pub const INLINE_SYMLINK_MAX: usize = INODE_DATA_SIZE;
/// Longest target at any block size (PATH_MAX - 1).
pub const SYMLINK_MAX: usize = 4095;

/// Longest target for a block size: `min(4095, block_size)`.
pub fn max_symlink_len(block_size: u32) -> usize {
    SYMLINK_MAX.min(block_size as usize)
}

/// Symlink errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymlinkError {
    /// Empty target or longer than allowed.
    BadLength,
    /// The inode is not an inline symlink, or its size is inconsistent.
    NotInline,
}

impl core::fmt::Display for SymlinkError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadLength => write!(f, "bad symlink length"),
            Self::NotInline => write!(f, "not an inline symlink"),
        }
    }
}

/// Whether a target of `len` bytes is stored inline.
pub fn is_inline_len(len: usize) -> bool {
    (1..=INLINE_SYMLINK_MAX).contains(&len)
}

/// Stores `target` inline: data area, size and [`FLAG_INLINE`].
pub fn set_inline(inode: &mut Inode, target: &[u8]) -> Result<(), SymlinkError> {
    if !is_inline_len(target.len()) {
        return Err(SymlinkError::BadLength);
    }
    inode.data = [0; INODE_DATA_SIZE];
    inode
        .data
        .get_mut(..target.len())
        .ok_or(SymlinkError::BadLength)?
        .copy_from_slice(target);
    inode.size = target.len() as u64;
    inode.flags |= FLAG_INLINE;
    Ok(())
}

/// Prepares an inode for a block-stored target of `len` bytes: clears
/// [`FLAG_INLINE`], sets the size, and initialises an empty extent root
/// (the caller then maps file block 0).
pub fn set_block_target(
    inode: &mut Inode,
    len: usize,
    block_size: u32,
) -> Result<(), SymlinkError> {
    if len <= INLINE_SYMLINK_MAX || len > max_symlink_len(block_size) {
        return Err(SymlinkError::BadLength);
    }
    inode.flags &= !FLAG_INLINE;
    inode.size = len as u64;
    init_root(&mut inode.data).map_err(|_| SymlinkError::BadLength)?;
    Ok(())
}

/// The inline target of an inode.
pub fn inline_target(inode: &Inode) -> Result<&[u8], SymlinkError> {
    if inode.flags & FLAG_INLINE == 0 {
        return Err(SymlinkError::NotInline);
    }
    let n = usize::try_from(inode.size).map_err(|_| SymlinkError::NotInline)?;
    if !is_inline_len(n) {
        return Err(SymlinkError::NotInline);
    }
    inode.data.get(..n).ok_or(SymlinkError::NotInline)
}
