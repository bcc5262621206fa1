#!/usr/bin/env bash
# bench/realtime/run.sh: the real-time benchmark of issue 14 (freshness of the
# live view through the gateway at fixed ingest rates, alerts per second, CPU
# of each process, incremental append against a full reload). Builds the
# services, starts its own private stack (var/bench-realtime, ports
# 55462/59122) unless AMLRISK_BENCH_REUSE=1 and the environment points at one,
# and runs rt_bench.py; see bench/realtime/README.md for the knobs (RT_*).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=${AMLRISK_BUILD_DIR:-build}
export AMLRISK_BIN=$ROOT/$BUILD/bin

cmake -S . -B "$BUILD" -G Ninja >/dev/null
nice ninja -C "$BUILD" -j2 amlrisk-core amlrisk-gateway amlrisk-consumer amlrisk-migrate amlrisk-sim >/dev/null

if [ "${AMLRISK_BENCH_REUSE:-0}" != 1 ]; then
	export AMLRISK_VAR=${AMLRISK_BENCH_VAR:-$ROOT/var/bench-realtime}
	export AMLRISK_PG_PORT=${AMLRISK_BENCH_PG_PORT:-55462}
	export AMLRISK_KAFKA_PORT=${AMLRISK_BENCH_KAFKA_PORT:-59122}
	mkdir -p "$AMLRISK_VAR"
	[ -e "$AMLRISK_VAR/kafka-lib" ] || ln -s "$ROOT/var/kafka-lib" "$AMLRISK_VAR/kafka-lib"
	trap 'scripts/stack down >/dev/null 2>&1 || true' EXIT
	scripts/stack up
	eval "$(scripts/stack env)"
fi
export RT_OUT=${RT_OUT:-${AMLRISK_VAR:-$ROOT/var}/bench-out/realtime}
mkdir -p "$RT_OUT"
python3 "$ROOT/bench/realtime/rt_bench.py"
