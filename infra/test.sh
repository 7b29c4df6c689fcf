#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, then every unit and end-to-end test.
# Works on a fresh machine with only the Rust toolchain; it starts (and stops) whatever the tests
# need.
set -euo pipefail
cd "$(dirname "$0")/.."

if cargo fmt --version >/dev/null 2>&1; then
  cargo fmt --all --check
else
  echo "test.sh: rustfmt is not installed; skipping the format check" >&2
fi
if cargo clippy --version >/dev/null 2>&1; then
  cargo clippy --workspace --all-targets --locked -- -D warnings
else
  echo "test.sh: clippy is not installed; skipping lints" >&2
fi

# The SAM template must lint clean (cfn-lint, in its own virtualenv).
./infra/lint-template.sh

# The DynamoDB-API server the store tests start (each test starts its own on a free port).
./infra/dynamodb-local.sh install

# The end-to-end tests run these binaries; building them first keeps the tests' own
# `cargo build --workspace --bins` a no-op.
cargo build --workspace --bins --locked
cargo test --workspace --locked
