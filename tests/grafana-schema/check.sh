#!/usr/bin/env bash
# Installs the pinned @grafana/schema and TypeScript from package-lock.json, then
# type-checks deploy/grafana/dashboards/*.json against Grafana's Dashboard type.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
node check.mjs
