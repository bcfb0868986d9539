#!/usr/bin/env bash
# Installs the npm dependencies (Node 24 among them) when there are none yet or package-lock.json is newer.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci (installs Node 24 and the dependencies)"
  npm ci --no-audit --no-fund --loglevel=error
fi
