#!/usr/bin/env bash
# tools/kernel's two flavours: the test kernel builds from .config.fragment
# as it is, with its own cache key; the release kernel (make bench) from the
# same fragment with every debugging option switched off, under another key,
# and keeps everything else. If the release kernel is built, its .config has
# the debugging options off and the filesystems on.
set -eu
top=$(cd "$(dirname "$0")/../../.." && pwd)
k=$top/tools/kernel
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$k" fragment > "$d/test"
cmp -s "$d/test" "$top/.config.fragment" || fail "the test flavour does not build from .config.fragment as it is"
"$k" --release fragment > "$d/release"
tk=$("$k" key) rk=$("$k" --release key)
[ "$tk" != "$rk" ] || fail "both flavours have the key $tk"
case "$rk" in *-release-*) ;; *) fail "release key $rk does not say release" ;; esac
[ "$(dirname "$("$k" path)")" != "$(dirname "$("$k" --release path)")" ] || fail "both flavours share a build directory"

debug="KASAN PROVE_LOCKING DEBUG_ATOMIC_SLEEP DEBUG_VM DEBUG_LIST DEBUG_OBJECTS PAGE_POISONING RUST_DEBUG_ASSERTIONS"
for opt in $debug; do
	grep -qx "CONFIG_$opt=y" "$d/test" || fail "the test fragment has no CONFIG_$opt=y"
	grep -q "^CONFIG_$opt=" "$d/release" && fail "the release fragment still sets CONFIG_$opt"
	grep -qx "# CONFIG_$opt is not set" "$d/release" || fail "the release fragment does not switch CONFIG_$opt off"
done
# Everything that is not a debugging option is the same in both.
grep '^CONFIG_' "$d/test" | grep -Ev "^CONFIG_($(tr ' ' '|' <<< "$debug")|KASAN_[A-Z_]*|DEBUG_OBJECTS_[A-Z_]*)=" > "$d/kept"
while IFS= read -r line; do
	grep -qxF "$line" "$d/release" || fail "the release fragment lost $line"
done < "$d/kept"
echo "fragments: $(wc -l < "$d/kept") options kept, $(wc -w <<< "$debug") debugging options off"

cfg=$("$k" --release path)/.config
if [ -f "$cfg" ]; then
	for opt in $debug; do grep -q "^CONFIG_$opt=y" "$cfg" && fail "the built release kernel has CONFIG_$opt=y"; done
	for opt in RUST XFS_FS EXT4_FS FS_IOMAP VIRTIO_BLK; do grep -q "^CONFIG_$opt=y" "$cfg" || fail "the built release kernel lacks CONFIG_$opt"; done
	echo "built release kernel: debugging off, filesystems on ($cfg)"
fi
