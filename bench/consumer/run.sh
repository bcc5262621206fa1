#!/usr/bin/env bash
# bench/consumer/run.sh [N] [REPS]: sustained ingest rate of amlrisk-consumer
# (one and two consumers) from a topic holding N transactions into an empty
# table, next to psql \copy of the same rows into the same schema and a
# row-at-a-time INSERT loop, REPS times each, interleaved; prints medians.
# With AMLRISK_BENCH_BASE_BIN=/path/to/another/amlrisk-consumer (an earlier
# build), each round also runs that one (one instance; which of the two goes
# first alternates between rounds), and each replays the topic into the table
# it filled (every message a duplicate: the staging path with its conflict
# check), so a change is measured against its baseline in the same run.
# Runs its own private stack (var/bench-consumer, ports 55452/59112) unless
# AMLRISK_BENCH_REUSE=1 and the environment already points at one.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
N=${1:-1000000}
REPS=${2:-3}
N_INSERT=${AMLRISK_BENCH_INSERT_ROWS:-20000}
BUILD=${AMLRISK_BUILD_DIR:-build}
BIN=$ROOT/$BUILD/bin
BASE_BIN=${AMLRISK_BENCH_BASE_BIN:-}

cmake -S . -B "$BUILD" -G Ninja >/dev/null
ninja -C "$BUILD" -j2 amlrisk-consumer amlrisk-migrate cons-bench >/dev/null

if [ "${AMLRISK_BENCH_REUSE:-0}" != 1 ]; then
	export AMLRISK_VAR=${AMLRISK_BENCH_VAR:-$ROOT/var/bench-consumer}
	export AMLRISK_PG_PORT=${AMLRISK_BENCH_PG_PORT:-55452}
	export AMLRISK_KAFKA_PORT=${AMLRISK_BENCH_KAFKA_PORT:-59112}
	mkdir -p "$AMLRISK_VAR"
	[ -e "$AMLRISK_VAR/kafka-lib" ] || ln -s "$ROOT/var/kafka-lib" "$AMLRISK_VAR/kafka-lib"
	trap 'scripts/stack down >/dev/null 2>&1 || true' EXIT
	scripts/stack up
	eval "$(scripts/stack env)"
fi
OUT=${AMLRISK_VAR:-$ROOT/var}/bench-out
mkdir -p "$OUT"
TOPIC=bench.tx.$$.$RANDOM

echo "bench: producing $N transactions to $TOPIC (4 partitions) and $OUT/tx.csv" >&2
"$BIN/cons-bench" gen --brokers "$KAFKA_BOOTSTRAP_SERVERS" --topic "$TOPIC" --partitions 4 \
	--n "$N" --csv "$OUT/tx.csv"

base=${DATABASE_URL%/*}
newdb() {
	psql -d postgres -qc "DROP DATABASE IF EXISTS $1" >/dev/null
	psql -d postgres -qc "CREATE DATABASE $1" >/dev/null
	"$BIN/amlrisk-migrate" --database-url "$base/$1" 2>/dev/null
	echo "$base/$1"
}
dropdb_() { psql -d postgres -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null; }
rate_of() { sed -n 's/.*rows_per_s=\([0-9]*\).*/\1/p'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

# runs K consumers (binary $4, default ours) of group $2 into db url $1 until
# N rows are stored; or, with a consumer id prefix $5, until that one consumer
# has consumed N messages (a replay); prints the rate
consumers() {
	local url=$1 group=$2 k=$3 bin=${4:-$BIN/amlrisk-consumer} id=${5:-bench} pids=() i r
	for ((i = 0; i < k; i++)); do
		"$bin" --database-url "$url" --bootstrap-servers "$KAFKA_BOOTSTRAP_SERVERS" \
			--topic "$TOPIC" --group "$group" --consumer-id "$id-$i" \
			${AMLRISK_BENCH_CONSUMER_FLAGS:-} 2>>"$OUT/consumer.log" &
		pids+=($!)
	done
	if [ -n "${5:-}" ]; then
		r=$("$BIN/cons-bench" wait --database-url "$url" --n "$N" --timeout 900 --consumer "$id-0")
	else
		r=$("$BIN/cons-bench" wait --database-url "$url" --n "$N" --timeout 900)
	fi
	kill -TERM "${pids[@]}"
	wait "${pids[@]}" || true
	echo "$r"
}

: >"$OUT/results.txt"
load() { cut -d' ' -f1 /proc/loadavg; }
for ((rep = 1; rep <= REPS; rep++)); do
	l0=$(load)
	url=$(newdb bench_copy)
	t0=$(date +%s%N)
	psql -d "$url" -qc "\\copy transactions (tx_id, sender, receiver, amount, \"timestamp\", asset) FROM '$OUT/tx.csv' WITH (FORMAT csv)"
	t1=$(date +%s%N)
	copy=$(awk -v n="$N" -v ns=$((t1 - t0)) 'BEGIN {printf "%.0f", n / (ns / 1e9)}')
	dropdb_ bench_copy

	# this build and the baseline build (when given) one after the other,
	# the first one alternating between rounds; each then replays the topic
	# into the table it filled (every message an identical duplicate)
	c1=- c0=- replay=- replay_base=-
	if [ -n "$BASE_BIN" ] && [ $((rep % 2)) = 0 ]; then order="base this"; else order="this base"; fi
	for which in $order; do
		[ "$which" = base ] && [ -z "$BASE_BIN" ] && continue
		bin=$BIN/amlrisk-consumer
		[ "$which" = base ] && bin=$BASE_BIN
		url=$(newdb bench_c1)
		r=$(consumers "$url" "bench.g1.$which.$$.$rep" 1 "$bin")
		echo "bench: rep $rep one consumer ($which build): $r" >&2
		if [ "$which" = base ]; then c0=$(echo "$r" | rate_of); else c1=$(echo "$r" | rate_of); fi
		if [ -n "$BASE_BIN" ]; then
			r=$(consumers "$url" "bench.r1.$which.$$.$rep" 1 "$bin" "replay-$which")
			echo "bench: rep $rep replay ($which build): $r" >&2
			if [ "$which" = base ]; then replay_base=$(echo "$r" | rate_of); else replay=$(echo "$r" | rate_of); fi
		fi
		dropdb_ bench_c1
	done

	url=$(newdb bench_c2)
	r=$(consumers "$url" "bench.g2.$$.$rep" 2)
	c2=$(echo "$r" | rate_of)
	echo "bench: rep $rep two consumers: $r" >&2
	dropdb_ bench_c2

	url=$(newdb bench_ins)
	r=$("$BIN/cons-bench" insert-loop --database-url "$url" --csv "$OUT/tx.csv" --n "$N_INSERT")
	ins=$(echo "$r" | rate_of)
	dropdb_ bench_ins
	# the machine is shared: its load before and after each round goes with the figures
	echo "$rep $copy $c1 $c2 $ins $l0 $(load) $c0 $replay $replay_base" >>"$OUT/results.txt"
	echo "bench: rep $rep (copy c1 c2 insert load0 load1 base replay replay_base):" \
		"$(tail -n 1 "$OUT/results.txt")" >&2
done

col() { awk -v c="$1" '{print $c}' "$OUT/results.txt" | median; }
# ratios within one round (same load), then their median
rcol() { awk -v c="$1" '{printf "%.0f\n", 100 * $c / $2}' "$OUT/results.txt" | median; }
pct() { awk -v p="$1" 'BEGIN {printf "%.2f", p / 100}'; }
cat <<TABLE
| path ($N rows; median of $REPS rounds) | rows/s | vs \\copy (median of per-round ratios) |
|---|---:|---:|
| psql \\copy (CSV) into transactions | $(col 2) | 1.00 |
| amlrisk-consumer, 1 instance | $(col 3) | $(pct "$(rcol 3)") |
| amlrisk-consumer, 2 instances, one group | $(col 4) | $(pct "$(rcol 4)") |
| row-at-a-time INSERT, autocommit ($N_INSERT rows) | $(col 5) | $(pct "$(rcol 5)") |
TABLE
if [ -n "$BASE_BIN" ]; then
	# the replays against each other, within each round
	rrat() { awk -v a="$1" -v b="$2" '{printf "%.0f\n", 100 * $a / $b}' "$OUT/results.txt" | median; }
	cat <<TABLE
| amlrisk-consumer, 1 instance, baseline build ($BASE_BIN) | $(col 8) | $(pct "$(rcol 8)") |
| replay of the $N stored rows (all duplicates), 1 instance | $(col 9) | $(pct "$(rcol 9)") |
| the same replay, baseline build | $(col 10) | $(pct "$(rcol 10)") |

this build vs the baseline build, median of per-round ratios: one consumer $(pct "$(rrat 3 8)"), replay $(pct "$(rrat 9 10)")
TABLE
fi
cat <<TABLE

rounds (rep copy consumer1 consumer2 insert load-before load-after base replay replay-base):
$(cat "$OUT/results.txt")
TABLE
