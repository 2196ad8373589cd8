#!/usr/bin/env bash
# Runs Prodex scaled out on one machine: two ClickHouse shards (ports
# 19001, 19002, cluster "prodex"), one PostgreSQL (port 15432) and two
# prodex nodes (127.0.0.1:8081 and :8082) sharing them, everything under
# DIR. Put a load balancer in front of the two nodes, or talk to either:
# any node ingests and answers; one at a time evaluates alerts.
#
#   go build -o prodex ./cmd/prodex && scripts/multinode.sh /tmp/prodex-multi
#
# Stop it with: scripts/multinode.sh DIR stop
set -euo pipefail
dir=${1:?usage: multinode.sh DIR [stop]}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
prodex=${PRODEX:-$here/../prodex}
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [ "${2:-}" = stop ]; then
  for p in "$dir"/node-*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true; done
  as_pg "$pgbin/pg_ctl" -D "$dir/pg" -m fast stop >/dev/null 2>&1 || true
  pkill -f "$dir/ch/shard-" || true
  echo "stopped"
  exit 0
fi

[ -x "$prodex" ] || { echo "no prodex binary at $prodex: go build -o prodex ./cmd/prodex, or set PRODEX" >&2; exit 1; }
[ -n "$pgbin" ] || { echo "PostgreSQL is not installed: apt-get install postgresql" >&2; exit 1; }

"$here/clickhouse-shards.sh" "$dir/ch" 2

if [ ! -d "$dir/pg" ]; then
  mkdir -p "$dir/pg"
  # PostgreSQL refuses to run as root: its directory is the postgres user's.
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir/pg"; chmod a+x "$dir"; fi
  as_pg "$pgbin/initdb" -D "$dir/pg" -U prodex --auth=trust >/dev/null
fi
as_pg "$pgbin/pg_ctl" -D "$dir/pg" -l "$dir/pg/server.log" -o "-p 15432 -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" -w start >/dev/null
psql "postgres://prodex@127.0.0.1:15432/postgres" -qc "CREATE DATABASE prodex" 2>/dev/null || true
echo "PostgreSQL up: postgres://prodex@127.0.0.1:15432/prodex"

store='clickhouse://127.0.0.1:19001/prodex?cluster=prodex'
meta='postgres://prodex@127.0.0.1:15432/prodex?sslmode=disable'
for i in 1 2; do
  # The first node makes the bootstrap key when none exists; the second
  # starts once it has, and finds it.
  nohup "$prodex" serve --store "$store" --meta "$meta" --listen "127.0.0.1:808$i" \
    --otlp-http "127.0.0.1:${i}4318" --otlp-grpc "127.0.0.1:${i}4317" >"$dir/node-$i.log" 2>&1 &
  echo $! >"$dir/node-$i.pid"
  for _ in $(seq 60); do curl -sf "http://127.0.0.1:808$i/healthz" >/dev/null && break; sleep 0.5; done
  curl -sf "http://127.0.0.1:808$i/healthz" >/dev/null || { echo "node $i did not start; see $dir/node-$i.log" >&2; exit 1; }
  echo "node $i up: http://127.0.0.1:808$i (log $dir/node-$i.log)"
done
grep -h -A1 "No API keys existed" "$dir"/node-*.log | grep '^pdx' || echo "(the admin key was made by an earlier run: see its node log)"
