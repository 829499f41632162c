//! Namespace recovery after an unclean shutdown (`format::recover`): the
//! counting of entries over directory blocks, and the decision for each
//! kind of half-done namespace change a crash can leave.

use std::collections::HashMap;

use mapfs_format::check::MAX_LINKS;
use mapfs_format::dir::{self, DirError};
use mapfs_format::inode::{FileType, Inode, S_IFDIR, S_IFREG};
use mapfs_format::layout::ROOT_INO;
use mapfs_format::recover::{count_block, decide, Decision, Names};
use proptest::prelude::*;

const SEED: u32 = 0x5EED;
const BS: usize = 1024;
const INODES: usize = 64;

fn first_block(d: u32, parent: u32, entries: &[(&[u8], u32, FileType)]) -> Vec<u8> {
    let mut b = vec![0u8; BS];
    dir::init_first_block(&mut b, SEED, d, parent).unwrap();
    for (name, ino, ft) in entries {
        dir::insert(&mut b, SEED, d, *ino, name, ft.dirent_type()).unwrap();
    }
    b
}

fn later_block(d: u32, entries: &[(&[u8], u32, FileType)]) -> Vec<u8> {
    let mut b = vec![0u8; BS];
    dir::init_block(&mut b, SEED, d).unwrap();
    for (name, ino, ft) in entries {
        dir::insert(&mut b, SEED, d, *ino, name, ft.dirent_type()).unwrap();
    }
    b
}

fn inode(mode: u16, nlink: u32, next_orphan: u32) -> Inode {
    Inode { mode, nlink, next_orphan, ..Inode::default() }
}

fn file(nlink: u32) -> Inode {
    inode(S_IFREG | 0o644, nlink, 0)
}

fn directory(nlink: u32) -> Inode {
    inode(S_IFDIR | 0o755, nlink, 0)
}

fn names(refs: u16) -> Names {
    Names { refs, ..Names::default() }
}

#[test]
fn entries_count_for_their_inodes_dots_do_not() {
    let root = ROOT_INO;
    let reg = FileType::Regular;
    let mut n = vec![Names::default(); INODES];
    // Two names of inode 5, a subdirectory 7, and a second block.
    let b0 = first_block(root, root, &[(b"a", 5, reg), (b"b", 5, reg), (b"sub", 7, FileType::Directory)]);
    let b1 = later_block(root, &[(b"d", 8, reg)]);
    let sub = first_block(7, root, &[]);
    count_block(&mut n, root, true, &b0).unwrap();
    count_block(&mut n, root, false, &b1).unwrap();
    count_block(&mut n, 7, true, &sub).unwrap();
    assert_eq!(n[5], names(2));
    assert_eq!(n[8], names(1));
    assert_eq!(n[7], Names { refs: 1, children: 0, subdirs: 0, counted: true });
    assert_eq!(n[root as usize], Names { refs: 0, children: 4, subdirs: 1, counted: true });
    // Nothing else was named.
    let named: Vec<usize> = (0..INODES).filter(|&i| n[i].refs != 0).collect();
    assert_eq!(named, vec![5, 7, 8]);
}

#[test]
fn a_number_out_of_range_or_a_stray_dot_is_an_error() {
    let reg = FileType::Regular;
    let mut n = vec![Names::default(); INODES];
    let b = later_block(3, &[(b"x", INODES as u32, reg)]);
    assert!(matches!(count_block(&mut n, 3, false, &b), Err(DirError::BadInode { ino, .. }) if ino == INODES as u32));
    // The last number in range is fine.
    let b = later_block(3, &[(b"x", INODES as u32 - 1, reg)]);
    count_block(&mut n, 3, false, &b).unwrap();
    // `..` past the first block, and the first block's own dots counted
    // as a later block's.
    let b = later_block(3, &[(b"..", 2, FileType::Directory)]);
    assert_eq!(count_block(&mut n, 3, false, &b), Err(DirError::BadDots));
    let b = first_block(3, ROOT_INO, &[]);
    assert_eq!(count_block(&mut n, 3, false, &b), Err(DirError::BadDots));
    // A directory number outside the table.
    let b = later_block(3, &[]);
    assert_eq!(count_block(&mut n, INODES as u32, false, &b), Err(DirError::BadDots));
}

#[test]
fn files_keep_what_entries_name_and_lose_what_they_do_not() {
    // A create whose entry never reached the disk, and an unlink whose
    // entry removal did but whose link count (or orphan listing) did not.
    assert_eq!(decide(9, &file(1), &names(0)), Decision::Free);
    assert_eq!(decide(9, &inode(S_IFREG, 1, 4), &names(0)), Decision::Free);
    // An orphan (no link, on the list) no entry names.
    assert_eq!(decide(9, &inode(S_IFREG, 0, 4), &names(0)), Decision::Free);
    // An unlink whose slot reached the disk and whose entry removal did
    // not: the entry still names it, so it stays, with one link.
    assert_eq!(decide(9, &inode(S_IFREG, 0, 4), &names(1)), Decision::Fix { nlink: 1 });
    // `link` half done either way.
    assert_eq!(decide(9, &file(2), &names(1)), Decision::Fix { nlink: 1 });
    assert_eq!(decide(9, &file(1), &names(2)), Decision::Fix { nlink: 2 });
    // Consistent: nothing to write; a stale orphan pointer is cleared.
    assert_eq!(decide(9, &file(2), &names(2)), Decision::Keep);
    assert_eq!(decide(9, &inode(S_IFREG, 2, 7), &names(2)), Decision::Fix { nlink: 2 });
    // Symlinks and special files count the same way.
    assert_eq!(decide(9, &inode(0o120777, 1, 0), &names(0)), Decision::Free);
    // More names than a link count may hold: damage, fsck's.
    assert_eq!(decide(9, &file(1), &names(u16::MAX)), Decision::Damaged);
    assert!(u32::from(u16::MAX) > MAX_LINKS);
}

#[test]
fn directories_are_freed_only_when_unnamed_and_empty() {
    let counted = |refs, children| Names { refs, children, subdirs: 0, counted: true };
    let with_subdirs = |refs, children, subdirs| Names { refs, children, subdirs, counted: true };
    // mkdir whose entry never reached the disk.
    assert_eq!(decide(9, &directory(2), &counted(0, 0)), Decision::Free);
    // rmdir'd (no link, not read): empty by rmdir's rule.
    assert_eq!(decide(9, &directory(0), &names(0)), Decision::Free);
    // The top of a subtree that lost its entry: its files stay named.
    assert_eq!(decide(9, &directory(3), &counted(0, 2)), Decision::Unnamed);
    // rmdir whose entry removal did not reach the disk: links back.
    assert_eq!(decide(9, &inode(S_IFDIR, 0, 5), &names(1)), Decision::Fix { nlink: 2 });
    // Two links and one per subdirectory.
    assert_eq!(decide(9, &directory(3), &with_subdirs(1, 4, 1)), Decision::Keep);
    assert_eq!(decide(9, &inode(S_IFDIR, 3, 5), &with_subdirs(1, 4, 1)), Decision::Fix { nlink: 3 });
    // A parent whose mkdir or rmdir of a child was cut short.
    assert_eq!(decide(9, &directory(4), &with_subdirs(1, 4, 1)), Decision::Fix { nlink: 3 });
    assert_eq!(decide(9, &directory(2), &with_subdirs(1, 4, 1)), Decision::Fix { nlink: 3 });
    // A directory named twice is damage.
    assert_eq!(decide(9, &directory(2), &counted(2, 0)), Decision::Damaged);
    // The root is never freed; its links count its subdirectories too.
    assert_eq!(decide(ROOT_INO, &directory(3), &with_subdirs(0, 5, 1)), Decision::Keep);
    assert_eq!(decide(ROOT_INO, &directory(3), &counted(0, 0)), Decision::Fix { nlink: 2 });
    assert_eq!(decide(ROOT_INO, &inode(S_IFDIR, 3, 6), &with_subdirs(0, 1, 1)), Decision::Fix { nlink: 3 });
}

/// Odd numbers are directories in the property test.
fn kind(ino: u32) -> FileType {
    if ino % 2 == 1 { FileType::Directory } else { FileType::Regular }
}

proptest! {
    /// Entries spread over directories and blocks: each inode's count is
    /// the number of entries naming it, each directory's children its
    /// own entries.
    #[test]
    fn counts_match_a_plain_count(entries in proptest::collection::vec((0usize..3, 1u32..INODES as u32), 0..60)) {
        let dirs = [ROOT_INO, 20, 21];
        let mut n = vec![Names::default(); INODES];
        let mut want: HashMap<u32, u16> = HashMap::new();
        let mut kids = [0u16; 3];
        let mut subs = [0u16; 3];
        for (di, &d) in dirs.iter().enumerate() {
            let mine: Vec<(Vec<u8>, u32)> = entries
                .iter()
                .enumerate()
                .filter(|(_, (k, _))| *k == di)
                .map(|(i, (_, ino))| (format!("n{i}").into_bytes(), *ino))
                .collect();
            // Up to 20 entries per block.
            for (bi, chunk) in mine.chunks(20).enumerate() {
                let list: Vec<(&[u8], u32, FileType)> =
                    chunk.iter().map(|(name, ino)| (name.as_slice(), *ino, kind(*ino))).collect();
                let b = if bi == 0 { first_block(d, ROOT_INO, &list) } else { later_block(d, &list) };
                count_block(&mut n, d, bi == 0, &b).unwrap();
            }
            if mine.is_empty() {
                count_block(&mut n, d, true, &first_block(d, ROOT_INO, &[])).unwrap();
            }
            for (_, ino) in &mine {
                *want.entry(*ino).or_default() += 1;
                kids[di] += 1;
                subs[di] += u16::from(kind(*ino) == FileType::Directory);
            }
        }
        for i in 0..INODES as u32 {
            prop_assert_eq!(n[i as usize].refs, want.get(&i).copied().unwrap_or(0));
        }
        for (di, &d) in dirs.iter().enumerate() {
            prop_assert!(n[d as usize].counted);
            prop_assert_eq!(n[d as usize].children, kids[di]);
            prop_assert_eq!(n[d as usize].subdirs, subs[di]);
        }
    }
}
