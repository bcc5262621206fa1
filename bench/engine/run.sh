#!/bin/sh
# bench/engine/run.sh - builds and runs the scoring engine benchmark (issues 3
# and 13): generated heavy-tailed graphs of 100k, 1M and 10M transactions
# scored with both models, medians as markdown tables, kept in bench/out/.
# Arguments go to bench_engine (--help).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
cmake -S "$ROOT" -B "$BUILD" -G Ninja >/dev/null
ninja -C "$BUILD" -j2 bench_engine >/dev/null
mkdir -p "$ROOT/bench/out"
OUT="$ROOT/bench/out/engine-$(date -u +%Y%m%dT%H%M%SZ).md"
{
	echo "bench/engine on $(uname -srm), $(nproc) CPUs, $(git -C "$ROOT" rev-parse --short HEAD)"
	echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	"$BUILD/bin/bench_engine" "$@"
	echo
	echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT"
echo "written to $OUT" >&2
