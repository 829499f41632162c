# The kernel-log judge must catch every report kind and pass a clean boot log.
set -eu
top=$(cd "$(dirname "$0")/../../.." && pwd)
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
clean='[    0.000000] Linux version 7.3.4
[    0.412345] RCU lockdep checking is enabled.
[    0.500000] Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar
[    1.000000] kasan: KernelAddressSanitizer initialized (generic)
[    2.000000] XFS (vdb): Mounting V5 Filesystem
[    2.100000] mapfs: loaded'
printf '%s\n' "$clean" > "$d/clean"
"$top/tools/splatcheck" "$d/clean" || { echo "clean log judged bad"; exit 1; }
while IFS= read -r bad; do
	{ printf '%s\n' "$clean"; printf '%s\n' "$bad"; } > "$d/bad"
	if "$top/tools/splatcheck" "$d/bad" >/dev/null; then echo "missed: $bad"; exit 1; fi
done <<'BAD'
[    3.141592] BUG: KASAN: slab-out-of-bounds in mapfs_splat_init+0x51/0x90 [mapfs_splat]
[    3.141592] WARNING: possible circular locking dependency detected
[    3.141592] WARNING: possible recursive locking detected
[    3.141592] WARNING: inconsistent lock state
[    3.141592] WARNING: suspicious RCU usage
[    3.141592] WARNING: CPU: 1 PID: 123 at fs/iomap/buffered-io.c:42 iomap_foo+0x1/0x2
[   21.825492] WARNING: buffered-io.c:50 at iomap_foo+0x5a/0x1000, CPU#0: fsx/62
[    3.141592] BUG: sleeping function called from invalid context at mm/slub.c:1
[    3.141592] BUG: unable to handle page fault for address: ffff888000000000
[    3.141592] Oops: general protection fault, probably for non-canonical address 0xdead: 0000 [#1] SMP KASAN
[    3.141592] Kernel panic - not syncing: Fatal exception
[    3.141592] kernel BUG at fs/inode.c:600!
[    3.141592] rust_kernel: panicked at samples/mapfs/inode.rs:10:5:
[    3.141592] INFO: task umount:321 blocked for more than 120 seconds.
[    3.141592] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [fsx:99]
[    3.141592] UBSAN: shift-out-of-bounds in fs/mapfs.c:1:2
BAD
echo ok
