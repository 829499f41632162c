//! The mapfs-corrupt program: each action makes the change it prints,
//! with a valid checksum, so that fsck sees the change itself; a seed
//! always makes the same changes (those of the library, and so of the
//! structured_corruption test); bad arguments exit 2 and images it cannot
//! use exit 1, without a panic and without writing.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::*;
use mapfs_format::layout::ROOT_INO;
use mapfs_format::super_block::Superblock;
use mapfs_tools::corrupt::{damage, map};
use mapfs_tools::dev::MemDev;

const CORRUPT: &str = env!("CARGO_BIN_EXE_mapfs-corrupt");

/// Writes `dev` to a fresh image file named after `name`.
fn image(name: &str, dev: &MemDev) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("corrupt-{name}.img"));
    std::fs::write(&p, &dev.data).unwrap();
    p
}

fn load(p: &PathBuf) -> MemDev {
    MemDev {
        data: std::fs::read(p).unwrap(),
    }
}

fn run(p: &PathBuf, args: &[&str]) -> Output {
    Command::new(CORRUPT).arg(p).args(args).output().unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs an action that must succeed; returns its output lines.
fn ok(p: &PathBuf, args: &[&str]) -> Vec<String> {
    let o = run(p, args);
    assert_eq!(code(&o), 0, "{args:?}: {}", err(&o));
    assert!(err(&o).is_empty(), "{args:?}: {}", err(&o));
    out(&o).lines().map(String::from).collect()
}

/// fsck -n must report a problem with a line containing all of `words`.
fn reports(dev: MemDev, words: &[&str]) {
    let (r, _) = check(dev);
    assert_eq!(r.exit, 4, "{}", show(&r));
    assert!(
        r.lines.iter().any(|l| words.iter().all(|w| l.contains(w))),
        "expected a line with {words:?}:\n{}",
        show(&r)
    );
    assert!(
        !r.lines.iter().any(|l| l.contains("checksum")),
        "the checksum should have been recomputed:\n{}",
        show(&r)
    );
}

fn sample_image(name: &str) -> (PathBuf, MemDev, Sample) {
    let (dev, s) = populate(mem_fs(4 << 20, 1024), 30);
    let (r, dev) = check(dev);
    assert_eq!(r.exit, 0, "{}", show(&r));
    (image(name, &dev), dev, s)
}

#[test]
fn set_inode_nlink() {
    let (p, _, _) = sample_image("set-inode");
    let root = ROOT_INO.to_string();
    let lines = ok(&p, &["--set-inode", &root, "12", "4", "0"]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!("inode {root} offset 12 (4 bytes): "))
            && lines[0].ends_with(" -> 0x0"),
        "{lines:?}"
    );
    let dev = load(&p);
    let (dev, inode) = {
        let mut fs = open(dev);
        let i = fs.read_inode(ROOT_INO).expect("valid inode checksum");
        (fs.dev, i)
    };
    assert_eq!(inode.nlink, 0, "{lines:?}");
    reports(dev, &[&format!("inode {root}:"), "link count 0"]);
}

#[test]
fn extents_and_block_bit() {
    let (p, dev, s) = sample_image("block-bit");
    // --extents prints what the library reads, and changes nothing.
    let (dev, ext, tree) = extents(dev, s.frag);
    assert!(!tree.is_empty());
    let lines = ok(&p, &["--extents", &s.frag.to_string()]);
    let want: Vec<String> = ext
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {}",
                e.file_block,
                e.disk_block,
                e.len,
                u8::from(e.unwritten)
            )
        })
        .chain(tree.iter().map(|b| format!("tree {b}")))
        .collect();
    assert_eq!(lines, want);
    assert_eq!(load(&p).data, dev.data);

    let (dev, e, _) = extents(dev, s.hello);
    let b = e[0].disk_block;
    let (_, used) = block_bit(dev, b);
    assert!(used);
    let lines = ok(&p, &["--block-bit", &b.to_string(), "0"]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains(&format!("(block {b}): 1 -> 0")),
        "{lines:?}"
    );
    let (dev, used) = block_bit(load(&p), b);
    assert!(!used);
    reports(dev, &[&format!("block {b}:"), "marked free"]);
    // The inode bitmap the same way.
    let hello = s.hello.to_string();
    let lines = ok(&p, &["--inode-bit", &hello, "0"]);
    assert!(lines.len() == 1 && lines[0].contains(&format!("(inode {hello}): 1 -> 0")), "{lines:?}");
    reports(load(&p), &[&format!("inode {hello}:"), "marked free"]);
    ok(&p, &["--inode-bit", &hello, "1"]);
    for args in [["--inode-bit", "4000000", "1"], ["--inode-bit", "0x100000000", "1"]] {
        assert_ne!(code(&run(&p, &args)), 0, "{args:?}");
    }
    // And back: clean again.
    ok(&p, &["--block-bit", &format!("{b:#x}"), "1"]);
    let (r, _) = check(load(&p));
    assert_eq!(r.exit, 0, "{}", show(&r));
}

#[test]
fn set_dir_and_sb() {
    let (p, _, s) = sample_image("set-dir");
    // The '.' entry of the root names inode 7.
    let root = ROOT_INO.to_string();
    let lines = ok(&p, &["--set-dir", &root, "0", "0", "4", "7"]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].ends_with(&format!("offset 0 (4 bytes): {ROOT_INO:#x} -> 0x7")),
        "{lines:?}"
    );
    reports(load(&p), &[&format!("directory {root}")]);
    // A directory block that does not exist, a field past the block, a
    // file that is not a directory.
    let before = load(&p);
    let hello = s.hello.to_string();
    for args in [
        ["--set-dir", &root, "99", "0", "4", "7"],
        ["--set-dir", &root, "0", "1022", "4", "7"],
        ["--set-dir", &hello, "0", "0", "4", "7"],
    ] {
        let o = run(&p, &args);
        assert_eq!(code(&o), 1, "{args:?}: {}", err(&o));
    }
    assert_eq!(load(&p).data, before.data);

    // The superblock: free blocks above the block count are not clamped,
    // and the checksum is valid.
    let (p, dev, _) = sample_image("set-sb");
    let sb = Superblock::decode(&dev.data[..1024]).unwrap();
    let v = (sb.block_count + 1).to_string();
    let lines = ok(&p, &["--set-sb", "32", "8", &v]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let dev = load(&p);
    let sb2 = Superblock::decode(&dev.data[..1024]).expect("valid checksum");
    assert_eq!(sb2.free_blocks, sb.block_count + 1);
    assert!(sb2.validate(dev.data.len() as u64).is_err());
}

#[test]
fn seed_is_deterministic() {
    let (p1, dev, _) = sample_image("seed-1");
    let p2 = image("seed-2", &dev);
    let a = run(&p1, &["--seed", "4242", "--changes", "3"]);
    let b = run(&p2, &["--changes", "3", "--seed", "0x1092"]);
    assert_eq!(code(&a), 0, "{}", err(&a));
    assert_eq!(code(&b), 0, "{}", err(&b));
    assert_eq!(out(&a), out(&b));
    assert_eq!(out(&a).lines().count(), 3, "{}", out(&a));
    let (d1, d2) = (load(&p1), load(&p2));
    assert!(d1.data == d2.data, "same seed, different images");
    assert!(d1.data != dev.data, "the image did not change");

    // The same changes as the library's (those of the test seeds).
    let (mut d, m) = map(dev.clone()).unwrap();
    let mut rng = Rng(4242);
    let lines: Vec<String> = (0..3)
        .map(|_| damage(&mut d, &mut rng, &m).unwrap())
        .collect();
    assert_eq!(out(&a), lines.join("\n") + "\n");
    assert!(d.data == d1.data);

    // One change by default; another seed makes another change.
    let p3 = image("seed-3", &dev);
    let one = ok(&p3, &["--seed", "4242"]);
    assert_eq!(one, lines[..1]);
    let p4 = image("seed-4", &dev);
    ok(&p4, &["--seed", "4243"]);
    assert!(load(&p4).data != load(&p3).data);
}

#[test]
fn set_entry_removes_or_repoints() {
    let (p, _, s) = sample_image("set-entry");
    let root = ROOT_INO.to_string();
    // /hello and /a/hardlink name the same inode: without /hello its link
    // count (2) is one too many, and the inode itself is untouched.
    let lines = ok(&p, &["--set-entry", &root, "hello", "0"]);
    assert_eq!(lines, [format!("directory {root} entry 'hello' (inode {}) removed", s.hello)]);
    let dev = load(&p);
    let (dev, inode) = {
        let mut fs = open(dev);
        (fs.dev.clone(), fs.read_inode(s.hello).unwrap())
    };
    assert_eq!(inode.nlink, 2);
    reports(dev, &[&format!("inode {}:", s.hello), "link count 2, should be 1"]);
    // Repointed: /big now names /hello's inode, and big's inode is named
    // by nothing.
    let lines = ok(&p, &["--set-entry", &root, "big", &s.hello.to_string()]);
    assert_eq!(lines, [format!("directory {root} entry 'big' (inode {}) now names inode {}", s.big, s.hello)]);
    reports(load(&p), &[&format!("inode {}:", s.big), "not referenced by any directory"]);
    // No such entry, a file that is not a directory: exit 1, nothing written.
    let before = load(&p);
    for args in [
        ["--set-entry", &root, "hello", "0"],
        ["--set-entry", &s.hello.to_string(), "x", "0"],
    ] {
        let o = run(&p, &args);
        assert_eq!(code(&o), 1, "{args:?}: {}", err(&o));
    }
    assert_eq!(load(&p).data, before.data);
}

#[test]
fn bad_usage() {
    let (p, dev, _) = sample_image("usage");
    let o = Command::new(CORRUPT).arg("--help").output().unwrap();
    assert_eq!(code(&o), 0);
    for s in [
        "Usage:",
        "--seed N [--changes K]",
        "--set-inode INO OFF WIDTH VALUE",
        "--set-sb OFF WIDTH VALUE",
        "--set-dir DIRINO FILEBLOCK OFF WIDTH VALUE",
        "--set-entry DIRINO NAME INO",
        "--block-bit BLOCK 0|1",
        "--inode-bit INO 0|1",
        "--extents INO",
    ] {
        assert!(out(&o).contains(s), "help lacks {s:?}:\n{}", out(&o));
    }
    let o = Command::new(CORRUPT).output().unwrap();
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("Usage:"), "{}", err(&o));
    for args in [
        &[][..],
        &["--seed"],
        &["--seed", "x"],
        &["--seed", "1", "--changes"],
        &["--changes", "2"],
        &["--seed", "1", "--extents", "2"],
        &["--set-inode", "2", "12", "4"],
        &["--set-inode", "2", "12", "3", "0"],
        &["--set-inode", "2", "510", "4", "0"],
        &["--set-inode", "0x100000000", "12", "4", "0"],
        &["--set-inode", "2", "12", "1", "256"],
        &["--set-sb", "1022", "4", "0"],
        &["--set-dir", "2", "0", "0", "4"],
        &["--set-entry", "2", "x"],
        &["--set-entry", "2", "x", "y"],
        &["--block-bit", "10", "2"],
        &["--inode-bit", "2", "x"],
        &["--extents", "-1"],
        &["--bogus"],
        &["--seed", "1", "other.img"],
    ] {
        let o = run(&p, args);
        assert_eq!(code(&o), 2, "{args:?}: {}", err(&o));
        assert!(err(&o).contains("Usage:"), "{args:?}: {}", err(&o));
        assert!(out(&o).is_empty(), "{args:?}: {}", out(&o));
    }
    assert!(load(&p).data == dev.data);
}

#[test]
fn unusable_images() {
    let root = ROOT_INO.to_string();
    let all: &[&[&str]] = &[
        &["--seed", "1"],
        &["--seed", "1", "--changes", "5"],
        &["--set-inode", &root, "12", "4", "0"],
        &["--set-dir", &root, "0", "0", "4", "1"],
        &["--block-bit", "100", "1"],
        &["--extents", &root],
    ];
    let expect_fail = |p: &PathBuf, args: &[&str]| {
        let before = std::fs::read(p).unwrap();
        let o = run(p, args);
        assert_eq!(code(&o), 1, "{args:?}: {}{}", out(&o), err(&o));
        assert!(!err(&o).contains("panicked"), "{args:?}: {}", err(&o));
        assert!(
            err(&o).starts_with("mapfs-corrupt: "),
            "{args:?}: {}",
            err(&o)
        );
        assert!(out(&o).is_empty(), "{args:?}: {}", out(&o));
        assert_eq!(std::fs::read(p).unwrap(), before, "{args:?} wrote");
    };
    // Garbage.
    let mut rng = Rng(99);
    let garbage = MemDev {
        data: (0..256 << 10).map(|_| rng.next() as u8).collect(),
    };
    let p = image("garbage", &garbage);
    for args in all {
        expect_fail(&p, args);
    }
    // Shorter than a superblock (--set-sb fails too), and empty.
    for (name, len) in [("short", 100), ("empty", 0)] {
        let p = image(name, &MemDev::new(len));
        for args in all
            .iter()
            .copied()
            .chain([&["--set-sb", "0", "4", "1"][..]])
        {
            expect_fail(&p, args);
        }
    }
    // A directory is not an image.
    let o = run(
        &PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
        &["--seed", "1"],
    );
    assert_eq!(code(&o), 1, "{}", err(&o));
    assert!(err(&o).contains("not a regular file"), "{}", err(&o));
    // A valid superblock over a damaged root inode: --seed cannot map
    // the image, the others cannot read the root.
    let (dev, _) = populate(mem_fs(4 << 20, 1024), 30);
    let (dev, db) = dir_block(dev, ROOT_INO, 0);
    let (blk, off) = {
        let fs = open(dev.clone());
        fs.geo.inode_location(ROOT_INO).unwrap()
    };
    let dev = flip(dev, blk, off + 16, 0);
    let p = image("bad-root", &dev);
    for args in [&all[0], &all[1], &all[3], &all[5]] {
        expect_fail(&p, args);
    }
    // A block past the end of the bitmap, an inode out of range.
    expect_fail(&p, &["--block-bit", "99999999", "1"]);
    expect_fail(&p, &["--set-inode", "99999999", "12", "4", "0"]);
    // The superblock and other inodes can still be changed.
    assert_eq!(ok(&p, &["--block-bit", &db.to_string(), "0"]).len(), 1);
    assert_eq!(ok(&p, &["--set-sb", "52", "4", "3"]).len(), 1);
}
