#!/usr/bin/env bash
# Load test of `byoc serve` (release build) with signed inbound requests driven by wrk.
#
#   infra/bench/load.sh [ROUTES] [DURATION] [CONCURRENCIES]
#   infra/bench/load.sh 1000 10s "1 16 64 256"
#   infra/bench/load.sh 1000000 10s "64"
#
# Prints requests/s, p50/p99 latency and errors per concurrency, then the server's peak RSS.
# Loopback only; stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUTES="${1:-1000}"
DURATION="${2:-10s}"
CONCURRENCIES="${3:-1 16 64 256}"
TOKEN="bench-auth-token"
BASE="https://bench.example.com"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --quiet --bin byoc

TMP="$(mktemp -d)"
SERVE_PID=""
cleanup() {
  [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

python3 infra/bench/make_load.py "$ROUTES" "$TMP" "$TOKEN" "$BASE"
TWILIO_AUTH_TOKEN="$TOKEN" PUBLIC_BASE_URL="$BASE" RUST_LOG=warn \
  ./target/release/byoc serve --routes "$TMP/routes.json" --port 0 >"$TMP/serve.out" 2>"$TMP/serve.err" &
SERVE_PID=$!
LOAD_START=$(date +%s.%N)
for _ in $(seq 1 600); do
  grep -q "listening on" "$TMP/serve.out" 2>/dev/null && break
  kill -0 "$SERVE_PID" 2>/dev/null || { cat "$TMP/serve.err"; exit 1; }
  sleep 0.1
done
URL="$(grep -o 'http://127.0.0.1:[0-9]*' "$TMP/serve.out")"
printf "byoc serve: %s routes loaded in %.1f s; RSS after load %s MB\n" "$ROUTES" \
  "$(echo "$(date +%s.%N) - $LOAD_START" | bc)" \
  "$(awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$SERVE_PID/status)"

# Sanity: one signed request must be answered 200 with TwiML.
wrk -t1 -c1 -d1s -s "$TMP/requests.lua" "$URL" >/dev/null

printf "%-12s %12s %10s %10s %8s\n" concurrency "requests/s" "p50" "p99" errors
for C in $CONCURRENCIES; do
  T=$(( C < 2 ? 1 : 2 ))
  OUT="$(wrk -t"$T" -c"$C" -d"$DURATION" --latency -s "$TMP/requests.lua" "$URL")"
  RPS="$(awk '/Requests\/sec/ {print $2}' <<<"$OUT")"
  P50="$(awk '$1=="50%" {print $2}' <<<"$OUT")"
  P99="$(awk '$1=="99%" {print $2}' <<<"$OUT")"
  NON2XX="$(awk '/Non-2xx/ {print $5}' <<<"$OUT")"
  SOCKET="$(awk '/Socket errors/ {s=0; for (i=1;i<=NF;i++) if ($i ~ /^[0-9]+,?$/) s+=$i; print s}' <<<"$OUT")"
  printf "%-12s %12s %10s %10s %8s\n" "$C" "$RPS" "$P50" "$P99" "$(( ${NON2XX:-0} + ${SOCKET:-0} ))"
done
printf "peak RSS (VmHWM) of byoc serve: %s MB\n" "$(awk '/VmHWM/ {printf "%.1f", $2/1024}' /proc/$SERVE_PID/status)"
