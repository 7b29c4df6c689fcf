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

# The local servers the tests start, each on a free loopback port: Amazon's DynamoDB Local for
# every DynamoDB test, moto for the CloudFormation stacks `--stack` reads.
./infra/dynamodb-local.sh install
./infra/moto.sh install

# The end-to-end tests run these binaries; building them first keeps the tests' own
# `cargo build --workspace --bins` a no-op.
cargo build --workspace --bins --locked
cargo test --workspace --locked

# The console in a real browser: Debian's headless Chromium and chromedriver (tests/browser.rs).
# BYOC_BROWSER_TESTS=0 skips it.
if [ "${BYOC_BROWSER_TESTS:-1}" = 0 ]; then
  echo "test.sh: BYOC_BROWSER_TESTS=0: SKIPPING the browser tests of the console" >&2
else
  ./infra/browser.sh install
  cargo test --workspace --locked --test e2e browser:: -- --ignored
fi

# The deploy path as a user runs it: `sam validate --lint` and `sam build` exactly as the README
# says, then `sam local invoke` of every event and `sam local start-api` against the arm64
# artifacts in Docker (tests/sam.rs). infra/sam-local.sh installs and starts Docker, qemu and a
# pinned SAM CLI (needs root, as CI has) and stops them again. BYOC_SAM_TESTS=0 skips this part.
if [ "${BYOC_SAM_TESTS:-1}" = 0 ]; then
  echo "test.sh: BYOC_SAM_TESTS=0: SKIPPING the SAM tests (sam build, sam local invoke, start-api)" >&2
  exit 0
fi
trap './infra/sam-local.sh stop' EXIT
./infra/sam-local.sh start
./infra/sam-local.sh sam validate --lint
./infra/sam-local.sh sam build
# One at a time: SAM picks each container's port by probing, which two SAM processes can race for.
# `--workspace`: the same feature set as the build above, so nothing is rebuilt.
cargo test --workspace --locked --test e2e sam:: -- --ignored --test-threads=1
