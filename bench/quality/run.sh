#!/bin/sh
# bench/quality/run.sh - `make quality`: builds amlrisk-sim and amlrisk-score,
# then measures how well each model finds the planted launderers on the
# simulator's datasets (docs/QUALITY.md). The report is printed and kept in
# bench/out/, the generated files in var/quality/. Arguments go to quality.py
# (--help); with --check it exits 1 if flow_exposure/v1 misses its targets.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
cmake -S "$ROOT" -B "$BUILD" -G Ninja >/dev/null
nice ninja -C "$BUILD" amlrisk-sim amlrisk-score >/dev/null
mkdir -p "$ROOT/bench/out" "$ROOT/var/quality"
OUT="$ROOT/bench/out/quality-$(date -u +%Y%m%dT%H%M%SZ).md"
python3 "$ROOT/bench/quality/quality.py" --bin "$BUILD/bin" --work "$ROOT/var/quality" \
	--output "$OUT" "$@"
echo "written to $OUT" >&2
