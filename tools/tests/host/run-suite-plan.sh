# The guest runner's plan, on the host with stand-in tests: each test's
# header lines ("# timeout:", "# exclusive:", "# boot:") are honoured, an
# exclusive test runs alone before the lanes, a misnamed test fails without
# losing the headers of the others, and lib.sh's select_cases splits the
# cases between make check and make check-extra as documented.
set -eu
top=$(cd "$(dirname "$0")/../../.." && pwd)
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
mkdir -p "$d/suite/tests" "$d/out"
cp "$top/tools/tests/guest/run-suite" "$d/suite/"
t=$d/suite/tests
# Each stand-in logs its start and end with its lane's first disk.
stub() { # stub NAME HEADER-LINES BODY
	printf '#!/usr/bin/env bash\n%s\necho "start $(basename "$0") ${MAPFS_DISKS%%%% *}" >> %s/order\n%s\necho "end $(basename "$0")" >> %s/order\n' \
		"$2" "$d" "$3" "$d" > "$t/$1"
	chmod +x "$t/$1"
}
stub z-long '# timeout: 900' 'sleep 2'
stub b-short '' 'sleep 1'
stub c-alone '# exclusive: stands alone' 'sleep 1'
stub d-slow '# timeout: 1' 'sleep 5'
stub e-boot '# boot: mapfs.no-such-arg=1' 'true'
stub f-cases '' 'echo "RESULT PASS one"; echo "RESULT FAIL two why"'
disks="/dev/x1 /dev/x2 /dev/x3 /dev/x4 /dev/x5 /dev/x6"
# Named tests, one misnamed among them (mawk stops at a file it cannot open).
MAPFS_KMSG=/dev/null MAPFS_OUT=$d/out MAPFS_DISKS=$disks MAPFS_LANES=2 "$d/suite/run-suite" \
	z-long b-short c-alone d-slow e-boot no-such-test f-cases > "$d/stdout" 2>&1 || true
r=$d/out/results
grep -q '^PASS z-long (' "$r" || { echo "z-long did not pass"; cat "$r"; exit 1; }
grep -q '^PASS b-short (' "$r" || { echo "b-short did not pass"; cat "$r"; exit 1; }
grep -q '^PASS c-alone (' "$r" || { echo "c-alone did not pass"; cat "$r"; exit 1; }
grep -q '^FAIL d-slow (.*timed out after 1s' "$r" || { echo "d-slow's one-second limit was not kept"; cat "$r"; exit 1; }
grep -q "^NOTRUN e-boot: needs 'mapfs.no-such-arg=1'" "$r" || { echo "e-boot ran without its boot argument"; cat "$r"; exit 1; }
grep -q '^FAIL no-such-test: not an executable test' "$r" || { echo "the misnamed test did not fail"; cat "$r"; exit 1; }
grep -qx 'PASS f-cases/one' "$r" && grep -qx 'FAIL f-cases/two: why' "$r" || { echo "f-cases' RESULT lines not recorded"; cat "$r"; exit 1; }
# The exclusive test ran first and alone: it ended before any other started.
[ "$(head -n 2 "$d/order")" = "start c-alone /dev/x1
end c-alone" ] || { echo "c-alone did not run alone first:"; cat "$d/order"; exit 1; }
# Then the longest declared limit first (900 s over the default 600; last
# by name), and both lanes were used. The two lanes start together, so
# either may log its first start line first.
sed -n '3,$p' "$d/order" | grep '^start ' | head -n 2 | grep -q '^start z-long /dev/x[14]$' ||
	{ echo "z-long (the longest limit) was not among the first tests in the lanes:"; cat "$d/order"; exit 1; }
grep -q '^start .* /dev/x4$' "$d/order" || { echo "the second lane was not used:"; cat "$d/order"; exit 1; }

# select_cases: check, extra, all, and a test's LATER cases.
sc() { # sc MODE LIST [LATER]
	MAPFS_TOP=$top MAPFS_OUT=$d/out MAPFS_CASES=$1 bash -c '. "$MAPFS_TOP/tools/tests/guest/lib.sh"; select_cases "$1" "${2:-}"' _ "$2" "${3:-}"
}
l="xfs/4096 mapfs/1024 mapfs/2048 mapfs/4096"
[ "$(sc check "$l")" = "mapfs/1024 mapfs/4096" ] || { echo "check: $(sc check "$l")"; exit 1; }
[ "$(sc extra "$l")" = "xfs/4096 mapfs/2048" ] || { echo "extra: $(sc extra "$l")"; exit 1; }
[ "$(sc all "$l")" = "$l" ] || { echo "all: $(sc all "$l")"; exit 1; }
[ "$(sc check "$l" mapfs/4096)" = "mapfs/1024" ] || { echo "check, 4096 later: $(sc check "$l" mapfs/4096)"; exit 1; }
[ "$(sc extra "$l" mapfs/4096)" = "xfs/4096 mapfs/2048 mapfs/4096" ] || { echo "extra, 4096 later: $(sc extra "$l" mapfs/4096)"; exit 1; }
[ "$(sc all "$l" mapfs/4096)" = "$l" ] || { echo "all, 4096 later: $(sc all "$l" mapfs/4096)"; exit 1; }
echo ok
