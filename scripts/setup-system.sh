#!/usr/bin/env bash
# Installs the Debian packages Tributary's tests and stack use, when they are missing.
# Idempotent: does nothing when everything is present.
set -euo pipefail

# command (or a file the package installs) -> Debian package. redis-server, nats-server and rsyslog's omkafka are
# the peers `npm run bench` compares against.
declare -A needed=( [kcat]=kcat [chromium]=chromium [clickhouse-server]=clickhouse-server [prometheus]=prometheus
  [prometheus-alertmanager]=prometheus-alertmanager [redis-server]=redis-server [nats-server]=nats-server
  [/usr/lib/x86_64-linux-gnu/rsyslog/omkafka.so]=rsyslog-kafka )

missing=()
for cmd in "${!needed[@]}"; do
  if [[ "$cmd" == /* ]]; then [ -e "$cmd" ] && continue; else command -v "$cmd" >/dev/null 2>&1 && continue; fi
  missing+=("${needed[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "setup: need root (or sudo) to run: apt-get install -y ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
echo "setup: installed ${missing[*]}"
