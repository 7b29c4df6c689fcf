#!/usr/bin/env bash
# A local DynamoDB-API server (moto) for tests and local development. Loopback only.
#
#   infra/dynamodb-local.sh install        create infra/.venv with moto (once; ~10 s)
#   infra/dynamodb-local.sh start [PORT]   start it (default port 8000), wait until it answers,
#                                          print the endpoint URL; pid in infra/.venv/moto-PORT.pid
#   infra/dynamodb-local.sh stop [PORT]    stop it
#
# Point the AWS SDK (and `byoc`) at it with:
#   export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:PORT AWS_REGION=us-east-1 \
#          AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true
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
      echo "dynamodb-local: moto exited; log:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "dynamodb-local: moto did not answer on port $port within 10 s" >&2
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
