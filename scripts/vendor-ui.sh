#!/usr/bin/env bash
# Copies the front-end packages the web UI uses from npm (web/package.json,
# pinned in web/package-lock.json) into internal/ui/assets/vendor, where the
# binary embeds them. Run it after changing a version; the copies are
# committed so that building Prodex needs no npm.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --prefix web --no-audit --no-fund --loglevel=error
v=internal/ui/assets/vendor
cp web/node_modules/uplot/dist/uPlot.iife.min.js web/node_modules/uplot/dist/uPlot.min.css "$v/"
cp web/node_modules/uplot/LICENSE "$v/uPlot.LICENSE"
