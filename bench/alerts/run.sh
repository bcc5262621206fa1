#!/bin/sh
# bench/alerts/run.sh - builds and runs alertgen_bench on a fresh migrated
# database of the cluster at DATABASE_URL (e.g. `eval "$(scripts/stack env)"`),
# dropped afterwards. Arguments go to alertgen_bench (--txs, --wallets,
# --batch, --updates, --model).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
: "${DATABASE_URL:?set DATABASE_URL (eval \"\$(scripts/stack env)\")}"
cmake -S "$ROOT" -B "$BUILD" -G Ninja >/dev/null
ninja -C "$BUILD" -j2 alertgen_bench amlrisk-migrate >/dev/null
DB="alertgen_bench_$$"
ADMIN="${DATABASE_URL%/*}/postgres"
URL="${DATABASE_URL%/*}/$DB"
psql -Atq -d "$ADMIN" -c "CREATE DATABASE $DB"
trap 'psql -Atq -d "$ADMIN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"' EXIT
"$BUILD/bin/amlrisk-migrate" --database-url "$URL" >/dev/null
echo "bench/alerts on $(uname -srm), $(nproc) CPUs, $(git -C "$ROOT" rev-parse --short HEAD)," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg)"
DATABASE_URL="$URL" "$BUILD/bin/alertgen_bench" "$@"
