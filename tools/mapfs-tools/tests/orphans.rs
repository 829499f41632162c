//! The orphan list: files unlinked while open, left on disk by a crash.
//! fsck -n must report each listed inode (exit 4), fsck -y must free it
//! as the kernel's mount would (blocks, tree blocks, slot and bitmap bits;
//! not to lost+found) and empty the list, and a second fsck -n must then
//! be clean. A damaged list is cut at the bad entry; a listed inode that
//! still has links leaves the list and is kept.

mod common;

use common::*;
use mapfs_format::dir;
use mapfs_format::layout::{INODE_SIZE, LOST_FOUND_INO, ROOT_INO};
use mapfs_format::super_block::{Superblock, STATE_CLEAN};
use mapfs_tools::builder::Builder;
use mapfs_tools::dev::MemDev;
use mapfs_tools::fsck::{fsck, FsckOptions, FsckResult};

/// The start of the report for a listed inode (the same with or without
/// repair).
fn orphan_prefix(ino: u32) -> String {
    format!("inode {ino}: unlinked while open, on the orphan list (expected after a crash)")
}

/// The report for a listed inode holding `n` blocks (`repair`: as fixed).
fn orphan_line(ino: u32, n: u64, repair: bool) -> String {
    let what = if repair { "freed" } else { "to be freed" };
    let blocks = if n == 1 {
        "1 block".to_string()
    } else {
        format!("{n} blocks")
    };
    format!("{}: {what} with its {blocks}", orphan_prefix(ino))
}

fn sb(dev: &MemDev) -> Superblock {
    Superblock::decode(&dev.data[..1024]).unwrap()
}

/// A file unlinked while open: on disk, blocks still allocated.
#[derive(Clone, Copy, Debug)]
struct Orphan {
    ino: u32,
    /// Data and tree blocks.
    blocks: u64,
}

/// The sample image after a crash with the first `n` of three files
/// unlinked while open: /o1 (1 block), /o2 (20 blocks of data), /o3 (12
/// extents: a tree block). Their names are gone and their link counts 0,
/// the filesystem is not clean; the orphan list is left empty for the
/// test to set.
fn unlinked(n: usize) -> (MemDev, Sample, Vec<Orphan>) {
    let (dev, s) = sample();
    let mut b = Builder::open(dev).unwrap();
    let data: Vec<u8> = (0..20 * 1024).map(|i| (i % 249) as u8).collect();
    let inos = [
        b.create_file(ROOT_INO, "o1", b"orphan one").unwrap(),
        b.create_file(ROOT_INO, "o2", &data).unwrap(),
        b.create_fragmented(ROOT_INO, "o3", 12).unwrap(),
    ];
    let mut dev = b.commit().unwrap();
    let mut out = Vec::new();
    for (i, &ino) in inos.iter().enumerate() {
        let name = format!("o{}", i + 1);
        let (d, _, tree) = extents(dev, ino);
        dev = d;
        if i == 2 {
            assert_eq!(tree.len(), 1, "o3 must have one tree block");
        }
        if i >= n {
            continue;
        }
        dev = unlink(dev, ROOT_INO, &name);
        let mut blocks = 0;
        dev = edit_inode(dev, ino, |inode| {
            inode.nlink = 0;
            blocks = inode.blocks;
        });
        out.push(Orphan { ino, blocks });
    }
    assert!(out.iter().all(|o| o.blocks > 0));
    let dev = edit_sb(dev, |sb| sb.state &= !STATE_CLEAN);
    (dev, s, out)
}

/// Disk blocks (data and tree) of a file.
fn blocks_of(dev: MemDev, ino: u32) -> (MemDev, Vec<u64>) {
    let (dev, e, t) = extents(dev, ino);
    let mut v: Vec<u64> = e.iter().flat_map(|e| e.disk_block..e.disk_end()).collect();
    v.extend(t);
    (dev, v)
}

/// fsck -n must exit 4 with a line containing each of `expect`, leaving
/// the device as it was; fsck -y must exit 1 with them too; a second
/// fsck -n must be clean. Returns the repaired device and the two reports.
fn check_repair(dev: MemDev, expect: &[String]) -> (MemDev, FsckResult, FsckResult) {
    let before = dev.data.clone();
    let (r, dev) = check(dev);
    assert_eq!(r.exit, 4, "fsck -n should report:\n{}", show(&r));
    assert!(dev.data == before, "fsck -n changed the device");
    for e in expect {
        assert!(
            r.lines.iter().any(|l| l.contains(e.as_str())),
            "-n: expected {e:?}:\n{}",
            show(&r)
        );
    }
    let (r2, dev) = repair(dev);
    assert_eq!(r2.exit, 1, "fsck -y should fix everything:\n{}", show(&r2));
    for e in expect {
        assert!(
            r2.lines.iter().any(|l| l.contains(e.as_str())),
            "-y: expected {e:?}:\n{}",
            show(&r2)
        );
    }
    let (r3, dev) = check(dev);
    assert_eq!(
        r3.exit,
        0,
        "second run should be clean:\n{}\n--- after repair:\n{}",
        show(&r3),
        show(&r2)
    );
    assert_eq!(sb(&dev).orphan_head, 0);
    (dev, r, r2)
}

fn slot_is_free(dev: MemDev, ino: u32) -> (MemDev, bool) {
    let mut fs = open(dev);
    let raw = fs.read_inode_raw(ino).unwrap();
    (fs.dev, raw == [0u8; INODE_SIZE])
}

fn inode_bit(dev: MemDev, ino: u32) -> (MemDev, bool) {
    let mut fs = open(dev);
    let map = fs
        .read_bitmap(fs.sb.inode_bitmap, u64::from(fs.sb.inode_count))
        .unwrap();
    (fs.dev, map.get(u64::from(ino)))
}

/// Three orphans, one with an extent tree block: reported one line each
/// and nothing else (no lost+found, no leaked blocks, no wrong counts);
/// freed by the repair, whose free counts go up by exactly what they held.
#[test]
fn orphan_list_is_freed() {
    let (dev, _, o) = unlinked(3);
    // The kernel adds at the head: the last unlinked comes first.
    let chain = [o[2], o[1], o[0]];
    let dev = set_orphan_list(dev, &chain.map(|o| o.ino));
    let mut dev = dev;
    let mut owned = Vec::new();
    for x in &chain {
        let (d, b) = blocks_of(dev, x.ino);
        assert_eq!(b.len() as u64, x.blocks);
        dev = d;
        owned.extend(b);
    }
    let before = sb(&dev);
    let prefixes: Vec<String> = chain.iter().map(|x| orphan_prefix(x.ino)).collect();
    let (dev, r, r2) = check_repair(dev, &prefixes);
    for (res, repair, what) in [(&r, false, "-n"), (&r2, true, "-y")] {
        let want: Vec<String> = chain
            .iter()
            .map(|x| orphan_line(x.ino, x.blocks, repair))
            .collect();
        assert_eq!(res.lines, want, "{what}: the orphans and nothing else");
    }
    let after = sb(&dev);
    let held: u64 = chain.iter().map(|x| x.blocks).sum();
    assert_eq!(after.free_blocks, before.free_blocks + held);
    assert_eq!(after.free_inodes, before.free_inodes + 3);
    assert_ne!(after.state & STATE_CLEAN, 0);
    let mut dev = dev;
    for b in owned {
        let (d, used) = block_bit(dev, b);
        assert!(!used, "block {b} still in use");
        dev = d;
    }
    for x in chain {
        let (d, free) = slot_is_free(dev, x.ino);
        assert!(free, "inode {} slot not cleared", x.ino);
        let (d, used) = inode_bit(d, x.ino);
        assert!(!used, "inode {} still marked in use", x.ino);
        dev = d;
    }
    // Nothing went to lost+found.
    let (dev, lf, _) = extents(dev, LOST_FOUND_INO);
    let mut fs = open(dev);
    let buf = fs.read_block(lf[0].disk_block).unwrap();
    assert_eq!(
        dir::iter_from(&buf, 0).count(),
        2,
        "lost+found is not empty"
    );
}

/// A list that loops back: every entry up to the loop is freed, the list
/// is cut where it loops. Then an entry pointing at itself.
#[test]
fn orphan_list_loop() {
    let (dev, _, o) = unlinked(3);
    let dev = set_orphan_list(dev, &[o[0].ino, o[1].ino, o[2].ino]);
    let dev = edit_inode(dev, o[2].ino, |i| i.next_orphan = o[1].ino);
    let (dev, _, r2) = check_repair(
        dev,
        &[
            format!(
                "orphan list: inode {} points to inode {}, which is already on the list (a loop)",
                o[2].ino, o[1].ino
            ),
            orphan_prefix(o[0].ino),
        ],
    );
    assert!(
        r2.lines
            .iter()
            .any(|l| l.ends_with(&format!("(a loop): list cut after inode {}", o[2].ino))),
        "{}",
        show(&r2)
    );
    for x in &o {
        assert!(r2.lines.contains(&orphan_line(x.ino, x.blocks, true)));
    }
    drop(dev);

    let (dev, _, o) = unlinked(1);
    let dev = set_orphan_list(dev, &[o[0].ino]);
    let dev = edit_inode(dev, o[0].ino, |i| i.next_orphan = o[0].ino);
    let (dev, _, _) = check_repair(
        dev,
        &[
            format!(
                "orphan list: inode {0} points to inode {0}, which is already on the list (a loop)",
                o[0].ino
            ),
            orphan_prefix(o[0].ino),
        ],
    );
    let (_, free) = slot_is_free(dev, o[0].ino);
    assert!(free);
}

/// The list reaches a free inode slot: the entries before it are freed,
/// the free slot is left alone. Then a head that names a free slot.
#[test]
fn orphan_list_points_at_free_slot() {
    let (dev, _, o) = unlinked(2);
    let free = sb(&dev).inode_count - 2;
    let dev = set_orphan_list(dev, &[o[0].ino, o[1].ino]);
    let dev = edit_inode(dev, o[1].ino, |i| i.next_orphan = free);
    let (dev, _, r2) = check_repair(
        dev,
        &[format!(
            "orphan list: inode {} points to inode {free}, which is not in use",
            o[1].ino
        )],
    );
    assert!(r2.lines.contains(&format!(
        "orphan list: inode {} points to inode {free}, which is not in use: list cut after inode {}",
        o[1].ino, o[1].ino
    )));
    for x in &o {
        assert!(r2.lines.contains(&orphan_line(x.ino, x.blocks, true)));
    }
    let (dev, is_free) = slot_is_free(dev, free);
    assert!(is_free);
    drop(dev);

    let (dev, _) = sample();
    let dev = edit_sb(dev, |sb| sb.orphan_head = free);
    let (_, _, r2) = check_repair(
        dev,
        &[format!(
            "orphan list: the superblock's head is inode {free}, which is not in use"
        )],
    );
    assert_eq!(
        r2.lines,
        [format!(
            "orphan list: the superblock's head is inode {free}, which is not in use: list emptied"
        )]
    );
}

/// A listed inode that still has a link (the crash came before its link
/// count dropped) leaves the list and is kept, contents and all; the walk
/// goes on past it, as the kernel's does.
#[test]
fn orphan_list_entry_still_linked() {
    let (dev, s, o) = unlinked(2);
    let (dev, big_ext, _) = extents(dev, s.big);
    let dev = set_orphan_list(dev, &[o[0].ino, s.big, o[1].ino]);
    let (dev, _, r2) = check_repair(
        dev,
        &[format!(
            "orphan list: inode {} has link count 1 (the crash came before its last link went)",
            s.big
        )],
    );
    assert!(r2.lines.contains(&format!(
        "orphan list: inode {} has link count 1 (the crash came before its last link went): taken off the list, inode kept",
        s.big
    )));
    for x in &o {
        assert!(r2.lines.contains(&orphan_line(x.ino, x.blocks, true)));
    }
    let (dev, after, _) = extents(dev, s.big);
    assert_eq!(after, big_ext);
    let mut fs = open(dev);
    let big = fs.read_inode(s.big).unwrap();
    assert_eq!((big.nlink, big.next_orphan), (1, 0));
    let (_, _, off) = entry_offset(fs.dev, ROOT_INO, "big");
    assert!(off > 0);
}

/// The root directory on the list (with its link count damaged to 0): it
/// is never freed; it leaves the list and its link count is fixed.
#[test]
fn orphan_list_root_is_kept() {
    let (dev, s) = sample();
    let dev = edit_inode(dev, ROOT_INO, |i| i.nlink = 0);
    let dev = set_orphan_list(dev, &[ROOT_INO]);
    let (dev, _, _) = check_repair(
        dev,
        &[
            "orphan list: inode 1 is the root directory".to_string(),
            "inode 1: link count 0, should be 4".to_string(),
        ],
    );
    let (dev, _, off) = entry_offset(dev, ROOT_INO, "hello");
    assert!(off > 0);
    let (_, e, _) = extents(dev, s.big);
    assert!(!e.is_empty());
}

/// A head, or an entry, out of range.
#[test]
fn orphan_list_out_of_range() {
    for head in [u32::MAX, 0] {
        let (dev, _) = sample();
        let count = sb(&dev).inode_count;
        let head = if head == 0 { count } else { head };
        let dev = edit_sb(dev, |sb| sb.orphan_head = head);
        let (_, _, r2) = check_repair(
            dev,
            &[format!(
                "orphan list: the superblock's head is inode {head}, out of range (1-{})",
                count - 1
            )],
        );
        assert_eq!(r2.lines.len(), 1, "{}", show(&r2));
        assert!(r2.lines[0].ends_with(": list emptied"), "{}", show(&r2));
    }
    let (dev, _, o) = unlinked(1);
    let count = sb(&dev).inode_count;
    let dev = set_orphan_list(dev, &[o[0].ino]);
    let dev = edit_inode(dev, o[0].ino, |i| i.next_orphan = count + 5);
    let (_, _, r2) = check_repair(
        dev,
        &[format!(
            "orphan list: inode {} points to inode {}, out of range (1-{})",
            o[0].ino,
            count + 5,
            count - 1,
        )],
    );
    assert!(r2.lines.contains(&format!(
        "orphan list: inode {} points to inode {}, out of range (1-{}): list cut after inode {}",
        o[0].ino,
        count + 5,
        count - 1,
        o[0].ino
    )));
    assert!(r2.lines.contains(&orphan_line(o[0].ino, 1, true)));
}

/// A next-orphan pointer in an inode that is not on the list: cleared.
#[test]
fn stray_next_orphan() {
    let (dev, s) = sample();
    let dev = edit_inode(dev, s.hello, |i| i.next_orphan = s.big);
    let dev = assert_fixed(
        dev,
        &format!(
            "inode {}: not on the orphan list, but its next-orphan field is {}: cleared",
            s.hello, s.big
        ),
    );
    let mut fs = open(dev);
    assert_eq!(fs.read_inode(s.hello).unwrap().next_orphan, 0);
    assert_eq!(fs.read_inode(s.hello).unwrap().nlink, 2);
    assert_eq!(fs.read_inode(s.big).unwrap().nlink, 1);
}

/// An unlinked inode with link count 0 that is not on the list is not an
/// orphan: it goes to lost+found as before, next to a list that is freed.
#[test]
fn unlisted_unlinked_inode_goes_to_lost_found() {
    let (dev, _, o) = unlinked(2);
    let dev = set_orphan_list(dev, &[o[0].ino]);
    let (dev, _, r2) = check_repair(
        dev,
        &[
            orphan_prefix(o[0].ino),
            format!("inode {}: not referenced by any directory", o[1].ino),
        ],
    );
    assert!(r2.lines.contains(&orphan_line(o[0].ino, 1, true)));
    assert!(r2.lines.contains(&format!(
        "inode {}: not referenced by any directory: moved to /lost+found as '#{}'",
        o[1].ino, o[1].ino
    )));
    let mut fs = open(dev);
    assert_eq!(fs.read_inode(o[1].ino).unwrap().nlink, 1);
}

/// A directory removed while open (a process's working directory) is on
/// the list like a file: freed with its block, the parent keeps its count.
#[test]
fn orphan_directory() {
    let (dev, _) = sample();
    let mut b = Builder::open(dev).unwrap();
    let gone = b.mkdir(ROOT_INO, "gone", 0o755).unwrap();
    let dev = b.commit().unwrap();
    let dev = unlink(dev, ROOT_INO, "gone");
    let dev = edit_inode(dev, gone, |i| i.nlink = 0);
    let dev = edit_inode(dev, ROOT_INO, |i| i.nlink -= 1);
    let dev = set_orphan_list(dev, &[gone]);
    let (dev, r, _) = check_repair(dev, &[orphan_prefix(gone)]);
    assert_eq!(r.lines, [orphan_line(gone, 1, false)]);
    let (_, free) = slot_is_free(dev, gone);
    assert!(free);
}

/// A listed inode that a directory entry still names (the entry's
/// removal did not reach the disk): the list is trusted, as by the
/// kernel's mount; the inode is freed and the entry removed.
#[test]
fn orphan_still_named() {
    let (dev, _) = sample();
    let mut b = Builder::open(dev).unwrap();
    let o1 = b.create_file(ROOT_INO, "o1", b"orphan one").unwrap();
    let dev = b.commit().unwrap();
    let dev = edit_inode(dev, o1, |i| i.nlink = 0);
    let dev = set_orphan_list(dev, &[o1]);
    let (dev, _, _) = check_repair(
        dev,
        &[
            orphan_prefix(o1),
            format!("directory 1: entry 'o1' points to free inode {o1}"),
        ],
    );
    let (_, free) = slot_is_free(dev, o1);
    assert!(free);
}

/// An orphan whose extent names a block of a file in use (created after
/// it, so with a higher inode number): orphans are checked after every
/// other inode, so the file keeps the block, and the orphan is freed
/// without it.
#[test]
fn orphan_sharing_a_block_loses_it() {
    let (dev, _) = sample();
    let (dev, chain) = add_orphans(dev, &[1]);
    let o1 = chain[0];
    let mut b = Builder::open(dev).unwrap();
    let late = b.create_file(ROOT_INO, "late", b"in use").unwrap();
    let dev = b.commit().unwrap();
    assert!(late > o1);
    let (dev, le, _) = extents(dev, late);
    let target = le[0].disk_block;
    let (dev, oe, _) = extents(dev, o1);
    let lost = oe[0].disk_block;
    // Root leaf entry 0: disk block field at data offset 12 + 8.
    let dev = edit_inode(dev, o1, |i| {
        i.data[20..28].copy_from_slice(&target.to_le_bytes())
    });
    let (dev, _, r2) = check_repair(
        dev,
        &[
            format!(
                "inode {o1}: extent 0 (file block 0, disk block {target}, 1 blocks) shares block {target} with inode {late}"
            ),
            orphan_prefix(o1),
            format!("block {lost}: marked in use in the block bitmap but not used (leaked)"),
        ],
    );
    assert!(
        r2.lines.contains(&format!("{}: freed", orphan_prefix(o1))),
        "{}",
        show(&r2)
    );
    let (dev, after, _) = extents(dev, late);
    assert_eq!(after, le);
    let (_, used) = block_bit(dev, target);
    assert!(used);
}

/// A filesystem marked clean with a non-empty orphan list is checked even
/// without -f, so that `fsck -p` at boot frees the orphans; once they are
/// gone it is clean again.
#[test]
fn orphan_list_on_clean_filesystem() {
    let (dev, _, o) = unlinked(2);
    let dev = set_orphan_list(dev, &[o[0].ino, o[1].ino]);
    let dev = edit_sb(dev, |sb| sb.state |= STATE_CLEAN);
    let run = |dev, repair| {
        fsck(
            dev,
            FsckOptions {
                repair,
                force: false,
                verbose: false,
                backup: None,
            },
        )
        .unwrap()
    };
    let (r, dev) = run(dev, false);
    assert_eq!(r.exit, 4, "{}", show(&r));
    assert!(
        r.lines.contains(&orphan_line(o[0].ino, 1, false)),
        "{}",
        show(&r)
    );
    let (r, dev) = run(dev, true);
    assert_eq!(r.exit, 1, "{}", show(&r));
    let (r, _) = run(dev, false);
    assert_eq!(r.exit, 0, "{}", show(&r));
    assert!(r.lines[0].starts_with("clean, "), "{}", show(&r));
}

/// mkfs writes an empty list: head 0 and no inode pointing anywhere; the
/// builder's files neither.
#[test]
fn mkfs_writes_empty_orphan_list() {
    let dev = mem_fs(4 << 20, 1024);
    assert_eq!(dev.data[52..56], [0; 4]);
    let (dev, _) = populate(dev, 20);
    assert_eq!(sb(&dev).orphan_head, 0);
    let mut fs = open(dev);
    for ino in 1..fs.sb.inode_count {
        let raw = fs.read_inode_raw(ino).unwrap();
        assert_eq!(raw[92..96], [0; 4], "inode {ino}");
    }
}
