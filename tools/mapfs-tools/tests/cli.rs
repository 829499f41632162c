//! The mkfs.mapfs and fsck.mapfs programs: exit codes, messages, refusal
//! to overwrite other filesystems, --help.

use std::path::PathBuf;
use std::process::{Command, Output};

const MKFS: &str = env!("CARGO_BIN_EXE_mkfs-mapfs");
const FSCK: &str = env!("CARGO_BIN_EXE_fsck-mapfs");

fn image(name: &str, size: u64) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}.img"));
    let _ = std::fs::remove_file(&p);
    std::fs::File::create(&p).unwrap().set_len(size).unwrap();
    p
}

fn run(prog: &str, args: &[&str]) -> Output {
    Command::new(prog).args(args).output().unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn write_at(p: &PathBuf, off: u64, data: &[u8]) {
    use std::os::unix::fs::FileExt;
    std::fs::OpenOptions::new()
        .write(true)
        .open(p)
        .unwrap()
        .write_all_at(data, off)
        .unwrap();
}

#[test]
fn help_and_version() {
    let o = run(MKFS, &["--help"]);
    assert_eq!(code(&o), 0);
    let t = text(&o);
    for opt in [
        "-b SIZE", "-s SIZE", "-L LABEL", "-N COUNT", "-U UUID", "-f ", "-q ", "-V ", "--help",
    ] {
        assert!(t.contains(opt), "mkfs help lacks {opt}:\n{t}");
    }
    assert_eq!(code(&run(MKFS, &["-h"])), 0);
    let o = run(FSCK, &["--help"]);
    assert_eq!(code(&o), 0);
    let t = text(&o);
    for s in [
        "-n ",
        "-p, -a",
        "-y ",
        "-f ",
        "-v ",
        "-b BLOCK, --backup BLOCK",
        "the default",
        "16  usage",
    ] {
        assert!(t.contains(s), "fsck help lacks {s:?}:\n{t}");
    }
    assert!(text(&run(MKFS, &["-V"])).starts_with("mkfs.mapfs "));
    assert!(text(&run(FSCK, &["-V"])).starts_with("fsck.mapfs "));
}

#[test]
fn mkfs_then_fsck() {
    let p = image("basic", 32 << 20);
    let ps = p.to_str().unwrap();
    let o = run(
        MKFS,
        &[
            "-b",
            "2048",
            "-L",
            "mylabel",
            "-U",
            "0123456789abcdef0123456789abcdef",
            "-N",
            "1000",
            ps,
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("2048 bytes")
            && t.contains("mylabel")
            && t.contains("01234567-89ab-cdef-0123-456789abcdef"),
        "{t}"
    );
    assert!(t.contains("inodes:       1003 (512 bytes each)"), "{t}");
    let o = run(FSCK, &[ps]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("clean"));
    let o = run(FSCK, &["-fv", ps]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("Pass 5"));
    // Damage the superblock checksum: -n reports (4), -y fixes (1), then clean (0).
    write_at(&p, 700, &[0xAA]);
    let o = run(FSCK, &["-n", ps]);
    assert_eq!(code(&o), 4, "{}", text(&o));
    assert!(text(&o).contains("superblock: bad checksum"));
    let o = run(FSCK, &["-y", ps]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let o = run(FSCK, &["-fn", ps]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    // -p and -a repair too.
    write_at(&p, 700, &[0x55]);
    assert_eq!(code(&run(FSCK, &["-p", ps])), 1);
    write_at(&p, 700, &[0x66]);
    assert_eq!(code(&run(FSCK, &["-a", ps])), 1);
    assert_eq!(code(&run(FSCK, &["-f", ps])), 0);
    std::fs::remove_file(&p).unwrap();
}

#[test]
fn mkfs_quiet_and_refusals() {
    let p = image("refuse", 8 << 20);
    let ps = p.to_str().unwrap();
    let o = run(MKFS, &["-q", ps]);
    assert_eq!(code(&o), 0);
    assert!(o.stdout.is_empty() && o.stderr.is_empty());
    // An existing mapfs.
    let o = run(MKFS, &[ps]);
    assert_eq!(code(&o), 1);
    assert!(
        text(&o).contains("contains a mapfs filesystem") && text(&o).contains("-f"),
        "{}",
        text(&o)
    );
    assert_eq!(code(&run(MKFS, &["-f", "-q", ps])), 0);
    // XFS.
    let p2 = image("xfs", 8 << 20);
    let ps2 = p2.to_str().unwrap();
    write_at(&p2, 0, b"XFSB");
    let o = run(MKFS, &[ps2]);
    assert_eq!(code(&o), 1);
    assert!(text(&o).contains("XFS"), "{}", text(&o));
    assert_eq!(code(&run(MKFS, &["-fq", ps2])), 0);
    // ext4.
    let p3 = image("ext4", 8 << 20);
    let ps3 = p3.to_str().unwrap();
    write_at(&p3, 1080, &[0x53, 0xEF]);
    let o = run(MKFS, &[ps3]);
    assert_eq!(code(&o), 1);
    assert!(text(&o).contains("ext2/ext3/ext4"), "{}", text(&o));
    assert_eq!(code(&run(MKFS, &["-f", "-q", ps3])), 0);
    // btrfs and swap.
    let p4 = image("btrfs", 8 << 20);
    write_at(&p4, 0x10040, b"_BHRfS_M");
    assert!(text(&run(MKFS, &[p4.to_str().unwrap()])).contains("btrfs"));
    let p5 = image("swap", 8 << 20);
    write_at(&p5, 4086, b"SWAPSPACE2");
    assert!(text(&run(MKFS, &[p5.to_str().unwrap()])).contains("swap"));
    // Too small.
    let p6 = image("tiny", 20 * 1024);
    let o = run(MKFS, &[p6.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    assert!(text(&o).contains("too small"), "{}", text(&o));
    let p7 = image("tiny4k", 64 * 1024);
    let o = run(MKFS, &["-b", "4096", p7.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    assert!(text(&o).contains("too small"), "{}", text(&o));
    // Minimum size works.
    let p8 = image("min", 32 * 1024);
    let o = run(MKFS, &["-b", "1024", p8.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(code(&run(FSCK, &["-f", p8.to_str().unwrap()])), 0);
    for p in [p, p2, p3, p4, p5, p6, p7, p8] {
        let _ = std::fs::remove_file(p);
    }
}

#[test]
fn usage_errors() {
    let p = image("usage", 1 << 20);
    let ps = p.to_str().unwrap();
    for args in [
        &["-b", "999", ps][..],
        &["-b"],
        &["-x", ps],
        &["-U", "nothex", ps],
        &[],
        &[ps, ps],
    ] {
        let o = run(MKFS, args);
        assert_eq!(code(&o), 1, "mkfs {args:?}: {}", text(&o));
    }
    let long = "x".repeat(33);
    assert_eq!(code(&run(MKFS, &["-L", &long, ps])), 1);
    for args in [
        &["-x", ps][..],
        &[],
        &["-n", "-y", ps],
        &[ps, ps],
        &["--bogus", ps],
    ] {
        let o = run(FSCK, args);
        assert_eq!(code(&o), 16, "fsck {args:?}: {}", text(&o));
    }
    // Not a mapfs (all zeros): errors left (4). Missing file: operational (8).
    let o = run(FSCK, &["-n", ps]);
    assert_eq!(code(&o), 4, "{}", text(&o));
    assert!(text(&o).contains("bad magic"));
    let o = run(FSCK, &["/nonexistent/image"]);
    assert_eq!(code(&o), 8, "{}", text(&o));
    let _ = std::fs::remove_file(p);
}

#[test]
fn mkfs_size_option() {
    let file_size = 64u64 << 20;
    let p = image("size", file_size);
    let ps = p.to_str().unwrap();
    // Mark the tail: -s must leave it alone.
    write_at(&p, 40 << 20, b"TAIL");
    write_at(&p, file_size - 4, b"END!");
    for (args, bs, blocks) in [
        (&["-s", "32M"][..], 4096u64, 8192u64),
        (&["-s32m", "-b", "1024"], 1024, 32768),
        (&["-s", "8M"], 1024, 8192),
        (&["-s", "1g", "-b", "2048"], 0, 0),
        (&["-s", "10000001", "-b", "2048"], 2048, 10_000_001 / 2048),
        (&["-s", "300k"], 1024, 300),
        (&["-s", "67108864"], 4096, 16384),
    ] {
        let mut a = vec!["-f"];
        a.extend_from_slice(args);
        a.push(ps);
        let o = run(MKFS, &a);
        if bs == 0 {
            // Larger than the image: refused, naming both sizes.
            assert_eq!(code(&o), 1, "mkfs {a:?}: {}", text(&o));
            let t = text(&o);
            assert!(
                t.contains("1073741824 bytes")
                    && t.contains(&format!("{file_size} bytes"))
                    && t.contains("larger than the device"),
                "{t}"
            );
            continue;
        }
        assert_eq!(code(&o), 0, "mkfs {a:?}: {}", text(&o));
        let t = text(&o);
        assert!(
            t.contains(&format!("block size:   {bs} bytes"))
                && t.contains(&format!("blocks:       {blocks} (")),
            "mkfs {a:?}:\n{t}"
        );
        let o = run(FSCK, &["-f", ps]);
        assert_eq!(code(&o), 0, "fsck after mkfs {a:?}: {}", text(&o));
        assert_eq!(std::fs::metadata(&p).unwrap().len(), file_size);
        let f = std::fs::File::open(&p).unwrap();
        let mut buf = [0u8; 4];
        use std::os::unix::fs::FileExt;
        f.read_exact_at(&mut buf, file_size - 4).unwrap();
        // A filesystem as large as the image ends with the backup
        // superblock's block, which covers the marker.
        if blocks * bs < file_size {
            assert_eq!(&buf, b"END!");
        }
        // The backup superblock starts the last block of the filesystem.
        f.read_exact_at(&mut buf, (blocks - 1) * bs).unwrap();
        assert_eq!(&buf, b"MAPF", "mkfs {a:?}: no backup superblock");
        if blocks * bs <= 40 << 20 {
            f.read_exact_at(&mut buf, 40 << 20).unwrap();
            assert_eq!(&buf, b"TAIL", "mkfs {a:?} wrote past the filesystem");
        }
    }
    // Too small after rounding down to blocks.
    let o = run(MKFS, &["-f", "-b", "4096", "-s", "131071", ps]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        text(&o).contains("requested size too small: 131071 bytes is 31 blocks"),
        "{}",
        text(&o)
    );
    let o = run(MKFS, &["-f", "-s", "0", ps]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("too small"), "{}", text(&o));
    // Malformed sizes: usage errors naming the value.
    for bad in ["", "12Q", "1.5G", "-5", "K", "1KiB", "99999999999T"] {
        let o = run(MKFS, &["-f", "-s", bad, ps]);
        assert_eq!(code(&o), 1, "-s {bad:?}: {}", text(&o));
        assert!(
            text(&o).contains(&format!("invalid size '{bad}'")),
            "-s {bad:?}: {}",
            text(&o)
        );
    }
    let o = run(MKFS, &["-f", ps, "-s"]);
    assert_eq!(code(&o), 1);
    assert!(
        text(&o).contains("option '-s' needs a value"),
        "{}",
        text(&o)
    );
    let _ = std::fs::remove_file(p);
}

/// The backup superblock from the command line: mkfs names its block, fsck
/// restores a zeroed primary from the end of the image, or from `-b` /
/// `--backup` for a filesystem smaller than the image.
#[test]
fn fsck_backup_superblock() {
    let p = image("backup", 16 << 20);
    let ps = p.to_str().unwrap();
    let o = run(MKFS, &["-f", "-b", "2048", "-s", "10M", ps]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        text(&o).contains(", backup superblock 5119\n"),
        "{}",
        text(&o)
    );
    write_at(&p, 0, &[0u8; 1024]);
    // Not at the end of the image: not found.
    let o = run(FSCK, &["-n", ps]);
    assert_eq!(code(&o), 4, "{}", text(&o));
    assert!(
        text(&o).contains("no backup superblock found"),
        "{}",
        text(&o)
    );
    for args in [
        &["-n", "-b", "5119", ps][..],
        &["-n", "-b5119", ps],
        &["-n", "--backup", "5119", ps],
        &["-n", "--backup=5119", ps],
    ] {
        let o = run(FSCK, args);
        assert_eq!(code(&o), 4, "fsck {args:?}: {}", text(&o));
        assert!(
            text(&o).contains("a good backup is at block 5119 (-y restores it)"),
            "fsck {args:?}: {}",
            text(&o)
        );
    }
    for args in [
        &["-n", "-b", "x", ps][..],
        &["-n", "--backup=-1", ps],
        &["-n", "--backup", ps],
        &["-n", ps, "-b"],
        &["-n", "--backup-superblock=1", ps],
    ] {
        let o = run(FSCK, args);
        assert_eq!(code(&o), 16, "fsck {args:?}: {}", text(&o));
    }
    let o = run(FSCK, &["-y", "--backup=5119", ps]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        text(&o).contains("restored from the backup superblock at block 5119"),
        "{}",
        text(&o)
    );
    let o = run(FSCK, &["-f", "-n", ps]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    // A valid primary: -b is not used, with a warning on stderr.
    let o = run(FSCK, &["-b", "5119", ps]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not used"),
        "{}",
        text(&o)
    );
    // The whole image: found at its end without -b.
    let o = run(MKFS, &["-f", "-q", ps]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    write_at(&p, 0, &[0u8; 1024]);
    let o = run(FSCK, &["-p", ps]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let o = run(FSCK, &[ps]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let _ = std::fs::remove_file(p);
}
