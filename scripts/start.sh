#!/usr/bin/env bash
# `npm start`: installs what is missing, then runs what exists of the stack so far: a broker and the
# collector in front of it. Ctrl-C (or SIGTERM) stops both cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PWD/node_modules/.bin:$PATH"
node bin/tributary.js broker --node-id 1 --listen 127.0.0.1:9092 --data-dir ./data/broker-1 --metrics-listen 127.0.0.1:9644 &
broker=$!
node bin/tributary.js collector --listen 127.0.0.1:4318 --brokers 127.0.0.1:9092 --salt-file ./data/collector/salt &
collector=$!
stop() { kill -TERM "$collector" "$broker" 2>/dev/null || true; wait "$collector" "$broker" 2>/dev/null || true; }
trap stop INT TERM
# If either exits on its own, stop the other too.
wait -n "$broker" "$collector" || true
stop
