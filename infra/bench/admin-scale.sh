#!/usr/bin/env bash
# The admin side at scale: N generated routes, each admin command's wall time and peak RSS,
# on a route file and on DynamoDB Local (release build).
#
#   infra/bench/admin-scale.sh N [file|dynamodb|both]
#   infra/bench/admin-scale.sh 100000
#   infra/bench/admin-scale.sh 1000000 file
#
# Prints one Markdown row per command: store, command, seconds, peak RSS (MB), and what was
# measured (routes/s for imports; the answer's size for the console). Loopback only; stops
# everything it started. Figures go into docs/performance.md ("The admin side at scale").
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${1:?usage: admin-scale.sh N [file|dynamodb|both]}"
STORES="${2:-both}"
export AWS_EC2_METADATA_DISABLED=true

cargo build --release --quiet --bin byoc
BYOC="$PWD/target/release/byoc"
TMP="$(mktemp -d)"
PIDS=()
DYNAMO_PORT=""
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -n "$DYNAMO_PORT" ] && infra/dynamodb-local.sh stop "$DYNAMO_PORT" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

# N routes: numbers under +1212, +1317 and +44, half redirects, half dials, with descriptions;
# and the catch-all.
python3 - "$N" "$TMP/routes.csv" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("pattern,action,url,number,description\n")
    for i in range(n):
        cc = ("+1212", "+1317", "+4420")[i % 3]
        if i % 2:
            f.write(f"{cc}{i:07d},dial,,+13175550{i % 1000:03d},dial {i}\n")
        else:
            f.write(f"{cc}{i:07d},redirect,https://example.com/r?n={i},,route {i}\n")
    f.write("*,redirect,https://example.com/default,,catch-all\n")
PY

# Runs a command, prints a row: seconds and peak RSS (GNU time), plus a note.
measure() {
  local store="$1" what="$2" note="$3"; shift 3
  /usr/bin/time -f "%e %M" -o "$TMP/time" "$@" >"$TMP/out" 2>"$TMP/err" || {
    echo "admin-scale: $what on $store failed:" >&2; tail -5 "$TMP/err" >&2; exit 1; }
  read -r secs kb <"$TMP/time"
  if [ "$note" = "rate" ]; then
    note="$(python3 -c "print(f'{$N / max($secs, 0.01):,.0f} routes/s')")"
  fi
  printf "| %s | %s | %s | %s | %s |\n" "$store" "$what" "$secs" "$((kb / 1024))" "$note"
}

# The console: start it, time the route list as the page asks for it, and its peak RSS.
console() {
  local store="$1"; shift
  "$BYOC" console --no-open --port 0 "$@" >"$TMP/console.out" 2>"$TMP/console.err" &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 600); do
    grep -q "console: http" "$TMP/console.out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$TMP/console.err" >&2; exit 1; }
    sleep 0.1
  done
  local url base token
  url="$(grep -o 'http://[^ ]*' "$TMP/console.out")"
  base="${url%%/#token=*}"
  token="${url##*#token=}"
  for path in "/api/routes" "/api/routes?text=route%2012345"; do
    local t
    t="$(curl -s -o "$TMP/answer" -w "%{time_total}" -H "Authorization: Bearer $token" "$base$path")"
    printf "| %s | console GET %s | %s | %s | %s bytes |\n" "$store" "$path" "$t" \
      "$(( $(awk '/VmHWM/ {print $2}' /proc/$pid/status) / 1024 ))" "$(stat -c %s "$TMP/answer")"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

echo "| store | command | seconds | peak RSS (MB) | note |"
echo "|---|---|---|---|---|"
if [ "$STORES" != "dynamodb" ]; then
  FILE="$TMP/routes.json"
  measure file "routes import (empty file)" rate "$BYOC" routes import "$TMP/routes.csv" --routes "$FILE"
  measure file "routes list" "" "$BYOC" routes list --routes "$FILE"
  measure file "routes export --format csv" "" "$BYOC" routes export --format csv --routes "$FILE"
  measure file "routes export --format json" "" "$BYOC" routes export --format json --routes "$FILE"
  measure file "routes resolve (load + one lookup)" "" "$BYOC" routes resolve +13170000002 --routes "$FILE"
  console file --routes "$FILE"
fi
if [ "$STORES" != "file" ]; then
  infra/dynamodb-local.sh install >/dev/null
  ENDPOINT="$(infra/dynamodb-local.sh start)"
  DYNAMO_PORT="${ENDPOINT##*:}"
  export AWS_ENDPOINT_URL_DYNAMODB="$ENDPOINT" AWS_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
  TABLE="bench-$N"
  "$BYOC" table create --table "$TABLE" >/dev/null 2>&1
  measure dynamodb "routes import (empty table)" rate "$BYOC" routes import "$TMP/routes.csv" --table "$TABLE"
  measure dynamodb "routes list" "" "$BYOC" routes list --table "$TABLE"
  measure dynamodb "routes export --format csv" "" "$BYOC" routes export --format csv --table "$TABLE"
  measure dynamodb "routes export --format json" "" "$BYOC" routes export --format json --table "$TABLE"
  console dynamodb --table "$TABLE"
fi
