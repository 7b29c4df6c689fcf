#!/usr/bin/env bash
# Load and fault run (not a CI test; see docs/hardening.md):
#   1. 100,000 signed inbound calls at concurrency 64 to `byoc serve` on a route file;
#   2. the same to `byoc serve --table` (the Lambda call path: DynamoDB store behind the call-path
#      cache and time budget) while the local DynamoDB server is stopped, then restarted empty
#      and re-imported;
#   3. the same outage against INSTANCES real inbound Lambda binaries on Runtime API emulators.
# Every request must get 200 + TwiML; the script exits 1 otherwise.
#
#   infra/bench/faults.sh [REQUESTS] [CONCURRENCY] [INSTANCES] [FAULT_REQUESTS]
#
# The fault phases send FAULT_REQUESTS (default 300,000) so the load outlasts the outage and
# the re-import. Cache TTL 5 s, so entries expire during the 6 s outage; the local server is
# moto (Python, one request at a time), so the call set is 60 numbers to keep its load within
# what it serves.
set -euo pipefail
cd "$(dirname "$0")/../.."
REQUESTS="${1:-100000}"
CONCURRENCY="${2:-64}"
INSTANCES="${3:-8}"
FAULT_REQUESTS="${4:-300000}"
TOKEN="faults-auth-token"
PORT="${MOTO_PORT:-18642}"
TABLE="byoc-faults"

# All binaries at once (load-check's own build of the inbound binary is then a no-op).
cargo build --release --quiet --workspace --bins
./infra/moto.sh install

TMP="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ./infra/moto.sh stop "$PORT" || true
  rm -rf "$TMP"
}
trap cleanup EXIT

export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$PORT" AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true
export TWILIO_AUTH_TOKEN="$TOKEN" RUST_LOG=warn
BYOC=./target/release/byoc
LOAD=./target/release/load-check

# 1,000 numbers with routes, a prefix and a catch-all; calls go to numbers with and without routes.
python3 - "$TMP" <<'PY'
import json, sys
out = sys.argv[1]
routes = [{"pattern": f"+1212{i:07d}", "url": f"https://example.com/flow/{i}?a=1&b=2"} for i in range(1000)]
routes += [{"pattern": "+1317*", "action": "say", "text": "Indianapolis"},
           {"pattern": "*", "url": "https://example.com/default"}]
json.dump({"routes": routes}, open(f"{out}/routes.json", "w"))
nums = [f"+1212{i:07d}" for i in range(0, 1000, 20)] + [f"+1317555{i:04d}" for i in range(10)]
open(f"{out}/numbers.txt", "w").write("\n".join(nums))
PY

# Starts `byoc serve ARGS` in this shell (so the cleanup knows its pid); sets URL.
start_serve() {
  : >"$TMP/serve.out"
  "$BYOC" serve --port 0 "$@" >"$TMP/serve.out" 2>"$TMP/serve.err" &
  SERVE_PID=$!
  PIDS+=("$SERVE_PID")
  for _ in $(seq 1 200); do
    grep -q "listening on" "$TMP/serve.out" 2>/dev/null && break
    kill -0 "$SERVE_PID" 2>/dev/null || { cat "$TMP/serve.err"; exit 1; }
    sleep 0.05
  done
  URL="$(grep -o 'http://127.0.0.1:[0-9]*' "$TMP/serve.out")"
}

stop_serve() {
  kill "$SERVE_PID" 2>/dev/null || true
  wait "$SERVE_PID" 2>/dev/null || true
}

import_routes() {
  "$BYOC" table create --table "$TABLE" >/dev/null 2>&1 || true
  "$BYOC" routes import "$TMP/routes.json" --table "$TABLE" >/dev/null
}

# The outage: 3 s in, stop the server for 6 s, restart it empty, re-import the routes.
outage() {
  sleep 3
  echo "   [fault] $(date +%T) stopping the DynamoDB server"
  ./infra/moto.sh stop "$PORT"
  sleep 6
  echo "   [fault] $(date +%T) restarting it (empty)"
  ./infra/moto.sh start "$PORT" >/dev/null
  import_routes
  echo "   [fault] $(date +%T) routes re-imported"
}

status=0
echo "== 1. byoc serve, route file: $REQUESTS calls at concurrency $CONCURRENCY"
start_serve --routes "$TMP/routes.json"
"$LOAD" serve "$URL" --requests "$REQUESTS" --concurrency "$CONCURRENCY" --numbers "$TMP/numbers.txt" \
  | grep -v '^  ' || status=1
stop_serve

./infra/moto.sh start "$PORT" >/dev/null
import_routes
export STORE_TIMEOUT_MS=250 ROUTE_CACHE_TTL_SECONDS=5 DEFAULT_ROUTE_URL="https://example.com/fallback"

echo "== 2. byoc serve --table (Lambda call path), DynamoDB stopped and restarted mid-run"
start_serve --table "$TABLE"
outage &
OUTAGE=$!
"$LOAD" serve "$URL" --requests "$FAULT_REQUESTS" --concurrency "$CONCURRENCY" --numbers "$TMP/numbers.txt" || status=1
wait "$OUTAGE"
stop_serve

echo "== 3. $INSTANCES inbound Lambda binaries (ROUTES_TABLE), DynamoDB stopped and restarted mid-run"
outage &
OUTAGE=$!
"$LOAD" lambda "$INSTANCES" --requests "$FAULT_REQUESTS" --numbers "$TMP/numbers.txt" \
  --env "ROUTES_TABLE=$TABLE" --env "AWS_ENDPOINT_URL_DYNAMODB=$AWS_ENDPOINT_URL_DYNAMODB" \
  --env AWS_ACCESS_KEY_ID=test --env AWS_SECRET_ACCESS_KEY=test \
  --env "STORE_TIMEOUT_MS=$STORE_TIMEOUT_MS" --env "ROUTE_CACHE_TTL_SECONDS=$ROUTE_CACHE_TTL_SECONDS" \
  --env "DEFAULT_ROUTE_URL=$DEFAULT_ROUTE_URL" || status=1
wait "$OUTAGE"

[ "$status" = 0 ] && echo "OK: every request got TwiML" || echo "FAILED: some requests did not get TwiML"
exit "$status"
