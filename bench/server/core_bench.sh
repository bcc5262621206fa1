#!/usr/bin/env bash
# bench/server/core_bench.sh: the core server's figures for docs/PERFORMANCE.md
# ("### Core server"), against the PostgreSQL of `scripts/stack env`:
#  1. ReloadGraph + RunScore at N transactions (default 1M) split into load,
#     score and store, for each model (hop_exposure/v1 defaults and
#     flow_exposure/v1 defaults with the same 5% seeded illicit set), each
#     store next to a raw `psql \copy` of the same rows in the same format
#     (text for hop rows, binary for flow rows, as the server sends them) into
#     a table with the same indexes, in the same run;
#  2. Health and GetWalletScore round trips against the real amlrisk-core over
#     ipc:// and tcp:// at 1, 8 and 64 callers, next to a bare NNG req/rep echo
#     of the same envelope sizes (amlrisk-bench-rpc --url, from bench/rpc).
# Uses its own database (dropped at the end) and its own RPC addresses.
#   AMLRISK_BUILD_DIR (build)  CORE_BENCH_TXS (1000000)  CORE_BENCH_WALLETS (200000)
#   CORE_BENCH_REPEAT (3)  CORE_BENCH_RPC_SECONDS (2)  CORE_BENCH_SKIP_RPC (0)
#   CORE_BENCH_MODELS ("hop_exposure/v1 flow_exposure/v1")
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/${AMLRISK_BUILD_DIR:-build}/bin
TXS=${CORE_BENCH_TXS:-1000000}
WALLETS=${CORE_BENCH_WALLETS:-200000}
REPEAT=${CORE_BENCH_REPEAT:-3}
MODELS=${CORE_BENCH_MODELS:-hop_exposure/v1 flow_exposure/v1}
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
	load=$(json 'd["graph"]["load_seconds"]' <"$WORK/reload.json")
	for model in $MODELS; do
		# the same illicit set for both: hop's default 5% seeded share
		"$BIN/amlctl" --url "$URL" --json score --model "$model" --illicit-ratio 0.05 >"$WORK/score.json"
		read -r id wallets score store elapsed < <(json '" ".join(str(x) for x in (d["run"]["run_id"], d["run"]["wallets"], d["run"]["score_seconds"], d["run"]["store_seconds"], d["elapsed_seconds"]))' <"$WORK/score.json")
		# the same rows, in the format the server sends, into a table with the same indexes
		if [ "$model" = flow_exposure/v1 ]; then
			cols="run_id, wallet, risk_score, received_exposure, sent_exposure, received_hops, sent_hops, in_degree, out_degree, is_illicit"
			fmt="(FORMAT binary)"
		else
			cols="run_id, wallet, risk_score, exposures, exposures_json, in_degree, out_degree, is_illicit"
			fmt=""
		fi
		psql -d "$DB" -qc "\\copy (SELECT $cols FROM risk_scores WHERE run_id = $id) TO '$WORK/rows' $fmt"
		psql -d "$DB" -qc "SET client_min_messages = warning; DROP TABLE IF EXISTS rs_copy; CREATE TABLE rs_copy (LIKE risk_scores INCLUDING INDEXES INCLUDING CONSTRAINTS)"
		t0=$(now)
		psql -d "$DB" -qc "\\copy rs_copy ($cols) FROM '$WORK/rows' $fmt"
		raw=$(echo "$(now) - $t0" | bc)
		echo "$model $load $score $store $elapsed $raw $wallets" >>"$WORK/runs"
		echo "core_bench: run $id ($model): load $load s, score $score s, store $store s (psql \\copy $raw s), $wallets wallets" >&2
	done
done
col() { awk -v m="$1" -v c="$2" '$1 == m {print $c}' "$WORK/runs" | median; }
graph=$("$BIN/amlctl" --url "$URL" --json health | json '"%d wallets, %d edges" % (d["graph"]["wallets"], d["graph"]["edges"])')
echo
echo "ReloadGraph + RunScore, $TXS transactions ($graph), median of $REPEAT:"
echo
echo "| model | phase | seconds | rows/s |"
echo "|---|---|---:|---:|"
for model in $MODELS; do
	load=$(col "$model" 2); score=$(col "$model" 3); store=$(col "$model" 4); elapsed=$(col "$model" 5); raw=$(col "$model" 6); wallets=$(col "$model" 7)
	printf "| %s | load (ReloadGraph: COPY TO STDOUT binary + graph build) | %.2f | %.0f |\n" "$model" "$load" "$(echo "$TXS / $load" | bc -l)"
	printf "| %s | score (engine, %s threads) | %.2f | %.0f |\n" "$model" "${SCORE_THREADS:-2}" "$score" "$(echo "$wallets / $score" | bc -l)"
	printf "| %s | store (COPY risk_scores + complete, one transaction) | %.2f | %.0f |\n" "$model" "$store" "$(echo "$wallets / $store" | bc -l)"
	printf "| %s | baseline: psql \\\\copy of the same %s rows, same format and indexes | %.2f | %.0f |\n" "$model" "$wallets" "$raw" "$(echo "$wallets / $raw" | bc -l)"
	printf "| %s | store incl. COMMIT (RunScore end to end minus score) | %.2f | %.0f |\n" "$model" "$(echo "$elapsed - $score" | bc -l)" "$(echo "$wallets / ($elapsed - $score)" | bc -l)"
	printf "| %s | RunScore end to end (labels, score, store, answer) | %.2f | |\n" "$model" "$elapsed"
done

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
