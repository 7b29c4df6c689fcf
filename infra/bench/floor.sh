#!/usr/bin/env bash
# `byoc serve` against the bare-HTTP floor, side by side in one run (issue 20).
#
#   infra/bench/floor.sh [ROUNDS] [DURATION] [CONNECTIONS]     # defaults: 3 10s 32
#
# Builds the release `byoc` and the floor (crates/cli/examples/floor.rs: axum answering a fixed
# TwiML body), writes 1,000 routes and 200 signed requests (infra/bench/make_load.py), and drives
# each server in turn with `wrk -t1 -cCONNECTIONS`, alternating, ROUNDS times:
#   floor                     the fixed body
#   serve                     byoc serve, every request verified and routed, its call line logged
#                             (text, to a file: what a local operator runs)
#   serve-json                the same with the functions' JSON + EMF call line
#   serve-nolog               the same with RUST_LOG=warn: no call line
# Prints each run, then per server the median requests/s, p99 and server CPU per request (user +
# system time of the server process over the run, from /proc, divided by the requests answered)
# over the rounds, and the ratios to the floor. Requests/s depends on how the two cores are shared
# with wrk; CPU per request is what each server itself costs. `TOKIO_WORKER_THREADS=1
# infra/bench/floor.sh` gives every server one worker: each is then bound by its own CPU.
# Loopback only; stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS="${1:-3}"
DURATION="${2:-10s}"
CONNECTIONS="${3:-32}"
TOKEN="bench-auth-token"
BASE="https://bench.example.com"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --quiet --bin byoc
cargo build --release --quiet -p byoc-cli --example floor

TMP="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
python3 infra/bench/make_load.py 1000 "$TMP" "$TOKEN" "$BASE"

# start NAME COMMAND…: runs it in the background, waits for its "listening on" line.
start() {
  local name="$1"; shift
  "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  PIDS+=("$!")
  echo "$!" >"$TMP/$name.pid"
  for _ in $(seq 1 300); do
    grep -q "listening on" "$TMP/$name.out" 2>/dev/null && break
    sleep 0.1
  done
  grep -o 'http://127.0.0.1:[0-9]*' "$TMP/$name.out" >"$TMP/$name.url"
}
start floor ./target/release/examples/floor
export TWILIO_AUTH_TOKEN="$TOKEN" PUBLIC_BASE_URL="$BASE"
RUST_LOG=info start serve ./target/release/byoc serve --routes "$TMP/routes.json" --port 0
RUST_LOG=info start serve-json ./target/release/byoc serve --routes "$TMP/routes.json" --port 0 --log-format json
RUST_LOG=warn start serve-nolog ./target/release/byoc serve --routes "$TMP/routes.json" --port 0

# Sanity: the routed answer is 200 and TwiML.
for name in serve serve-json serve-nolog; do
  wrk -t1 -c1 -d1s -s "$TMP/requests.lua" "$(cat "$TMP/$name.url")" | grep -q "Non-2xx" &&
    { echo "$name answered non-2xx" >&2; exit 1; }
done

# The server's user + system CPU so far, in clock ticks (/proc/PID/stat fields 14 and 15).
ticks() { awk '{print $14 + $15}' "/proc/$(cat "$TMP/$1.pid")/stat"; }
HZ="$(getconf CLK_TCK)"

# wrk's latency as microseconds.
us() { awk '{v=$1; if (v ~ /us$/) {sub(/us/,"",v); print v} else if (v ~ /ms$/) {sub(/ms/,"",v); print v*1000} else {sub(/s/,"",v); print v*1000000}}' <<<"$1"; }
printf "%-12s %-6s %12s %10s %10s %12s %8s\n" server round "requests/s" "p50 µs" "p99 µs" "cpu µs/req" errors
for round in $(seq 1 "$ROUNDS"); do
  for name in floor serve serve-json serve-nolog; do
    BEFORE="$(ticks "$name")"
    OUT="$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$TMP/requests.lua" "$(cat "$TMP/$name.url")")"
    AFTER="$(ticks "$name")"
    RPS="$(awk '/Requests\/sec/ {print $2}' <<<"$OUT")"
    REQS="$(awk '/requests in/ {print $1}' <<<"$OUT")"
    CPU="$(awk -v t="$((AFTER - BEFORE))" -v hz="$HZ" -v n="${REQS:-0}" 'BEGIN {if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "nan"}')"
    P50="$(us "$(awk '$1=="50%" {print $2}' <<<"$OUT")")"
    P99="$(us "$(awk '$1=="99%" {print $2}' <<<"$OUT")")"
    ERR="$(awk '/Non-2xx|Socket errors/ {n++} END {print n+0}' <<<"$OUT")"
    printf "%-12s %-6s %12s %10s %10s %12s %8s\n" "$name" "$round" "$RPS" "$P50" "$P99" "$CPU" "$ERR"
    echo "$name $RPS $P99 $CPU" >>"$TMP/results"
  done
done
python3 - "$TMP/results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, rps, p99, cpu = line.split()
    runs.setdefault(name, []).append((float(rps), float(p99), float(cpu)))
med = {n: [statistics.median(r[i] for r in v) for i in range(3)] for n, v in runs.items()}
frps, fp99, fcpu = med["floor"]
print(f"\n{'server':<12} {'median req/s':>13} {'median p99 µs':>14} {'cpu µs/req':>11} {'× floor req/s':>14} {'× floor p99':>12} {'cpu over floor':>15}")
for name, (rps, p99, cpu) in med.items():
    print(f"{name:<12} {rps:>13.0f} {p99:>14.0f} {cpu:>11.1f} {rps / frps:>14.2f} {p99 / fp99:>12.2f} {cpu - fcpu:>+12.1f} µs")
PY
echo "call lines written: serve $(grep -c 'call answered' "$TMP/serve.err"), serve-json $(grep -c 'call answered' "$TMP/serve-json.err")"
