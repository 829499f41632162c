//! mkfs then fsck: clean for every block size and many device sizes.

mod common;

use common::*;
use mapfs_format::layout::{LOST_FOUND_INO, MIN_BLOCK_COUNT, ROOT_INO};
use mapfs_tools::dev::{FileDev, MemDev};
use mapfs_tools::fsck::{fsck, FsckOptions};
use mapfs_tools::mkfs::{mkfs, parse_size, MkfsOptions};

#[test]
fn fresh_filesystems_are_clean() {
    for bs in [1024u32, 2048, 4096] {
        let min = MIN_BLOCK_COUNT as usize * bs as usize;
        for size in [
            min,
            min + bs as usize - 1,
            100 * 1024,
            1 << 20,
            3 << 20,
            64 << 20,
        ] {
            if size < min {
                continue;
            }
            let dev = mem_fs(size, bs);
            let (r, dev) = check(dev);
            assert_eq!(r.exit, 0, "bs {bs} size {size}:\n{}", show(&r));
            // Root and lost+found exist with the right modes and links.
            let mut fs = open(dev);
            let root = fs.read_inode(ROOT_INO).unwrap();
            assert_eq!(root.mode, 0o040755);
            assert_eq!(root.nlink, 3);
            let lf = fs.read_inode(LOST_FOUND_INO).unwrap();
            assert_eq!(lf.mode, 0o040700);
            assert_eq!(lf.nlink, 2);
        }
    }
}

#[test]
fn too_small_is_refused() {
    for bs in [1024u32, 2048, 4096] {
        let size = (MIN_BLOCK_COUNT as usize - 1) * bs as usize;
        let err = mkfs(MemDev::new(size), &opts(bs)).unwrap_err().to_string();
        assert!(err.contains("too small"), "{err}");
    }
    // Too many inodes for the device.
    let mut o = opts(1024);
    o.inodes = Some(100_000);
    let err = mkfs(MemDev::new(64 << 10), &o).unwrap_err().to_string();
    assert!(err.contains("too small"), "{err}");
}

#[test]
fn populated_is_clean() {
    for bs in [1024u32, 2048, 4096] {
        let (dev, _) = populate(mem_fs(8 << 20, bs), 700);
        let (r, _) = check(dev);
        assert_eq!(r.exit, 0, "bs {bs}:\n{}", show(&r));
    }
}

#[test]
fn large_sparse_images() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    for (bs, size) in [(4096u32, 64u64 << 30), (1024, 64 << 30), (2048, 8 << 30)] {
        let path = dir.join(format!("sparse-{bs}-{size}.img"));
        let _ = std::fs::remove_file(&path);
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(size).unwrap();
        drop(f);
        let dev = FileDev::open(&path, true).unwrap();
        let (_, sb) = mkfs(dev, &opts(bs)).unwrap();
        assert_eq!(sb.block_count, size / u64::from(bs));
        let dev = FileDev::open(&path, false).unwrap();
        let (r, _) = fsck(
            dev,
            FsckOptions {
                repair: false,
                force: true,
                verbose: false,
                backup: None,
            },
        )
        .unwrap();
        assert_eq!(r.exit, 0, "{}", show(&r));
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn parse_size_suffixes() {
    for (s, want) in [
        ("0", 0u64),
        ("1", 1),
        ("123456", 123_456),
        ("4096", 4096),
        ("1K", 1 << 10),
        ("1k", 1 << 10),
        ("64K", 64 << 10),
        ("3M", 3 << 20),
        ("3m", 3 << 20),
        ("2G", 2 << 30),
        ("2g", 2 << 30),
        ("1T", 1 << 40),
        ("5t", 5 << 40),
        ("007M", 7 << 20),
        ("16777215T", 16_777_215 << 40),
    ] {
        assert_eq!(parse_size(s), Some(want), "{s:?}");
    }
    for s in [
        "",
        "K",
        "m",
        "-1",
        "+1",
        " 1M",
        "1M ",
        "1.5G",
        "1KB",
        "1KiB",
        "1P",
        "1E",
        "M1",
        "0x10",
        "1 K",
        "abc",
        "16777216T",
        "18446744073709551616",
        "1µ",
    ] {
        assert_eq!(parse_size(s), None, "{s:?} should be rejected");
    }
}

fn sized(bs: Option<u32>, size: u64) -> MkfsOptions {
    MkfsOptions {
        block_size: bs,
        size: Some(size),
        ..opts(1024)
    }
}

#[test]
fn size_rounds_down_to_blocks() {
    for bs in [1024u32, 2048, 4096] {
        let b = u64::from(bs);
        for size in [MIN_BLOCK_COUNT * b, 100 * b + b - 1, 300 * b + 1, 1 << 20] {
            let mut dev = MemDev::new(4 << 20);
            // The tail past the filesystem must be left alone.
            dev.data.fill(0xA5);
            let (dev, sb) = mkfs(dev, &sized(Some(bs), size)).unwrap();
            assert_eq!(sb.block_size(), bs);
            assert_eq!(sb.block_count, size / b, "bs {bs} size {size}");
            let end = (sb.block_count * b) as usize;
            assert!(
                dev.data[end..].iter().all(|&x| x == 0xA5),
                "bs {bs} size {size}: bytes past the filesystem were written"
            );
            let (r, _) = check(dev);
            assert_eq!(r.exit, 0, "bs {bs} size {size}:\n{}", show(&r));
        }
    }
    // The size equal to the device is the same as no size.
    let (_, a) = mkfs(MemDev::new(1 << 20), &opts(2048)).unwrap();
    let (_, b) = mkfs(MemDev::new(1 << 20), &sized(Some(2048), 1 << 20)).unwrap();
    assert_eq!(
        (a.block_count, a.inode_count),
        (b.block_count, b.inode_count)
    );
}

#[test]
fn size_sets_default_block_size_and_inodes() {
    // The 16 MiB default block size rule applies to the requested size.
    let (_, sb) = mkfs(MemDev::new(32 << 20), &sized(None, 8 << 20)).unwrap();
    assert_eq!(sb.block_size(), 1024);
    assert_eq!(sb.block_count, 8 << 10);
    let (_, sb) = mkfs(MemDev::new(32 << 20), &sized(None, 16 << 20)).unwrap();
    assert_eq!(sb.block_size(), 4096);
    assert_eq!(sb.block_count, 4 << 10);
    let (_, sb) = mkfs(MemDev::new(32 << 20), &sized(None, (16 << 20) - 1)).unwrap();
    assert_eq!(sb.block_size(), 1024);
    assert_eq!(sb.block_count, (16 << 10) - 1);
    // The default inode count follows the filesystem size, not the device.
    let (_, whole) = mkfs(MemDev::new(8 << 20), &opts(1024)).unwrap();
    let (_, part) = mkfs(MemDev::new(32 << 20), &sized(Some(1024), 8 << 20)).unwrap();
    assert_eq!(whole.inode_count, part.inode_count);
}

#[test]
fn size_larger_than_device_is_refused() {
    let dev_size = 1u64 << 20;
    for size in [dev_size + 1, dev_size + 1024, 2 << 20, u64::MAX] {
        let err = mkfs(MemDev::new(dev_size as usize), &sized(Some(1024), size))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("larger than the device")
                && err.contains(&size.to_string())
                && err.contains(&dev_size.to_string()),
            "{err}"
        );
    }
}

#[test]
fn size_too_small_is_refused() {
    for bs in [1024u32, 2048, 4096] {
        let b = u64::from(bs);
        // Below the minimum block count, including after rounding down.
        for size in [
            0,
            1,
            b - 1,
            (MIN_BLOCK_COUNT - 1) * b,
            MIN_BLOCK_COUNT * b - 1,
        ] {
            let err = mkfs(MemDev::new(4 << 20), &sized(Some(bs), size))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("requested size too small")
                    && err.contains(&format!("{size} bytes is {} blocks", size / b)),
                "bs {bs} size {size}: {err}"
            );
        }
    }
    // Too many inodes for the requested size (though not for the device).
    let mut o = sized(Some(1024), 64 << 10);
    o.inodes = Some(100_000);
    let err = mkfs(MemDev::new(64 << 20), &o).unwrap_err().to_string();
    assert!(
        err.contains("too small") && err.contains("the filesystem has 64"),
        "{err}"
    );
}

#[test]
fn size_on_larger_image_passes_fsck() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    for (bs, file_size, size) in [
        (1024u32, 64u64 << 20, (5 << 20) + 777),
        (2048, 64 << 20, 32 << 20),
        (4096, 8 << 30, (1 << 30) + 4095),
    ] {
        let path = dir.join(format!("sized-{bs}-{size}.img"));
        let _ = std::fs::remove_file(&path);
        std::fs::File::create(&path)
            .unwrap()
            .set_len(file_size)
            .unwrap();
        let dev = FileDev::open(&path, true).unwrap();
        let (_, sb) = mkfs(dev, &sized(Some(bs), size)).unwrap();
        assert_eq!(sb.block_count, size / u64::from(bs));
        // The image file keeps its size.
        assert_eq!(std::fs::metadata(&path).unwrap().len(), file_size);
        let dev = FileDev::open(&path, false).unwrap();
        let (r, _) = fsck(
            dev,
            FsckOptions {
                repair: false,
                force: true,
                verbose: false,
                backup: None,
            },
        )
        .unwrap();
        assert_eq!(r.exit, 0, "bs {bs} size {size}: {}", show(&r));
        std::fs::remove_file(&path).unwrap();
    }
}

/// mkfs leaves nothing of an older filesystem in block 0: at 2 and 4 KiB
/// blocks the bytes after the 1024-byte superblock used to keep whatever
/// was there (an ext4 superblock's magic at byte 1080 would still be found
/// by blkid).
#[test]
fn block_zero_is_all_new() {
    for bs in [1024u32, 2048, 4096] {
        let mut dev = MemDev::new(8 << 20);
        dev.data.fill(0xaa);
        let (dev, _) = mkfs(dev, &opts(bs)).expect("mkfs");
        let rest = &dev.data[1024..bs as usize];
        assert!(rest.iter().all(|&b| b == 0), "bs {bs}: stale bytes after the superblock in block 0");
        let (r, _) = check(dev);
        assert_eq!(r.exit, 0, "bs {bs}:\n{}", show(&r));
    }
}
