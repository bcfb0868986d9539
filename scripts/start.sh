#!/usr/bin/env bash
# `npm start`: installs the npm dependencies when missing (Node 24 among them), then runs the whole stack
# with demo traffic: `tributary up --demo` (ClickHouse, Prometheus, broker, collector, agent, pipelines,
# dashboards; data in ./data). Extra arguments go to `tributary up` (`npm start -- --ports auto`).
# The Debian packages (clickhouse-server, prometheus) are not installed from here: that needs root, and
# `up` names any missing one with its install command (scripts/setup-system.sh installs them all).
# Ctrl-C (or SIGTERM) stops everything cleanly; the next `npm start` reuses ./data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PWD/node_modules/.bin:$PATH"
exec node bin/tributary.js up --demo "$@"
