//! Mounted filesystems: parsing the kernel's mount tables, matching a
//! device by number, and what mkfs and fsck do with a mounted target. The
//! host tests cannot mount anything, so the tables are sample text and the
//! tools are given the lookup result; the live tests only read
//! /proc/self/mountinfo and stat files.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use mapfs_tools::fsck::{
    mount_check, run_path_mounted, FsckOptions, EXIT_OPERATIONAL, EXIT_UNCORRECTED,
};
use mapfs_tools::mkfs;
use mapfs_tools::mount::{self, find_mount, makedev, parse_mountinfo, parse_mounts, MountEntry};

/// Real-looking mountinfo: a root on a partition, a bind mount, optional
/// fields (shared:, master:), a mount point with a space and a tab, a
/// read-only mount, a btrfs mount with an anonymous device number, and
/// junk lines.
const MOUNTINFO: &str = "\
22 27 0:21 / /proc rw,relatime shared:12 - proc proc rw
27 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw,errors=remount-ro
31 27 8:2 /srv/data /mnt/bind rw,relatime shared:1 - ext4 /dev/sda2 rw
40 27 259:3 / /mnt/my\\040disk\\011x ro,nosuid master:7 - mapfs /dev/nvme0n1p3 ro
41 27 0:45 / /home rw,relatime shared:30 - btrfs /dev/sdb1 rw,space_cache=v2
42 27 7:0 / /mnt/img rw - mapfs /dev/loop0 rw
not a mountinfo line

43 27 x:y / /bad rw - ext4 /dev/sdz rw
";

/// The same kind of table in /proc/self/mounts format.
const MOUNTS: &str = "\
proc /proc proc rw,relatime 0 0
/dev/sda2 / ext4 rw,relatime,errors=remount-ro 0 0
/dev/nvme0n1p3 /mnt/my\\040disk mapfs ro,nosuid 0 0
tmpfs /run tmpfs rw,nosuid,nodev,mode=755 0 0
short line
";

#[test]
fn makedev_matches_glibc() {
    assert_eq!(makedev(8, 1), 0x801);
    assert_eq!(makedev(259, 3), 0x10303);
    assert_eq!(
        makedev(7, 300),
        (300 & 0xff) | ((300 & !0xff) << 12) | (7 << 8)
    );
    assert_eq!(makedev(0x1234_5678, 0), (0x12345u64 << 44) | (0x678 << 8));
    // A device node the system certainly has.
    if let Ok(m) = std::fs::metadata("/dev/null") {
        assert_eq!(m.rdev(), makedev(1, 3));
    }
}

#[test]
fn parse_mountinfo_sample() {
    let t = parse_mountinfo(MOUNTINFO);
    assert_eq!(t.len(), 6, "{t:#?}");
    assert_eq!(
        t[1],
        MountEntry {
            dev: Some(makedev(8, 2)),
            source: "/dev/sda2".into(),
            mount_point: "/".into(),
            read_only: false,
        }
    );
    assert_eq!(t[2].mount_point, "/mnt/bind");
    assert_eq!(
        t[3],
        MountEntry {
            dev: Some(makedev(259, 3)),
            source: "/dev/nvme0n1p3".into(),
            mount_point: "/mnt/my disk\tx".into(),
            read_only: true,
        }
    );
    assert_eq!(t[4].dev, Some(makedev(0, 45)));
    assert_eq!(t[4].source, "/dev/sdb1");
}

#[test]
fn parse_mounts_sample() {
    let t = parse_mounts(MOUNTS);
    assert_eq!(t.len(), 4, "{t:#?}");
    assert!(t.iter().all(|m| m.dev.is_none()));
    assert_eq!(t[1].source, "/dev/sda2");
    assert_eq!(t[1].mount_point, "/");
    assert!(!t[1].read_only);
    assert_eq!(t[2].mount_point, "/mnt/my disk");
    assert!(t[2].read_only);
    assert_eq!(t[3].source, "tmpfs");
}

/// A stand-in for `stat` of mount sources.
fn fake_stat(s: &str) -> Option<u64> {
    match s {
        "/dev/sda2" => Some(makedev(8, 2)),
        "/dev/nvme0n1p3" => Some(makedev(259, 3)),
        "/dev/sdb1" => Some(makedev(8, 17)),
        "/dev/loop0" => Some(makedev(7, 0)),
        _ => None,
    }
}

#[test]
fn find_mount_by_number_and_by_source() {
    let t = parse_mountinfo(MOUNTINFO);
    let at = |rdev| find_mount(&t, rdev, fake_stat).map(|m| m.mount_point.as_str());
    // By number; the first mount of a device is reported.
    assert_eq!(at(makedev(8, 2)), Some("/"));
    assert_eq!(at(makedev(259, 3)), Some("/mnt/my disk\tx"));
    // btrfs: mountinfo has 0:45, the source names the device.
    assert_eq!(at(makedev(8, 17)), Some("/home"));
    // Not mounted.
    assert_eq!(at(makedev(8, 3)), None);
    assert_eq!(at(makedev(8, 16)), None);
    // /proc/self/mounts: by source only.
    let t = parse_mounts(MOUNTS);
    let at = |rdev| find_mount(&t, rdev, fake_stat).map(|m| m.mount_point.as_str());
    assert_eq!(at(makedev(8, 2)), Some("/"));
    assert_eq!(at(makedev(259, 3)), Some("/mnt/my disk"));
    assert_eq!(at(makedev(7, 0)), None);
    // Sources outside /dev are never looked up.
    let t = vec![MountEntry {
        dev: None,
        source: "/home/me/disk.img".into(),
        mount_point: "/mnt".into(),
        read_only: false,
    }];
    assert!(find_mount(&t, 1, |_| panic!("stat called")).is_none());
}

/// The live table: the filesystem holding `/` is found by its number.
/// (Whether a block device is mounted uses the same lookup.)
#[test]
fn live_mount_table() {
    let Ok(table) = mount::mount_table() else {
        return; // no /proc
    };
    let root_dev = std::fs::metadata("/").unwrap().dev();
    let m = find_mount(&table, root_dev, |_| None);
    assert!(m.is_some(), "/ (device {root_dev:#x}) not in {table:#?}");
    // Not block devices: never "mounted".
    assert_eq!(mount::mounted(Path::new("/dev/null")).unwrap(), None);
    assert_eq!(mount::mounted(Path::new("/")).unwrap(), None);
    assert!(mount::mounted(Path::new("/nonexistent/device")).is_err());
}

fn mounted_at(mp: &str, read_only: bool) -> MountEntry {
    MountEntry {
        dev: Some(makedev(8, 2)),
        source: "/dev/sda2".into(),
        mount_point: mp.into(),
        read_only,
    }
}

#[test]
fn mkfs_refuses_a_mounted_device() {
    assert_eq!(mkfs::check_not_mounted("/dev/sda2", None), Ok(()));
    let e = mkfs::check_not_mounted("/dev/sda2", Some(&mounted_at("/srv", false))).unwrap_err();
    assert!(
        e.contains("/dev/sda2 is mounted on /srv") && e.contains("refusing"),
        "{e}"
    );
}

const CHECK: FsckOptions = FsckOptions {
    repair: false,
    force: true,
    verbose: false,
    backup: None,
};
const REPAIR: FsckOptions = FsckOptions {
    repair: true,
    force: true,
    verbose: false,
    backup: None,
};

#[test]
fn fsck_mount_policy() {
    assert_eq!(mount_check("/dev/sda2", REPAIR, None), Ok(None));
    assert_eq!(mount_check("/dev/sda2", CHECK, None), Ok(None));
    // Any repairing mode (-y, -p and -a all set `repair`): refused, exit 8.
    let r = mount_check("/dev/sda2", REPAIR, Some(&mounted_at("/srv", false))).unwrap_err();
    assert_eq!(r.exit, EXIT_OPERATIONAL);
    assert!(
        r.lines[0].contains("/dev/sda2 is mounted on /srv")
            && r.lines[0].contains("cannot repair")
            && r.lines[0].contains("-n"),
        "{:?}",
        r.lines
    );
    // -n: allowed, with a warning (which says read-only when it is).
    let w = mount_check("/dev/sda2", CHECK, Some(&mounted_at("/srv", false)))
        .unwrap()
        .unwrap();
    assert!(
        w.contains("warning") && w.contains("mounted on /srv"),
        "{w}"
    );
    let w = mount_check("/dev/sda2", CHECK, Some(&mounted_at("/srv", true)))
        .unwrap()
        .unwrap();
    assert!(w.contains("mounted read-only on /srv"), "{w}");
}

/// End to end on an image file treated as mounted: a repair run leaves the
/// file untouched and exits 8; a check runs as usual and carries the
/// warning (which the binary prints on stderr).
#[test]
fn fsck_on_a_mounted_target() {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mounted.img");
    std::fs::File::create(&p).unwrap().set_len(4 << 20).unwrap();
    let ps = p.to_str().unwrap();
    let args = mkfs::MkfsArgs {
        quiet: true,
        target: ps.into(),
        ..Default::default()
    };
    mkfs::run(&args).unwrap();
    // Damage the superblock checksum: a repair would rewrite it.
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        f.write_all_at(&[0xAA], 700).unwrap();
    }
    let before = std::fs::read(&p).unwrap();
    let m = mounted_at("/mnt/x", false);
    for _ in 0..2 {
        let r = run_path_mounted(ps, REPAIR, Some(&m));
        assert_eq!(r.exit, EXIT_OPERATIONAL, "{:?}", r.lines);
        assert!(r.lines[0].contains("cannot repair a mounted filesystem"));
    }
    assert!(
        std::fs::read(&p).unwrap() == before,
        "the image was written"
    );
    let r = run_path_mounted(ps, CHECK, Some(&m));
    assert_eq!(r.exit, EXIT_UNCORRECTED, "{:?}", r.lines);
    assert!(r.lines.iter().any(|l| l.contains("bad checksum")));
    assert_eq!(r.warnings.len(), 1);
    assert!(r.warnings[0].contains("is mounted on /mnt/x"));
    // Not mounted: no warning, and the repair goes ahead.
    let r = run_path_mounted(ps, REPAIR, None);
    assert_eq!(r.exit, 1, "{:?}", r.lines);
    assert!(r.warnings.is_empty());
    let _ = std::fs::remove_file(p);
}
