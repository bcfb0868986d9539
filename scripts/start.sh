#!/usr/bin/env bash
# `npm start`: installs what is missing, then runs what exists of the stack so far: a broker, the
# collector in front of it, and a host agent for this machine (host metrics, plus whatever *.log files
# are put in ./data/logs). Ctrl-C (or SIGTERM) stops them all cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PWD/node_modules/.bin:$PATH"
mkdir -p data/logs data/agent
if [ ! -f data/agent/agent.yaml ]; then
  cat > data/agent/agent.yaml <<'YAML'
# Written by `npm start` on first run; edit freely (see agents/agent/agent.example.yaml).
brokers: [127.0.0.1:9092]
state_dir: .
metrics_listen: 127.0.0.1:9700
files:
  - include: [../logs/*.log]
    service: local
host_metrics:
  interval: 10s
YAML
fi
node bin/tributary.js broker --node-id 1 --listen 127.0.0.1:9092 --data-dir ./data/broker-1 --metrics-listen 127.0.0.1:9644 &
broker=$!
node bin/tributary.js collector --listen 127.0.0.1:4318 --brokers 127.0.0.1:9092 --salt-file ./data/collector/salt &
collector=$!
node bin/tributary.js agent --config ./data/agent/agent.yaml &
agent=$!
stop() { kill -TERM "$agent" "$collector" "$broker" 2>/dev/null || true; wait "$agent" "$collector" "$broker" 2>/dev/null || true; }
trap stop INT TERM
# If any exits on its own, stop the others too.
wait -n "$broker" "$collector" "$agent" || true
stop
