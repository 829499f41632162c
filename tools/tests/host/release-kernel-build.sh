#!/usr/bin/env bash
# mapfs.ko builds without a warning against the release kernel too (the
# kernel make bench boots: no KASAN, lockdep or debug options), when that
# kernel is in the cache. Its different inlining once left a Rust panic
# path objtool does not know (a copy_from_slice that was not inlined:
# "falls through to next function"), which `make modules` turns into a
# failed build for anyone building against such a kernel. Skipped, saying
# so, when the release kernel was never built on this machine.
set -eu
top=$(cd "$(dirname "$0")/../../.." && pwd)
fail() { echo "FAIL: $*"; exit 1; }
if ! "$top/tools/kernel" --release built; then
	echo "release-kernel-build: skipped (no cached release kernel: make bench builds it)"
	exit 0
fi
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
# The same build make bench makes (tools/bench/run).
"$top/tools/kernel" --release module "$d" || { tail -n 20 "$d/build.log"; fail "mapfs.ko did not build against the release kernel"; }
if grep -q "warning:" "$d/build.log"; then
	grep "warning:" "$d/build.log" | head -n 5
	fail "building against the release kernel printed warnings"
fi
[ -f "$d/mapfs.ko" ] || fail "no mapfs.ko"
echo "release-kernel-build: ok"
