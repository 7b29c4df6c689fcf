#!/usr/bin/env bash
# Runs every fuzz target (or those named), one after another, seeded from fuzz/seeds/<target>:
# for SECONDS_PER_TARGET seconds each (default 600), or, with RUNS=N, to N executions each (the
# depth runs of docs/hardening.md: RUNS=10000000 SANITIZER=none). SANITIZER (default address)
# is cargo-fuzz's -s: byoc-core has no unsafe code, so `none` loses little and runs 3-5x faster.
# Needs the nightly toolchain and cargo-fuzz:
#   rustup toolchain install nightly && cargo install cargo-fuzz
# Crashes land in fuzz/artifacts/<target>/; copy each into the target's regression test.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${SECONDS_PER_TARGET:-600}
sanitizer=${SANITIZER:-address}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(number params route_file signature settings)
if [ -n "${RUNS:-}" ]; then
  limit=(-runs="$RUNS" -max_total_time=14400)
else
  limit=(-max_total_time="$seconds")
fi
cargo +nightly fuzz build -O -s "$sanitizer" >/dev/null
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
  echo "== $t: ${RUNS:-$seconds s} (sanitizer $sanitizer)"
  start=$(date +%s)
  marker=$(mktemp)
  cargo +nightly fuzz run -O -s "$sanitizer" "$t" "corpus/$t" -- "${limit[@]}" -max_len=4096 \
    -print_final_stats=1 2>&1 | tee "corpus/$t.log" | grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss|==.*ERROR|SUMMARY|Done )" || true
  echo "== $t: $(( $(date +%s) - start )) s, corpus $(find "corpus/$t" -type f | wc -l) inputs, $(du -sh "corpus/$t" | cut -f1)"
  # Only this run's: older artifacts stay as the regression inputs they became.
  if [ -n "$(find "artifacts/$t" -name 'crash-*' -newer "$marker" 2>/dev/null)" ]; then
    echo "!! $t: new crashes in fuzz/artifacts/$t"
  fi
  rm -f "$marker"
done
