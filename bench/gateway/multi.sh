#!/usr/bin/env bash
# bench/gateway/multi.sh: several amlrisk-core instances on one database
# (issue 17). 1) Read throughput through one gateway whose RPC_URL lists one,
# two and three of them: wrk with the same script as run.sh (scores.lua, GET
# /scores/{wallet} over random wallets) and GET /scores/top?n=20, the three
# list lengths alternating round by round, median of REPEAT rounds each.
# 2) The takeover time after the writer's kill -9: TAKEOVERS times, the writer
# (found with amlctl health --json) is killed and the time until another
# instance's Health says writer is taken (polled every 10 ms); the killed one
# is started again as a reader before the next round. Prints a markdown table.
#   BUILD (build)  WALLETS (200000)  DURATION (10 s)  REPEAT (3)  CONNS (32)
#   WRK_THREADS (1)  GW_THREADS (8)  TAKEOVERS (7)  ELECTION_POLL_MS (500)
# Uses its own PostgreSQL (scripts/stack, private data dir and free ports).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
BIN=$ROOT/$BUILD/bin
WALLETS=${WALLETS:-200000}
DURATION=${DURATION:-10}
REPEAT=${REPEAT:-3}
CONNS=${CONNS:-32}
WRK_THREADS=${WRK_THREADS:-1}
GW_THREADS=${GW_THREADS:-8}
TAKEOVERS=${TAKEOVERS:-7}
export ELECTION_POLL_MS=${ELECTION_POLL_MS:-500}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
for b in amlrisk-gateway amlrisk-core amlrisk-migrate amlctl; do
	[ -x "$BIN/$b" ] || { echo "multi.sh: $BIN/$b missing (ninja -C $BUILD $b)" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "multi.sh: wrk missing (scripts/bootstrap)" >&2; exit 1; }

export AMLRISK_VAR=$ROOT/var/bench/multi-$$
export AMLRISK_PG_PORT=$(free_port)
GW_PORT=$(free_port)
OUT=$ROOT/bench/out
mkdir -p "$AMLRISK_VAR" "$OUT"
declare -A core_pid
gw_pid=
cleanup() {
	for p in "${core_pid[@]}" $gw_pid; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	scripts/stack stop-pg >/dev/null 2>&1 || true
	rm -rf "$AMLRISK_VAR" /var/tmp/amlrisk-"$(echo "$AMLRISK_VAR" | sha256sum | cut -c1-12)"
}
trap cleanup EXIT
scripts/stack start-pg
eval "$(scripts/stack env)"
export DATABASE_URL
unset RPC_URL
"$BIN/amlrisk-migrate" >/dev/null

echo "multi.sh: loading $((WALLETS * 2)) transactions over $WALLETS wallets" >&2
psql -q -v ON_ERROR_STOP=1 "$DATABASE_URL" >/dev/null <<SQL
BEGIN;
SELECT transactions_append_lock();
INSERT INTO transactions (tx_id, sender, receiver, amount, "timestamp")
SELECT 't' || k || '_' || g,
       'w' || lpad(g::text, 7, '0'),
       'w' || lpad(((g::bigint * (CASE k WHEN 0 THEN 7919 ELSE 104729 END) + 13 + k) % $WALLETS)::text, 7, '0'),
       1.5, timestamptz '2026-01-01' + g * interval '1 second'
FROM generate_series(0, $WALLETS - 1) g, generate_series(0, 1) k;
COMMIT;
ANALYZE transactions;
SQL

url=()
for i in 0 1 2; do url[$i]=tcp://127.0.0.1:$(free_port); done
ALL="${url[0]},${url[1]},${url[2]}"
# starts core i and waits until its Health answers with a graph
core() {
	CORE_INSTANCE_ID=core-$1 RPC_LISTEN=${url[$1]} "$BIN/amlrisk-core" \
		>>"$AMLRISK_VAR/core-$1.log" 2>&1 &
	core_pid[$1]=$!
	for _ in $(seq 600); do
		"$BIN/amlctl" --url "${url[$1]}" --json --timeout 1000 health 2>/dev/null |
			grep -q '"loaded": true' && return
		sleep 0.1
	done
	echo "multi.sh: core $1 not up" >&2
	exit 1
}
# the index of the core whose Health says writer, or nothing
writer() {
	local i
	for i in 0 1 2; do
		[ -n "${core_pid[$i]:-}" ] || continue
		"$BIN/amlctl" --url "${url[$i]}" --json --timeout 500 health 2>/dev/null |
			grep -q '"role": "writer"' && { echo "$i"; return; }
	done
	true
}
for i in 0 1 2; do core "$i"; done
echo "multi.sh: run-score: $("$BIN/amlctl" --url "$ALL" score | head -3 | tr '\n' ' ')" >&2
# every core follows the run before reads are measured
run=$("$BIN/amlctl" --url "${url[$(writer)]}" --json health | python3 -c 'import json,sys; print(json.load(sys.stdin)["latest_run"]["run_id"])')
for i in 0 1 2; do
	until "$BIN/amlctl" --url "${url[$i]}" --json health | grep -q "\"run_id\": $run"; do sleep 0.2; done
done

GW=http://127.0.0.1:$GW_PORT
gateway() {
	LOG_LEVEL=warn "$BIN/amlrisk-gateway" --listen 127.0.0.1:$GW_PORT --rpc-url "$1" \
		--threads "$GW_THREADS" >>"$AMLRISK_VAR/gateway.log" 2>&1 &
	gw_pid=$!
	for _ in $(seq 300); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' $GW/ready)" = 200 ] && return
		sleep 0.1
	done
	echo "multi.sh: gateway not ready" >&2
	exit 1
}
# one wrk run: "rps p50_ms p99_ms"
wrk1() {
	local target=$1 script=${2:-}
	wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --latency ${script:+-s "$script"} "$target" |
		awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
		/Requests\/sec/ { rps = $2 } /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) }
		/Non-2xx/ { bad = $NF }
		END { if (bad > 0) print "non-2xx: " bad > "/dev/stderr"; printf "%.0f %.3f %.3f\n", rps, p50, p99 }'
}
export WALLETS
load0=$(cut -d' ' -f1-3 /proc/loadavg)
lists=("${url[0]}" "${url[0]},${url[1]}" "$ALL")
for ((r = 0; r < REPEAT; r++)); do
	for n in 0 1 2; do
		gateway "${lists[$n]}"
		wrk1 "$GW" "$ROOT/bench/gateway/scores.lua" >>"$AMLRISK_VAR/wallet.$n"
		wrk1 "$GW/scores/top?n=20" >>"$AMLRISK_VAR/top.$n"
		kill "$gw_pid"
		wait "$gw_pid" 2>/dev/null || true
		gw_pid=
	done
done
median() { sort -n "$1" | awk -v n="$REPEAT" 'NR == int((n + 1) / 2)'; }

# takeover after kill -9 of the writer
: >"$AMLRISK_VAR/takeover"
for ((t = 0; t < TAKEOVERS; t++)); do
	w=$(writer)
	[ -n "$w" ] || { echo "multi.sh: no writer" >&2; exit 1; }
	kill -9 "${core_pid[$w]}"
	wait "${core_pid[$w]}" 2>/dev/null || true
	unset "core_pid[$w]"
	t0=$(date +%s%N)
	until [ -n "$(writer)" ]; do sleep 0.01; done
	echo $((($(date +%s%N) - t0) / 1000000)) >>"$AMLRISK_VAR/takeover"
	core "$w"
done
takeovers=$(sort -n "$AMLRISK_VAR/takeover" | tr '\n' ' ')
tmed=$(sort -n "$AMLRISK_VAR/takeover" | awk -v n="$TAKEOVERS" 'NR == int((n + 1) / 2)')

{
	echo "wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s, median of $REPEAT rounds (the list lengths alternating); $WALLETS scored wallets; one gateway --threads $GW_THREADS; cores, gateway and wrk on $(nproc) shared CPUs; load average $load0 before, $(cut -d' ' -f1-3 /proc/loadavg) after"
	echo
	echo "| endpoint | core instances in RPC_URL | req/s | p50 ms | p99 ms | vs one |"
	echo "|---|---|---|---|---|---|"
	for e in wallet top; do
		base=$(median "$AMLRISK_VAR/$e.0" | cut -d' ' -f1)
		for n in 0 1 2; do
			read -r rps p50 p99 <<<"$(median "$AMLRISK_VAR/$e.$n")"
			awk -v e="$e" -v n=$((n + 1)) -v r="$rps" -v a="$p50" -v b="$p99" -v base="$base" 'BEGIN {
				printf "| %s | %d | %s | %s | %s | %.2fx |\n", e == "wallet" ? "GET /scores/{wallet} (random)" : "GET /scores/top?n=20", n, r, a, b, r / base }'
		done
	done
	echo
	echo "takeover after kill -9 of the writer (ELECTION_POLL_MS=$ELECTION_POLL_MS, Health polled every 10 ms): median $tmed ms of $TAKEOVERS; all: $takeovers ms"
} | tee "$OUT/multi.md"
