#!/usr/bin/env bash
# bench/retention/run.sh: what pruning runs costs and gives back, for
# docs/PERFORMANCE.md ("Run retention"). In one database per round: RUNS+KEPT
# completed hop_exposure/v1 runs of WALLETS rows each in risk_scores (one
# partition per run, migration 005/006), and the same rows in an unpartitioned
# copy with the same indexes (risk_scores_flat, the layout before 005). Then,
# in alternating order:
#   prune:  amlctl runs prune --keep KEPT (the RUNS oldest partitions dropped
#           through risk_runs_prune, the path the core's policy takes);
#   delete: DELETE FROM risk_scores_flat of the same runs' rows, then VACUUM,
#           then VACUUM FULL (each timed, with the table's size after it).
# Each step's wall time (client included: amlctl and psql alike), the bytes
# the table gave back to the file system, and the WAL it wrote. Prints each
# round and the medians as a Markdown table.
#   PGHOST/PGPORT/PGUSER: a PostgreSQL (eval "$(scripts/stack env)")
#   AMLRISK_BUILD_DIR (build)  RETAIN_BENCH_RUNS (10)  RETAIN_BENCH_WALLETS (100000)
#   RETAIN_BENCH_KEPT (1: runs that stay; VACUUM FULL rewrites them)  RETAIN_BENCH_REPEAT (3)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/${AMLRISK_BUILD_DIR:-build}/bin
RUNS=${RETAIN_BENCH_RUNS:-10}
WALLETS=${RETAIN_BENCH_WALLETS:-100000}
KEPT=${RETAIN_BENCH_KEPT:-1}
REPEAT=${RETAIN_BENCH_REPEAT:-3}
[ -x "$BIN/amlctl" ] || { echo "retention bench: $BIN/amlctl missing (ninja -C build amlctl)" >&2; exit 1; }
: "${PGHOST:?run: eval \"\$(scripts/stack env)\"}" "${PGPORT:?}" "${PGUSER:?}"
DB=amlrisk_bench_retain_$$
DBURL="postgresql://$PGUSER@$PGHOST:$PGPORT/$DB"
OUT=$(mktemp -d /tmp/amlrisk-retain-bench.XXXXXX)
cleanup() {
	psql -d postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$OUT"
}
trap cleanup EXIT
q() { psql -d "$DBURL" -v ON_ERROR_STOP=1 -Atqc "$1"; }
now() { date +%s.%N; }
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
PART_SIZE="SELECT coalesce(sum(pg_total_relation_size(relid)), 0)
           FROM pg_partition_tree('risk_scores') WHERE isleaf"
FLAT_SIZE="SELECT pg_total_relation_size('risk_scores_flat')"
LSN="SELECT pg_current_wal_lsn()"
wal_since() { q "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$1')"; }
# rec NAME VALUE: one figure of this round
rec() { echo "$2" >>"$OUT/$1"; }

setup() {
	psql -d postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
	psql -d postgres -qc "CREATE DATABASE $DB" >/dev/null
	DATABASE_URL=$DBURL "$BIN/amlctl" migrate >/dev/null
	q "CREATE TABLE risk_scores_flat (LIKE risk_scores INCLUDING ALL)"
	q "INSERT INTO scoring_runs (model, config_json, tx_source, watermark, status, completed_at)
	   SELECT 'hop_exposure/v1', '{}', '{}', 1, 'completed', now()
	   FROM generate_series(1, $RUNS + $KEPT)"
	# rows shaped like a hop run's: 4 hop counts, exposures, degrees
	q "INSERT INTO risk_scores (run_id, wallet, risk_score, exposures, exposures_json,
	                            in_degree, out_degree, is_illicit)
	   SELECT r, 'w' || lpad(g::text, 7, '0'), random(), (random() * 50)::bigint,
	          json_build_array(json_build_object('hop', 0, 'weight', 1, 'illicit_count', g % 2),
	                           json_build_object('hop', 1, 'weight', 0.5, 'illicit_count', g % 7),
	                           json_build_object('hop', 2, 'weight', 0.25, 'illicit_count', g % 13),
	                           json_build_object('hop', 3, 'weight', 0.125, 'illicit_count', g % 29)),
	          (g % 11)::int, (g % 17)::int, g % 50 = 0
	   FROM generate_series(1, $RUNS + $KEPT) r, generate_series(1, $WALLETS) g"
	q "INSERT INTO risk_scores_flat SELECT * FROM risk_scores ORDER BY run_id, wallet"
	q "VACUUM ANALYZE"
	q "CHECKPOINT"
}

arm_prune() {
	local size0 lsn t0 t1 out
	size0=$(q "$PART_SIZE")
	lsn=$(q "$LSN")
	t0=$(now)
	out=$(DATABASE_URL=$DBURL "$BIN/amlctl" runs prune --keep "$KEPT")
	t1=$(now)
	[ "$(grep -c '^pruned run' <<<"$out")" = "$RUNS" ] || { echo "retention bench: prune did not drop $RUNS runs: $out" >&2; exit 1; }
	rec prune_s "$(echo "$t1 - $t0" | bc -l)"
	rec prune_freed "$((size0 - $(q "$PART_SIZE")))"
	rec prune_wal "$(wal_since "$lsn")"
	rec part_before "$size0"
}

arm_delete() {
	local size0 lsn t0 t1 step sql
	size0=$(q "$FLAT_SIZE")
	rec flat_before "$size0"
	for step in delete vacuum full; do
		case $step in
		delete) sql="DELETE FROM risk_scores_flat WHERE run_id <= $RUNS" ;;
		vacuum) sql="VACUUM risk_scores_flat" ;;
		full) sql="VACUUM FULL risk_scores_flat" ;;
		esac
		lsn=$(q "$LSN")
		t0=$(now)
		q "$sql" >/dev/null
		t1=$(now)
		rec "${step}_s" "$(echo "$t1 - $t0" | bc -l)"
		rec "${step}_freed" "$((size0 - $(q "$FLAT_SIZE")))"
		rec "${step}_wal" "$(wal_since "$lsn")"
	done
	[ "$(q "SELECT count(*) FROM risk_scores_flat")" = "$((KEPT * WALLETS))" ] || { echo "retention bench: delete left the wrong rows" >&2; exit 1; }
}

echo "retention bench: $REPEAT rounds of $RUNS runs x $WALLETS wallets (+$KEPT kept), $(psql -d postgres -Atc 'SHOW server_version')" >&2
for r in $(seq "$REPEAT"); do
	echo "round $r: setup" >&2
	setup
	if [ $((r % 2)) = 1 ]; then arm_prune; arm_delete; else arm_delete; arm_prune; fi
	echo "round $r: prune $(tail -1 "$OUT/prune_s") s freed $(tail -1 "$OUT/prune_freed") B;" \
		"delete $(tail -1 "$OUT/delete_s") s freed $(tail -1 "$OUT/delete_freed") B;" \
		"vacuum $(tail -1 "$OUT/vacuum_s") s freed $(tail -1 "$OUT/vacuum_freed") B;" \
		"vacuum full $(tail -1 "$OUT/full_s") s freed $(tail -1 "$OUT/full_freed") B" >&2
done

m() { median <"$OUT/$1"; }
mb() { printf '%.1f' "$(echo "$(m "$1") / 1048576" | bc -l)"; }
ms() { printf '%.0f' "$(echo "$(m "$1") * 1000" | bc -l)"; }
cat <<EOF
Medians of $REPEAT rounds; $RUNS runs x $WALLETS rows pruned, $KEPT run(s) of $WALLETS rows kept.
Partitioned risk_scores before: $(mb part_before) MiB; risk_scores_flat before: $(mb flat_before) MiB.

| step | wall ms | MiB given back to the file system (cumulative) | WAL MiB |
|---|---:|---:|---:|
| prune: amlctl runs prune --keep $KEPT (drop $RUNS partitions) | $(ms prune_s) | $(mb prune_freed) | $(mb prune_wal) |
| DELETE of the same rows (unpartitioned) | $(ms delete_s) | $(mb delete_freed) | $(mb delete_wal) |
| then VACUUM | $(ms vacuum_s) | $(mb vacuum_freed) | $(mb vacuum_wal) |
| then VACUUM FULL (ACCESS EXCLUSIVE: table unreadable meanwhile) | $(ms full_s) | $(mb full_freed) | $(mb full_wal) |
EOF
