#!/usr/bin/env bash
# Runs every test of Prodex on a fresh Debian machine: installs what the
# tests need (Debian's Chromium for the browser tests, ClickHouse,
# ZooKeeper and PostgreSQL for the store tests, Node.js packages for the
# libhoney and OpenTelemetry JS client tests), then runs the Go test suite
# with vet.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v node >/dev/null || need_apt+=(nodejs npm)
command -v gcc >/dev/null || need_apt+=(gcc)
command -v chromium >/dev/null || need_apt+=(chromium)
# The store tests start their own ClickHouse shards, ZooKeeper and
# PostgreSQL from Debian's binaries (internal/testserver), so the packages'
# services, which are not started here (policy-rc.d), are not needed.
command -v clickhouse-server >/dev/null || test -x /usr/sbin/clickhouse-server || need_apt+=(clickhouse-server)
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need_apt+=(postgresql)
# Replicated ClickHouse tables need ZooKeeper: the tests run its server jar
# with java (the package depends on a JRE).
{ test -f /usr/share/java/zookeeper.jar && command -v java >/dev/null; } || need_apt+=(zookeeper)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

npm ci --prefix test/libhoney --no-audit --no-fund --loglevel=error
npm ci --prefix test/otel-js --no-audit --no-fund --loglevel=error

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt wants to reformat:"; echo "$unformatted"; exit 1
fi
go vet ./...
go test -count=1 -timeout 30m ./...

# Hostile input: each fuzz target runs a short while beyond its seeds (the
# seeds themselves ran above, as ordinary tests).
for target in "internal/event FuzzDecodeBatch" "internal/query FuzzQuerySpec" "internal/sli FuzzCompile" "internal/sli FuzzCompileClickHouse" \
  "internal/manifest FuzzApply" "internal/otlp FuzzConvert"; do
  set -- $target
  go test -run '^$' -fuzz "^$2\$" -fuzztime 10s "./$1"
done
