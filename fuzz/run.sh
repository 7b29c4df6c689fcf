#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each (default 600), one after another,
# seeded from fuzz/seeds/<target>. Needs the nightly toolchain and cargo-fuzz:
#   rustup toolchain install nightly && cargo install cargo-fuzz
# Crashes land in fuzz/artifacts/<target>/; copy each into the target's regression test.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${SECONDS_PER_TARGET:-600}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(number params route_file signature)
cargo +nightly fuzz build -O "${targets[@]/#/}" >/dev/null 2>&1 || cargo +nightly fuzz build -O
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
  echo "== $t: ${seconds}s"
  cargo +nightly fuzz run -O "$t" "corpus/$t" -- -max_total_time="$seconds" -max_len=4096 \
    -print_final_stats=1 2>&1 | tee "corpus/$t.log" | grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss|==.*ERROR|SUMMARY|Done )" || true
  if ls "artifacts/$t"/crash-* >/dev/null 2>&1; then echo "!! $t: crashes in fuzz/artifacts/$t"; fi
done
