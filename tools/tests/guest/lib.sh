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
load_mapfs() { grep -qw mapfs /proc/modules || insmod "$MODULE"; }
unload_mapfs() { if grep -qw mapfs /proc/modules; then rmmod mapfs; fi; }

# A fresh mount point, removed at exit.
scratch_dir() { local d; d=$(mktemp -d /tmp/mnt.XXXXXX); echo "$d"; }

# Fill FILE with N MiB of pseudo-random bytes (fast, reproducible per seed).
fill_random() {
	local file=$1 mib=$2 seed=${3:-1}
	# openssl dies of SIGPIPE when head has enough: not an error here.
	{ openssl enc -aes-128-ctr -pass pass:"$seed" -nosalt -pbkdf2 </dev/zero 2>/dev/null || true; } \
		| head -c $((mib * 1048576)) > "$file"
}
