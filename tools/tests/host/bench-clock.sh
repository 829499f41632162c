#!/usr/bin/env bash
# make bench BENCH_CLOCK: an unknown clock is refused before any boot, and
# the report says what an instruction-timed run (tools/vm --icount) can
# compare, and only for such a run.
set -eu
top=$(cd "$(dirname "$0")/../../.." && pwd)
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

set +e
# BENCH_REPS=0 is refused too, later: a runner that ignored BENCH_CLOCK
# stops there instead of booting.
msg=$(cd "$top" && BENCH_CLOCK=cycles BENCH_REPS=0 BENCH_OUT="$d/none" tools/bench/run 2>&1); rc=$?
set -e
[ "$rc" = 2 ] || fail "BENCH_CLOCK=cycles: exit $rc, want 2 ($msg)"
grep -q "BENCH_CLOCK=cycles: wall or icount" <<< "$msg" || fail "BENCH_CLOCK=cycles: no such message: $msg"
[ ! -e "$d/none" ] || fail "BENCH_CLOCK=cycles: a results directory was made"
grep -q -- '--icount) icount=1' "$top/tools/vm" || fail "tools/vm has no --icount option"

report() { # report ACCEL CLOCK: the table of a two-row run made with them
	local r=$d/$1
	mkdir -p "$r/vm"
	printf '1\twrite\tMiB/s\tmapfs\t1\t943.9\n1\twrite\tMiB/s\txfs\t1\t943.5\n' > "$r/vm/raw.tsv"
	printf 'date=2026-12-02T00:00:00Z\naccel=%s\nclock=%s\nmode=quick\n' "$1" "$2" > "$r/meta"
	python3 "$top/tools/bench/report" "$r" > "$r/out" || fail "report failed for accel=$1"
	grep -q "1.00" "$r/table.txt" || fail "accel=$1: no ratio in the table"
}
report tcg-icount icount
grep -q "Instruction-timed" "$d/tcg-icount/table.txt" || fail "an icount run's table does not say it is instruction-timed"
grep -q "CPU-bound" "$d/tcg-icount/table.txt" || fail "an icount run's table does not say which rows count"
grep -q "instruction-timed" "$d/tcg-icount/ratios.svg" || fail "an icount run's plot does not say it"
report tcg wall
grep -q "Instruction-timed" "$d/tcg/table.txt" && fail "a wall-clock TCG run's table claims instruction timing"
grep -q "Under TCG" "$d/tcg/table.txt" || fail "a wall-clock TCG run's table lost its TCG warning"
echo "bench-clock: ok"
