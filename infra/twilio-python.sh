#!/usr/bin/env bash
# twilio-python's own RequestValidator, for tests that sign requests exactly as Twilio's helper
# library does (shared-key HMAC-SHA256 included). Installs the pinned wheel, without its
# dependencies (the validator needs only the standard library), into infra/.venv-twilio once,
# then prints the path of that virtualenv's python.
#
#   infra/twilio-python.sh      install if needed; print the python to run
set -euo pipefail
cd "$(dirname "$0")"
VENV="${BYOC_TWILIO_VENV:-$PWD/.venv-twilio}"
SPEC="${BYOC_TWILIO_SPEC:-twilio==9.13.0}"
mkdir -p "$VENV"
# Several test processes may ask at once: one installs, the others wait.
exec 9>"$VENV/.install.lock"
flock 9
if ! "$VENV/bin/python" -c 'import twilio.request_validator' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps "$SPEC" >&2
fi
flock -u 9
echo "$VENV/bin/python"
