#!/usr/bin/env bash
# Cold start and peak RSS of the release Lambda binaries vs a hello-world lambda_http binary
# built the same way, on the repo's Runtime API emulator.
#
#   infra/bench/coldstart.sh [STARTS=25] [INVOCATIONS=2000]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet --workspace --bins
cargo build --release --quiet -p byoc-web --example hello_lambda --features lambda
./infra/moto.sh install
./target/release/lambda-bench "${1:-25}" "${2:-2000}"
echo "release binary sizes (stripped):"
ls -l target/release/inbound target/release/outbound target/release/byoc target/release/examples/hello_lambda \
  | awk '{printf "  %-40s %6.2f MB\n", $9, $5/1048576}'
