#!/usr/bin/env bash
# Starts N ClickHouse shards (Debian's clickhouse-server) on loopback for
# trying or benchmarking Prodex's ClickHouse store: shard i listens on
# native port 19000+i, with its data in DIR/shard-i, and every shard knows
# the cluster "prodex" of all of them. Stop them with: pkill -f DIR/shard-
#
#   scripts/clickhouse-shards.sh /tmp/ch 2
#   prodex bench query --store 'clickhouse://127.0.0.1:19001/bench?cluster=prodex'
set -euo pipefail
dir=${1:?usage: clickhouse-shards.sh DIR [N]}
n=${2:-2}
bin=$(command -v clickhouse-server || echo /usr/sbin/clickhouse-server)
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
shards=""
for i in $(seq 1 "$n"); do
  shards+="<shard><replica><host>127.0.0.1</host><port>$((19000 + i))</port></replica></shard>"
done
for i in $(seq 1 "$n"); do
  d=$dir/shard-$i
  mkdir -p "$d/data" "$d/tmp"
  cat > "$d/users.xml" <<XML
<yandex>
  <profiles><default/></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default/></quotas>
</yandex>
XML
  cat > "$d/config.xml" <<XML
<yandex>
  <logger><level>warning</level><log>$d/server.log</log><errorlog>$d/error.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>$((19000 + i))</tcp_port>
  <http_port>$((18100 + i))</http_port>
  <path>$d/data/</path>
  <tmp_path>$d/tmp/</tmp_path>
  <users_config>$d/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <remote_servers><prodex>$shards</prodex></remote_servers>
</yandex>
XML
  nohup "$bin" --config-file="$d/config.xml" >"$d/stdout.log" 2>&1 &
done
for i in $(seq 1 "$n"); do
  for _ in $(seq 60); do
    clickhouse-client --port $((19000 + i)) -q 'SELECT 1' >/dev/null 2>&1 && break
    sleep 0.5
  done
  clickhouse-client --port $((19000 + i)) -q 'SELECT 1' >/dev/null || { echo "shard $i did not start; see $dir/shard-$i/error.log" >&2; exit 1; }
done
echo "$n shard(s) up: clickhouse://127.0.0.1:19001/DATABASE?cluster=prodex"
