# Sourced by in-guest tests. A test is an executable script: exit 0 passes,
# exit 77 is "notrun" (print the reason first), anything else fails.
set -euo pipefail

: "${MAPFS_TOP:?run me through tools/tests/guest/run-suite}"
: "${MAPFS_OUT:?}"
read -r -a DISKS <<< "${MAPFS_DISKS:-}"
MODULE=$MAPFS_TOP/mapfs.ko
TOOLS=$MAPFS_TOP/tools/target/release
# mkfs -t mapfs and fsck -t mapfs find the tools here, as on an installed system.
export PATH=$TOOLS:$PATH

fail() { echo "FAIL: $*" >&2; exit 1; }
notrun() { echo "notrun: $*"; exit 77; }
need_disks() { [ "${#DISKS[@]}" -ge "$1" ] || notrun "needs $1 virtio-blk disks, have ${#DISKS[@]}"; }

# Load mapfs.ko unless it is loaded already.
# Under a lock: the tests of two lanes may both find it missing.
load_mapfs() { ( flock 9; grep -qw mapfs /proc/modules || insmod "$MODULE" ) 9>>/tmp/.load-mapfs.lock; }
unload_mapfs() { if grep -qw mapfs /proc/modules; then rmmod mapfs; fi; }

# The kernel log since a mark, without clearing it (another lane's test may
# be reading it): kmsg_mark, then the operation, then kmsg_since | grep ...
# Match the device name too: the other lane logs mapfs lines of its own.
kmsg_mark() {
	KMSG_MARK="run-suite mark $$.$RANDOM$RANDOM"
	echo "$KMSG_MARK" > /dev/kmsg
}
kmsg_since() { dmesg | sed -n "/$KMSG_MARK\$/,\$p"; }

# A fresh mount point, removed at exit.
scratch_dir() { local d; d=$(mktemp -d /tmp/mnt.XXXXXX); echo "$d"; }

# Fill FILE with N MiB of pseudo-random bytes (fast, reproducible per seed).
fill_random() {
	local file=$1 mib=$2 seed=${3:-1}
	# openssl dies of SIGPIPE when head has enough: not an error here.
	{ openssl enc -aes-128-ctr -pass pass:"$seed" -nosalt -pbkdf2 </dev/zero 2>/dev/null || true; } \
		| head -c $((mib * 1048576)) > "$file"
}

# --- cases across filesystems and block sizes --------------------------------
# The same checks run on mapfs at every block size and on XFS as a control (a
# check that fails on XFS is a broken check). FS_CASES may narrow or widen
# the list: every check also passed on xfs/1024 when it was written, and
# FS_CASES="xfs/1024" runs that control again; make check leaves it out to
# stay within its time budget.
FS_CASES_GIVEN=${FS_CASES:-}
FS_CASES=${FS_CASES:-"xfs/4096 mapfs/1024 mapfs/2048 mapfs/4096"}

# MAPFS_CASES says which cases run: "all" (the default, a test run by hand)
# every case; "check" (make check) mapfs at 1 and 4 KiB blocks (a block
# smaller than a page, and one equal to it); "extra" (make check-extra) the
# rest: the controls (XFS, tmpfs) and mapfs at 2 KiB blocks. A control
# proves a check right, so it only has to run again when a test changes,
# and a 2 KiB block is a second block smaller than a page: make check leaves
# both to make check-extra to stay within its time budget, and CI runs
# both. select_cases LIST [LATER] prints the cases of LIST that are
# selected; run_cases and the tests that keep their own case lists call it.
# LATER: mapfs cases a long test leaves to make check-extra too (a race or
# fuzz smoke that runs its sub-page case in make check and its one-block-a-
# page case there); its header says which and why.
EXTRA_MAPFS_CASES="mapfs/2048"
select_cases() {
	local c out=() extra later=" $EXTRA_MAPFS_CASES ${2:-} "
	for c in $1; do
		extra=
		if [ "${c%%/*}" != mapfs ] || [[ "$later" == *" $c "* ]]; then extra=1; fi
		case ${MAPFS_CASES:-all} in
		check) [ -z "$extra" ] || continue ;;
		extra) [ -n "$extra" ] || continue ;;
		esac
		out+=("$c")
	done
	echo "${out[*]}"
}
# Whether a test's mapfs-only checks (outside its case list) run.
mapfs_checks_wanted() { [ "${MAPFS_CASES:-all}" != extra ]; }

# A test whose checks do not depend on the block size (inode flags,
# namespace operations, remount) calls this before run_cases: mapfs at 1 and
# 4 KiB blocks (a block smaller than a page, and equal to it) and the XFS
# control, unless FS_CASES was given. It saves make check a case of each.
block_size_independent() {
	[ -n "$FS_CASES_GIVEN" ] || FS_CASES="xfs/4096 mapfs/1024 mapfs/4096"
}

# mkfs_fs FS BS DEV: make a fresh filesystem, on the whole device or, when
# MKFS_SIZE is set (bytes, with a K/M/G suffix), on its first MKFS_SIZE bytes.
# mkfs.xfs refuses filesystems under 300 MB unless it runs for fstests, which
# it recognises by these variables: a small control is what fstests does.
mkfs_fs() {
	local size=${MKFS_SIZE:-}
	case "$1" in
	xfs) TEST_DIR=/tmp TEST_DEV=x QA_CHECK_FS=1 \
		mkfs.xfs -q -f -b size="$2" -m crc=1 ${size:+-d size=$size} "$3" ;;
	ext4) mkfs.ext4 -q -F -b "$2" "$3" ${size:+"$size"} ;;
	mapfs) mkfs.mapfs -q -f -b "$2" ${size:+-s $size} "$3" ;;
	# A control with nothing on disk (the POSIX ACL control: this
	# kernel's XFS and ext4 have no ACLs); mount ignores the device.
	tmpfs) : ;;
	*) return 1 ;;
	esac
}

# fsck_fs FS DEV: read-only check after unmount.
fsck_fs() {
	case "$1" in
	xfs) xfs_repair -n "$2" >/dev/null 2>&1 ;;
	ext4) e2fsck -fn "$2" >/dev/null 2>&1 ;;
	mapfs) fsck.mapfs -f -n "$2" ;;
	tmpfs) : ;;
	esac
}

# Why FS cannot run cases here, or nothing. The mapfs probe makes and mounts a
# filesystem, and its answer holds for the whole boot: it runs once, and later
# calls read the answer from /tmp.
fs_unavailable() {
	local memo=/tmp/.fs-unavailable-$1
	if [ ! -f "$memo" ]; then probe_fs "$1" "$2" > "$memo.$$"; mv "$memo.$$" "$memo"; fi
	# The answer is remembered, the module is not: a test before this one
	# (module-register) may have unloaded it.
	if [ "$1" = mapfs ] && [ ! -s "$memo" ]; then
		load_mapfs || { echo "mapfs.ko does not load"; return; }
	fi
	cat "$memo"
}

probe_fs() {
	case "$1" in
	mapfs)
		load_mapfs || { echo "mapfs.ko does not load"; return; }
		local dev=$2 mnt; mnt=$(scratch_dir)
		mkfs_fs mapfs 4096 "$dev" >/dev/null 2>&1 || { echo "mkfs.mapfs failed"; return; }
		if mount -t mapfs "$dev" "$mnt" 2>/dev/null; then
			touch "$mnt/.probe" 2>/dev/null || echo "mapfs mounts read-only only (no write support yet)"
			umount "$mnt"
		else echo "mapfs cannot mount yet (mount: $?)"; fi
		rmdir "$mnt" ;;
	*) grep -qw "$1" /proc/filesystems || echo "$1 is not in this kernel" ;;
	esac
}

# mount_opts FS: the -o argument a test asked for on the XFS control
# (XFS_MOUNT_OPTS), or nothing. mapfs always mounts with its defaults.
mount_opts() {
	if [ "$1" = xfs ] && [ -n "${XFS_MOUNT_OPTS:-}" ]; then echo "-o $XFS_MOUNT_OPTS"; fi
}

# run_cases FUNC: for each case in FS_CASES, make the filesystem on the first
# disk, mount it at $MNT, run FUNC with FS, BS, DEV, MNT set, unmount, fsck, and
# print RESULT lines. FUNC fails a case by returning non-zero (use `check`).
run_cases() {
	local func=$1 c why
	local dev=${DISKS[0]}
	for c in $(select_cases "$FS_CASES"); do
		FS=${c%/*} BS=${c#*/} DEV=$dev
		why=$(fs_unavailable "$FS" "$dev")
		if [ -n "$why" ]; then echo "RESULT NOTRUN $FS-$BS $why"; continue; fi
		MNT=$(scratch_dir)
		if ! mkfs_fs "$FS" "$BS" "$dev" >/dev/null; then echo "RESULT FAIL $FS-$BS mkfs failed"; continue; fi
		# shellcheck disable=SC2046 # mount_opts is empty or "-o OPTS"
		mount -t "$FS" $(mount_opts "$FS") "$dev" "$MNT" || { echo "RESULT FAIL $FS-$BS mount failed"; continue; }
		echo "--- case $FS-$BS"
		local ok=1 rc
		# Not `( ... ) || ok=0`: set -e is ignored inside the left side of ||.
		set +e; ( set -e; "$func" ); rc=$?; set -e
		[ "$rc" = 0 ] || ok=0
		if mountpoint -q "$MNT"; then umount "$MNT" || ok=0; fi
		if [ "$ok" = 1 ] && ! fsck_fs "$FS" "$dev"; then echo "fsck after umount found problems"; ok=0; fi
		rmdir "$MNT" 2>/dev/null
		if [ "$ok" = 1 ]; then echo "RESULT PASS $FS-$BS"; else echo "RESULT FAIL $FS-$BS see log"; fi
	done
	return 0
}

# check DESCRIPTION CMD...: run CMD; on failure say what was being checked.
check() {
	local what=$1; shift
	if ! "$@"; then echo "check failed: $what"; return 1; fi
}

# remount: unmount and mount $DEV at $MNT again (cold cache for the file data).
# shellcheck disable=SC2046 # mount_opts is empty or "-o OPTS"
remount() { umount "$MNT" && mount -t "$FS" $(mount_opts "$FS") "$DEV" "$MNT"; }
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
