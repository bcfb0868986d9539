#!/usr/bin/env bash
# `npm start`: installs what is missing, then runs what exists of the stack so far (a single broker).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PWD/node_modules/.bin:$PATH"
exec node bin/tributary.js broker --node-id 1 --listen 127.0.0.1:9092 --data-dir ./data/broker-1 --metrics-listen 127.0.0.1:9644 "$@"
