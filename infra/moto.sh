#!/usr/bin/env bash
# moto, a Python re-implementation of AWS APIs, on loopback. The DynamoDB tests run on Amazon's
# DynamoDB Local (infra/dynamodb-local.sh); moto serves what that cannot: CloudFormation (the
# stacks `byoc twilio connect --stack` reads), the benchmarks whose recorded figures were taken
# on it (docs/performance.md), and `BYOC_TEST_DYNAMODB=moto`, the suite on moto to compare.
#
#   infra/moto.sh install        create infra/.venv with moto (once; ~10 s)
#   infra/moto.sh start [PORT]   start it (default port 8000), wait until it answers, print the
#                                endpoint URL; pid in infra/.venv/moto-PORT.pid
#   infra/moto.sh stop [PORT]    stop it
set -euo pipefail
cd "$(dirname "$0")"
VENV="${BYOC_VENV:-$PWD/.venv}"
# Versions known to implement conditional writes, BatchGetItem, Scan/Query pagination and
# TransactWriteItems faithfully.
MOTO_SPEC="${BYOC_MOTO_SPEC:-moto[dynamodb,server]>=5,<6}"

install() {
  mkdir -p "$VENV"
  # Several test processes may ask at once: one installs, the others wait.
  exec 9>"$VENV/.install.lock"
  flock 9
  if [ ! -x "$VENV/bin/moto_server" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "$MOTO_SPEC" >&2
  fi
  flock -u 9
}

start() {
  local port="${1:-8000}"
  install
  local pidfile="$VENV/moto-$port.pid" log="$VENV/moto-$port.log"
  # moto_server.py: moto with requests serialized, so conditional writes are isolated as in
  # DynamoDB (plain moto_server lets racing transactions both pass their conditions).
  "$VENV/bin/python" "$PWD/moto_server.py" 127.0.0.1 "$port" >"$log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 100); do
    if python3 - "$port" <<'PY' 2>/dev/null; then
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1)
PY
      echo "http://127.0.0.1:$port"
      return 0
    fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "moto.sh: moto exited; log:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "moto.sh: moto did not answer on port $port within 10 s" >&2
  return 1
}

stop() {
  local port="${1:-8000}" pidfile="$VENV/moto-${1:-8000}.pid"
  if [ -f "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  fi
}

case "${1:-}" in
  install) install ;;
  start) start "${2:-8000}" ;;
  stop) stop "${2:-8000}" ;;
  *) echo "usage: $0 install | start [PORT] | stop [PORT]" >&2; exit 2 ;;
esac
