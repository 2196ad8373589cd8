#!/usr/bin/env bash
# Soak: starts a Prodex server on loopback with a memory ceiling, then
# drives ingest at twice its measured capacity for a bounded time while
# querying and burning an SLO (prodex bench soak). It reports events
# acknowledged against stored (they must be equal), the server's peak
# resident memory against its ceiling, query latency under load and how
# long the page took. Nothing leaves the machine.
#
#   scripts/soak.sh [DURATION] [CEILING]     e.g. scripts/soak.sh 3m 1GB
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-3m}
ceiling=${2:-1GB}
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT

go build -o "$work/prodex" ./cmd/prodex
key=$("$work/prodex" keys create --data "$work/data" --scope admin | tail -1)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$work/prodex" serve --data "$work/data" --listen "127.0.0.1:$port" --otlp-http "" --otlp-grpc "" \
  --memory-ceiling "$ceiling" >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

"$work/prodex" bench soak --server "http://127.0.0.1:$port" --key "$key" --pid "$pid" \
  --ceiling "$ceiling" --duration "$duration"
status=$?
echo "server log: $(grep -c '"level":"ERROR"' "$work/server.log" || true) errors"
exit $status
