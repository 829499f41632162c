# Sourced by the scenario scripts that need the scratch disk. The runner
# (tools/tests/guest/tests/scenarios) sets FS, BS, TEST_DIR, SCRATCH_DEV and
# SCRATCH_MNT (an empty directory; the scratch filesystem is unmounted and
# checked by the runner after the scenario).
. "$MAPFS_TOP/tools/tests/guest/lib.sh"

# scratch_mkfs SIZE: a fresh filesystem of SIZE (with a K/M/G suffix) on the
# scratch disk, mounted at $SCRATCH_MNT.
scratch_mkfs() {
	MKFS_SIZE=$1 mkfs_fs "$FS" "$BS" "$SCRATCH_DEV" >/dev/null
	mount -t "$FS" "$SCRATCH_DEV" "$SCRATCH_MNT"
}
scratch_cycle() { umount "$SCRATCH_MNT" && mount -t "$FS" "$SCRATCH_DEV" "$SCRATCH_MNT"; }
