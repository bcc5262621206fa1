#!/usr/bin/env bash
# bench/gateway/run.sh: wrk against amlrisk-gateway (GET /scores/{wallet} over
# random wallets, GET /scores/top?n=20) with 1M scored wallets in the real core,
# next to amlrisk-gw-baseline (a libmicrohttpd handler returning a fixed JSON
# body of the same size) measured in the same run with the same wrk script.
# The gateway runs three times: as shipped (query RPCs coalesced, connections
# suspended while their RPC is out, recent /scores/top answers kept), with
# --top-cache 0 (every top list rebuilt; /scores/top only), and with
# --rpc-batches 0 --top-cache 0 (one exchange per request, the pool thread
# waiting in it). Prints a markdown table, then the
# CPU cost of one GET /scores/{wallet} on each side (from /proc, one more run
# each): the baseline and wrk, the RPC path alone with no HTTP
# (amlrisk-bench-rpc-floor keeping CONNS calls out against the same core), and
# the gateway with the core and wrk; and the best ratio a gateway costing
# nothing of its own could reach, HTTP and RPC sharing the cores; and what
# one thread hand-off costs on this machine (amlrisk-bench-wake).
# With GW_BEFORE=<another amlrisk-gateway binary> (e.g. a build of an earlier
# commit) it instead compares that gateway ("before") with this build's
# ("after") on the same core: /scores/top?n=20 with --top-cache 0 (every list
# written out) and /scores/{wallet}, the two sides alternating run by run.
#   BUILD (build)  WALLETS (1000000)  DURATION (10 s)  REPEAT (3, median kept)
#   CONNS (32)  WRK_THREADS (1)  GW_THREADS (8)  GW_LOG_LEVEL (warn)  RPC_TRANSPORT (tcp|ipc)
#   GW_BEFORE (unset)
# Uses its own PostgreSQL (scripts/stack, private data dir and free ports).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
BIN=$ROOT/$BUILD/bin
WALLETS=${WALLETS:-1000000}
DURATION=${DURATION:-10}
REPEAT=${REPEAT:-3}
CONNS=${CONNS:-32}
WRK_THREADS=${WRK_THREADS:-1}
GW_THREADS=${GW_THREADS:-8}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
for b in amlrisk-gateway amlrisk-core amlrisk-migrate amlrisk-gw-baseline amlrisk-bench-rpc-floor \
	amlrisk-bench-wake; do
	[ -x "$BIN/$b" ] || { echo "run.sh: $BIN/$b missing (ninja -C $BUILD $b)" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "run.sh: wrk missing (scripts/bootstrap)" >&2; exit 1; }

export AMLRISK_VAR=$ROOT/var/bench/gw-$$
export AMLRISK_PG_PORT=$(free_port)
RPC_PORT=$(free_port) GW_PORT=$(free_port) BASE_PORT=$(free_port)
OUT=$ROOT/bench/out
mkdir -p "$AMLRISK_VAR" "$OUT"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	scripts/stack stop-pg >/dev/null 2>&1 || true
	rm -rf "$AMLRISK_VAR" /var/tmp/amlrisk-"$(echo "$AMLRISK_VAR" | sha256sum | cut -c1-12)"
}
trap cleanup EXIT
scripts/stack start-pg
eval "$(scripts/stack env)"
export DATABASE_URL
"$BIN/amlrisk-migrate" >/dev/null

echo "run.sh: loading $((WALLETS * 2)) transactions over $WALLETS wallets" >&2
# each wallet g pays two others chosen by fixed multipliers: every wallet
# gets in- and out-edges, the graph is one large component
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

# RPC_TRANSPORT=ipc puts the core on a Unix socket (gateway and core on one host)
if [ "${RPC_TRANSPORT:-tcp}" = ipc ]; then
	RPC_ADDR=ipc://$(mktemp -u /tmp/amlrisk-gwbench.XXXXXX).sock
else
	RPC_ADDR=tcp://127.0.0.1:$RPC_PORT
fi
RPC_LISTEN=$RPC_ADDR "$BIN/amlrisk-core" >"$AMLRISK_VAR/core.log" 2>&1 &
core_pid=$!
pids+=($core_pid)
GW=http://127.0.0.1:$GW_PORT
# starts the gateway (${3:-this build's}) with --rpc-batches $1 and
# --top-cache ${2:-1} (its pid in gw_pid) and waits for it
gateway() {
	LOG_LEVEL=${GW_LOG_LEVEL:-warn} "${3:-$BIN/amlrisk-gateway}" --listen 127.0.0.1:$GW_PORT \
		--rpc-url "$RPC_ADDR" --threads "$GW_THREADS" --rpc-batches "$1" --top-cache "${2:-1}" \
		--long-timeout-ms 3600000 >>"$AMLRISK_VAR/gateway.log" 2>&1 &
	gw_pid=$!
	pids+=($gw_pid)
	for _ in $(seq 300); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' $GW/health)" = 200 ] && return
		sleep 0.2
	done
	echo "run.sh: gateway not up" >&2
	exit 1
}
gateway 1
echo "run.sh: reload-graph: $(curl -sf -X POST $GW/reload-graph)" >&2
echo "run.sh: run-score: $(curl -sf -X POST $GW/run-score | cut -c1-200)" >&2

# runs wrk REPEAT times; prints the median "rps p50_ms p99_ms"
measure() {
	local url=$1 script=${2:-} i
	for ((i = 0; i < REPEAT; i++)); do
		wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --latency ${script:+-s "$script"} "$url" |
			awk '
			function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
			/Requests\/sec/ { rps = $2 }
			/^ +50%/ { p50 = ms($2) }
			/^ +99%/ { p99 = ms($2) }
			/Non-2xx/ { bad = $NF }
			END { if (bad > 0) print "non-2xx: " bad > "/dev/stderr"; printf "%.0f %.3f %.3f\n", rps, p50, p99 }'
	done | sort -n | awk -v n="$REPEAT" 'NR == int((n + 1) / 2)'
}
TCK=$(getconf CLK_TCK)
# CPU seconds (user + system) used so far by the processes given
cpu_of() {
	local p t=0
	for p in "$@"; do
		t=$(awk -v t="$t" -v k="$TCK" '{ printf "%.3f", t + ($14 + $15) / k }' "/proc/$p/stat")
	done
	echo "$t"
}
# one more wrk run (url, script) with the CPU of the given pids and of wrk
# itself (the reaped child's time in its shell's /proc stat): prints
# "req/s server-us-per-request wrk-us-per-request"
cpu_measure() {
	local url=$1 script=$2 c0 c1 f
	shift 2
	f=$(mktemp)
	c0=$(cpu_of "$@")
	sh -c 'wrk "$@" > "$0"; cut -d" " -f16,17 /proc/$$/stat >> "$0"' "$f" \
		-t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" ${script:+-s "$script"} "$url"
	c1=$(cpu_of "$@")
	awk -v c="$(echo "$c1 - $c0" | bc)" -v k="$TCK" '
		/requests in/ { n = $1 } /Requests\/sec/ { rps = $2 } END { split($0, w, " ")
		printf "%.0f %.1f %.1f\n", rps, c * 1e6 / n, (w[1] + w[2]) / k * 1e6 / n }' "$f"
	rm -f "$f"
}
# runs the baseline with a body of len bytes and measures it (with wrk script
# $2); with $3, one more run's CPU figures go to that file
baseline() {
	local len=$1 script=${2:-} cpu_out=${3:-} pid r
	"$BIN/amlrisk-gw-baseline" "$BASE_PORT" "$len" "$GW_THREADS" &
	pid=$!
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$BASE_PORT/" && break; sleep 0.05; done
	r=$(measure "http://127.0.0.1:$BASE_PORT" "$script")
	[ -z "$cpu_out" ] || cpu_measure "http://127.0.0.1:$BASE_PORT" "$script" "$pid" >"$cpu_out"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	echo "$r"
}
row() { # name gateway-figures baseline-figures bytes mode
	read -r g_rps g_p50 g_p99 <<<"$2"
	read -r b_rps b_p50 b_p99 <<<"$3"
	awk -v n="$1" -v len="$4" -v m="$5" -v gr="$g_rps" -v g5="$g_p50" -v g9="$g_p99" -v br="$b_rps" \
		-v b5="$b_p50" -v b9="$b_p99" \
		'BEGIN { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %.2f |\n", n, m, len, gr, g5, g9, br, b5, b9, gr / br }'
}

# GW_BEFORE: the two gateways alternately, REPEAT rounds of one run each;
# prints the medians and the ratio after / before, then stops
if [ -n "${GW_BEFORE:-}" ]; then
	[ -x "$GW_BEFORE" ] || { echo "run.sh: GW_BEFORE=$GW_BEFORE is not an executable" >&2; exit 1; }
	ab=$AMLRISK_VAR/ab
	: >"$ab"
	for ((round = 0; round < REPEAT; round++)); do
		for side in before after; do
			kill "$gw_pid"
			wait "$gw_pid" 2>/dev/null || true
			[ "$side" = before ] && bin=$GW_BEFORE || bin=$BIN/amlrisk-gateway
			gateway 1 0 "$bin"
			echo "$side top $(REPEAT=1 measure "$GW/scores/top?n=20")" >>"$ab"
			echo "$side wallet $(REPEAT=1 measure "$GW" "$ROOT/bench/gateway/scores.lua")" >>"$ab"
		done
	done
	med() { awk -v s="$1" -v e="$2" '$1 == s && $2 == e { print $3 }' "$ab" | sort -n |
		awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
	{
		echo "wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s, $REPEAT alternating rounds (median req/s); $WALLETS scored wallets; gateway --threads $GW_THREADS --top-cache 0; before: $GW_BEFORE; after: $BIN/amlrisk-gateway; load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
		echo
		echo "| endpoint | before req/s | after req/s | after / before |"
		echo "|---|---|---|---|"
		for e in top wallet; do
			b=$(med before "$e") a=$(med after "$e")
			awk -v e="$e" -v b="$b" -v a="$a" 'BEGIN { printf "| %s | %s | %s | %.3f |\n",
				e == "top" ? "GET /scores/top?n=20 (--top-cache 0)" : "GET /scores/{wallet} (random)", b, a, a / b }'
		done
		echo
		echo "every run: $(tr '\n' ';' <"$ab")"
	} | tee "$OUT/gateway-ab.md"
	exit 0
fi

wallet_bytes=$(curl -sf "$GW/scores/w0000001" | wc -c)
top_bytes=$(curl -sf "$GW/scores/top?n=20" | wc -c)
export WALLETS
b_wallet=$(baseline "$wallet_bytes" "$ROOT/bench/gateway/scores.lua" "$AMLRISK_VAR/cpu.base")
b_top=$(baseline "$top_bytes")
g_wallet=$(measure "$GW" "$ROOT/bench/gateway/scores.lua")
g_top=$(measure "$GW/scores/top?n=20")
read -r cg_rps cg_srv cg_wrk <<<"$(cpu_measure "$GW" "$ROOT/bench/gateway/scores.lua" "$gw_pid" "$core_pid")"
read -r cb_rps cb_srv cb_wrk <"$AMLRISK_VAR/cpu.base"
# the RPC path alone: CONNS calls kept out, as many as wrk's connections
floor=$("$BIN/amlrisk-bench-rpc-floor" --url "$RPC_ADDR" --wallets "$WALLETS" --inflight "$CONNS" \
	--seconds "$DURATION" --server-pid "$core_pid")
read -r cf_rps cf_xch cf_cli cf_srv <<<"$(echo "$floor" | awk '/^inflight/ {
	for (i = 1; i <= NF; i++) { if ($i == "calls/s,") r = $(i - 1); if ($i == "calls") x = $(i - 1)
		if ($i == "client") c = $(i + 1); if ($i == "server") s = $(i + 1) }
	print r, x, c, s }')"
stats=$(curl -sf "$GW/metrics" | awk '/^amlrisk_gateway_rpc_(calls|exchanges)_total/ { v[$1] = $2 }
	END { printf "%.1f", v["amlrisk_gateway_rpc_calls_total"] / v["amlrisk_gateway_rpc_exchanges_total"] }')
kill "$gw_pid"
wait "$gw_pid" 2>/dev/null || true
gateway 1 0
n_top=$(measure "$GW/scores/top?n=20")
kill "$gw_pid"
wait "$gw_pid" 2>/dev/null || true
gateway 0 0
s_wallet=$(measure "$GW" "$ROOT/bench/gateway/scores.lua")
s_top=$(measure "$GW/scores/top?n=20")

{
	echo "wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s, median of $REPEAT; $WALLETS scored wallets; gateway --threads $GW_THREADS, LOG_LEVEL=${GW_LOG_LEVEL:-warn}; $(nproc) cores shared by wrk, gateway and core; load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
	echo
	echo "| endpoint | gateway | body bytes | gateway req/s | p50 ms | p99 ms | baseline req/s | p50 ms | p99 ms | ratio |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	row 'GET /scores/{wallet} (random)' "$g_wallet" "$b_wallet" "$wallet_bytes" "coalesced"
	row 'GET /scores/top?n=20' "$g_top" "$b_top" "$top_bytes" "coalesced"
	row 'GET /scores/top?n=20' "$n_top" "$b_top" "$top_bytes" "coalesced, --top-cache 0"
	row 'GET /scores/{wallet} (random)' "$s_wallet" "$b_wallet" "$wallet_bytes" "--rpc-batches 0"
	row 'GET /scores/top?n=20' "$s_top" "$b_top" "$top_bytes" "--rpc-batches 0, --top-cache 0"
	echo
	echo "coalesced: $stats calls per exchange with the core, over both endpoints"
	echo
	echo "CPU per GET /scores/{wallet} (us; one more run each, $(nproc) cores):"
	echo
	echo "| path | req/s | server side | client side | total |"
	echo "|---|---|---|---|---|"
	awk -v r="$cb_rps" -v s="$cb_srv" -v c="$cb_wrk" 'BEGIN { printf "| HTTP alone: fixed-body baseline, wrk | %s | %s | %s | %.1f |\n", r, s, c, s + c }'
	awk -v r="$cf_rps" -v s="$cf_srv" -v c="$cf_cli" -v x="$cf_xch" -v k="$CONNS" 'BEGIN { printf "| RPC alone: core, amlrisk-bench-rpc-floor (%s calls out, %s per exchange) | %s | %s | %s | %.1f |\n", k, x, r, s, c, s + c }'
	awk -v r="$cg_rps" -v s="$cg_srv" -v c="$cg_wrk" 'BEGIN { printf "| gateway (coalesced) + core, wrk | %s | %s | %s | %.1f |\n", r, s, c, s + c }'
	echo
	awk -v n="$(nproc)" -v bs="$cb_srv" -v bw="$cb_wrk" -v fs="$cf_srv" -v fc="$cf_cli" -v br="${b_wallet%% *}" '
		BEGIN { t = bs + bw + fs + fc; r = n * 1e6 / t
		printf "a gateway costing nothing beyond HTTP and RPC: %.1f us per request, at most %.0f req/s on %d cores = %.2fx of the baseline\n", t, r, n, r / br }'
	echo
	echo "one thread hand-off (amlrisk-bench-wake; NNG and the worker pool take several per message):"
	"$BIN/amlrisk-bench-wake" | sed 's/^/- /'
} | tee "$OUT/gateway.md"
