//! mkfs then fsck: clean for every block size and many device sizes.

mod common;

use common::*;
use mapfs_format::layout::{LOST_FOUND_INO, MIN_BLOCK_COUNT, ROOT_INO};
use mapfs_tools::dev::{FileDev, MemDev};
use mapfs_tools::fsck::{fsck, FsckOptions};
use mapfs_tools::mkfs::mkfs;

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
            },
        )
        .unwrap();
        assert_eq!(r.exit, 0, "{}", show(&r));
        std::fs::remove_file(&path).unwrap();
    }
}
