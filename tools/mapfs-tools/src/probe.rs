//! Recognising existing filesystems and other signatures on a device, so
//! mkfs does not destroy them by accident.

/// How many bytes of the device [`probe`] looks at.
pub const PROBE_BYTES: usize = 128 * 1024;

fn at(buf: &[u8], off: usize, magic: &[u8]) -> bool {
    buf.get(off..off + magic.len()) == Some(magic)
}

/// Names what `head` (the first bytes of a device, up to [`PROBE_BYTES`])
/// contains, or `None` if no known signature is found.
pub fn probe(head: &[u8]) -> Option<&'static str> {
    const SIGS: &[(usize, &[u8], &str)] = &[
        (0, b"MAPF", "a mapfs filesystem"),
        (0, b"XFSB", "an XFS filesystem"),
        (1080, &[0x53, 0xEF], "an ext2/ext3/ext4 filesystem"),
        (0x10040, b"_BHRfS_M", "a btrfs filesystem"),
        (0, b"LUKS\xba\xbe", "a LUKS encrypted volume"),
        (0, b"SKUL\xba\xbe", "a LUKS2 encrypted volume"),
        (536, b"LVM2 001", "an LVM2 physical volume"),
        (0, b"hsqs", "a squashfs filesystem"),
        (1024, &[0x10, 0x20, 0xF5, 0xF2], "an F2FS filesystem"),
        (32768, b"JFS1", "a JFS filesystem"),
        (0x10034, b"ReIsEr2Fs", "a ReiserFS filesystem"),
        (0x10034, b"ReIsEr3Fs", "a ReiserFS filesystem"),
        (0x10034, b"ReIsErFs", "a ReiserFS filesystem"),
        (32769, b"CD001", "an ISO 9660 filesystem"),
        (3, b"NTFS    ", "an NTFS filesystem"),
        (3, b"EXFAT   ", "an exFAT filesystem"),
        (82, b"FAT32   ", "a FAT32 filesystem"),
        (54, b"FAT16   ", "a FAT16 filesystem"),
        (54, b"FAT12   ", "a FAT12 filesystem"),
        (512, b"EFI PART", "a GPT partition table"),
        (1024, &[0x00, 0x42, 0x20, 0x18], "a NILFS2 filesystem"),
    ];
    for &(off, magic, name) in SIGS {
        if at(head, off, magic) {
            return Some(name);
        }
    }
    for page in [4096usize, 8192, 16384, 65536] {
        if at(head, page - 10, b"SWAPSPACE2") || at(head, page - 10, b"SWAP-SPACE") {
            return Some("a swap area");
        }
    }
    // A DOS/MBR partition table: boot signature and a non-empty entry.
    if at(head, 510, &[0x55, 0xAA]) {
        let entries = head.get(446..510).unwrap_or(&[]);
        if entries
            .chunks(16)
            .any(|e| e.get(4).is_some_and(|&t| t != 0))
        {
            return Some("a DOS partition table");
        }
    }
    None
}
