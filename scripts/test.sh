#!/usr/bin/env bash
# Runs every test of Prodex on a fresh Debian machine: installs what the
# tests need (Debian's Chromium for the browser tests, PostgreSQL for the
# metadata store's, Node.js packages for the libhoney and OpenTelemetry JS
# client tests), then runs the Go test suite with vet.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v node >/dev/null || need_apt+=(nodejs npm)
command -v gcc >/dev/null || need_apt+=(gcc)
command -v chromium >/dev/null || need_apt+=(chromium)
# The PostgreSQL metadata store's tests start their own server from
# Debian's binaries.
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
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
for target in "internal/event FuzzDecodeBatch" "internal/query FuzzQuerySpec" "internal/sli FuzzCompile" \
  "internal/manifest FuzzApply" "internal/otlp FuzzConvert"; do
  set -- $target
  go test -run '^$' -fuzz "^$2\$" -fuzztime 10s "./$1"
done
