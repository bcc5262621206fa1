#!/usr/bin/env bash
# bench/server/core_bench.sh: the core server's figures for docs/PERFORMANCE.md
# ("### Core server"), against the PostgreSQL of `scripts/stack env`:
#  1. ReloadGraph + RunScore at N transactions (default 1M) split into load,
#     score and store, with the store rate next to a raw `psql \copy` of the
#     same rows into a table with the same indexes, in the same run;
#  2. Health and GetWalletScore round trips against the real amlrisk-core over
#     ipc:// and tcp:// at 1, 8 and 64 callers, next to a bare NNG req/rep echo
#     of the same envelope sizes (amlrisk-bench-rpc --url, from bench/rpc).
# Uses its own database (dropped at the end) and its own RPC addresses.
#   AMLRISK_BUILD_DIR (build)  CORE_BENCH_TXS (1000000)  CORE_BENCH_WALLETS (200000)
#   CORE_BENCH_REPEAT (3)  CORE_BENCH_RPC_SECONDS (2)  CORE_BENCH_SKIP_RPC (0)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/${AMLRISK_BUILD_DIR:-build}/bin
TXS=${CORE_BENCH_TXS:-1000000}
WALLETS=${CORE_BENCH_WALLETS:-200000}
REPEAT=${CORE_BENCH_REPEAT:-3}
RPC_SECONDS=${CORE_BENCH_RPC_SECONDS:-2}
for b in amlrisk-core amlctl amlrisk-sim amlrisk-bench-rpc; do
	[ -x "$BIN/$b" ] || { echo "core_bench: $BIN/$b missing (ninja -C build $b)" >&2; exit 1; }
done
: "${PGHOST:?run: eval \"\$(scripts/stack env)\"}" "${PGPORT:?}" "${PGUSER:?}"
WORK=$(mktemp -d /tmp/amlrisk-core-bench.XXXXXX)
DB=amlrisk_bench_core_$$
DBURL="postgresql://$PGUSER@$PGHOST:$PGPORT/$DB"
CORE_PID=
cleanup() {
	[ -n "$CORE_PID" ] && kill -TERM "$CORE_PID" 2>/dev/null && wait "$CORE_PID" 2>/dev/null
	psql -d postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT
now() { date +%s.%N; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

start_core() { # $1 = RPC URL
	RPC_LISTEN=$1 DATABASE_URL=$DBURL LOG_LEVEL=warn "$BIN/amlrisk-core" 2>>"$WORK/core.log" &
	CORE_PID=$!
	for _ in $(seq 600); do
		if "$BIN/amlctl" --url "$1" --json --timeout 1000 health 2>/dev/null | json 'd["graph"]["loaded"]' 2>/dev/null | grep -q True; then
			return 0
		fi
		sleep 0.2
	done
	echo "core_bench: amlrisk-core did not become ready; see $WORK/core.log" >&2
	exit 1
}
stop_core() { kill -TERM "$CORE_PID"; wait "$CORE_PID" || true; CORE_PID=; }

psql -d postgres -qc "CREATE DATABASE $DB" >/dev/null
DATABASE_URL=$DBURL "$BIN/amlctl" migrate >/dev/null
echo "core_bench: generating $TXS transactions over $WALLETS wallets" >&2
"$BIN/amlrisk-sim" --wallets "$WALLETS" --transactions "$TXS" --format csv --quiet --out "$WORK/tx.csv"
t0=$(now)
psql -d "$DB" -qc "\\copy transactions (tx_id, sender, receiver, amount, \"timestamp\", asset) FROM '$WORK/tx.csv' CSV HEADER"
echo "core_bench: loaded transactions in $(echo "$(now) - $t0" | bc) s" >&2
psql -d "$DB" -qc "VACUUM ANALYZE transactions"

URL=ipc://$WORK/core.ipc
start_core "$URL"
: >"$WORK/runs"
for i in $(seq "$REPEAT"); do
	"$BIN/amlctl" --url "$URL" --json reload >"$WORK/reload.json"
	"$BIN/amlctl" --url "$URL" --json score >"$WORK/score.json"
	load=$(json 'd["graph"]["load_seconds"]' <"$WORK/reload.json")
	read -r id wallets score store elapsed < <(json '" ".join(str(x) for x in (d["run"]["run_id"], d["run"]["wallets"], d["run"]["score_seconds"], d["run"]["store_seconds"], d["elapsed_seconds"]))' <"$WORK/score.json")
	# the same rows, same COPY text format, into a table with the same indexes
	psql -d "$DB" -qc "\\copy (SELECT run_id, wallet, risk_score, exposures, exposures_json, in_degree, out_degree, is_illicit FROM risk_scores WHERE run_id = $id) TO '$WORK/rows.txt'"
	psql -d "$DB" -qc "SET client_min_messages = warning; DROP TABLE IF EXISTS rs_copy; CREATE TABLE rs_copy (LIKE risk_scores INCLUDING INDEXES)"
	t0=$(now)
	psql -d "$DB" -qc "\\copy rs_copy FROM '$WORK/rows.txt'"
	raw=$(echo "$(now) - $t0" | bc)
	echo "$load $score $store $elapsed $raw $wallets" >>"$WORK/runs"
	echo "core_bench: run $id: load $load s, score $score s, store $store s (psql \\copy $raw s), $wallets wallets" >&2
done
col() { awk -v c="$1" '{print $c}' "$WORK/runs" | median; }
load=$(col 1); score=$(col 2); store=$(col 3); elapsed=$(col 4); raw=$(col 5); wallets=$(col 6)
graph=$("$BIN/amlctl" --url "$URL" --json health | json '"%d wallets, %d edges" % (d["graph"]["wallets"], d["graph"]["edges"])')
echo
echo "ReloadGraph + RunScore, $TXS transactions ($graph), median of $REPEAT:"
echo
echo "| phase | seconds | rows/s |"
echo "|---|---:|---:|"
printf "| load (ReloadGraph: COPY TO STDOUT binary + graph build) | %.2f | %.0f |\n" "$load" "$(echo "$TXS / $load" | bc -l)"
printf "| score (engine, %s threads) | %.2f | %.0f |\n" "${SCORE_THREADS:-2}" "$score" "$(echo "$wallets / $score" | bc -l)"
printf "| store (COPY risk_scores + complete, one transaction) | %.2f | %.0f |\n" "$store" "$(echo "$wallets / $store" | bc -l)"
printf "| baseline: psql \\\\copy of the same %s rows, same indexes | %.2f | %.0f |\n" "$wallets" "$raw" "$(echo "$wallets / $raw" | bc -l)"
printf "| store incl. COMMIT (RunScore end to end minus score) | %.2f | %.0f |\n" "$(echo "$elapsed - $score" | bc -l)" "$(echo "$wallets / ($elapsed - $score)" | bc -l)"
printf "| RunScore end to end (labels, score, store, answer) | %.2f | |\n" "$elapsed"

if [ "${CORE_BENCH_SKIP_RPC:-0}" != 1 ]; then
	wallet=$("$BIN/amlctl" --url "$URL" --json top -n 1 | json 'd["scores"][0]["wallet"]')
	echo
	echo "Round trips against amlrisk-core (GetWalletScore of $wallet, the latest run from memory):"
	echo
	rpc() { # $1 = URL; Health, then GetWalletScore (--set applies to every method)
		"$BIN/amlrisk-bench-rpc" --url "$1" --method Health --seconds "$RPC_SECONDS"
		"$BIN/amlrisk-bench-rpc" --url "$1" --method GetWalletScore --set "wallet=$wallet" \
			--seconds "$RPC_SECONDS" | tail -n +3
	}
	rpc "$URL"
	stop_core
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	URL=tcp://127.0.0.1:$port
	start_core "$URL"
	rpc "$URL" | tail -n +3
fi
