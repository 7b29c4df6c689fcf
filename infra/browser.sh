#!/usr/bin/env bash
# Headless Chromium and chromedriver from Debian for the console's browser tests.
#
#   infra/browser.sh install    apt-get install chromium chromium-driver (once; needs root)
set -euo pipefail
case "${1:-}" in
  install)
    if command -v chromedriver >/dev/null && [ -x /usr/bin/chromium ]; then exit 0; fi
    as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || {
      as_root apt-get update -q >/dev/null
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null
    }
    ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac
