#!/usr/bin/env bash
# cfn-lint on template.yaml, from its own virtualenv (infra/.venv-cfn; created the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${BYOC_CFN_VENV:-$PWD/infra/.venv-cfn}"
if [ ! -x "$VENV/bin/cfn-lint" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'cfn-lint>=1,<2' >&2
fi
"$VENV/bin/cfn-lint" template.yaml
echo "cfn-lint: template.yaml clean"
