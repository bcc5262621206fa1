#!/usr/bin/env bash
# bench/rpc/health_nocore.sh [GATEWAY_BIN] [N]: how fast the gateway answers
# GET /health and GET /ready with no core behind it. Starts GATEWAY_BIN
# (default build/bin/amlrisk-gateway) with RPC_URL naming an ipc:// path nobody
# serves, times N (default 200) sequential requests of each with curl and
# prints the status codes, the median and the maximum of curl's time_total.
set -euo pipefail
bin=${1:-build/bin/amlrisk-gateway}
n=${2:-200}
tmp=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
env -u RPC_SECRET_FILE RPC_URL="ipc://$tmp/nocore.ipc" HTTP_LISTEN="127.0.0.1:$port" LOG_LEVEL=warn \
	"$bin" >"$tmp/gateway.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 200); do curl -fs -o /dev/null "http://127.0.0.1:$port/openapi.json" && break; sleep 0.05; done
for path in health ready; do
	for _ in $(seq "$n"); do
		curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "http://127.0.0.1:$port/$path"
	done >"$tmp/$path.txt"
	codes=$(cut -d' ' -f1 "$tmp/$path.txt" | sort -u | tr '\n' ' ')
	cut -d' ' -f2 "$tmp/$path.txt" | sort -g | awk -v p="$path" -v c="$codes" '
		{ t[NR] = $1 * 1000 }
		END { printf "GET /%s: status %smedian %.2f ms, max %.2f ms of %d\n", p, c, t[int((NR + 1) / 2)], t[NR], NR }'
done
