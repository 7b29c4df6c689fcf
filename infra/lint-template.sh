#!/usr/bin/env bash
# template.yaml through cfn-lint and the checkov security scanner, each from its own virtualenv
# (infra/.venv-cfn, infra/.venv-checkov; created the first time). checkov runs offline
# (--skip-download); what it flags that does not apply is skipped beside the resource, in
# checkov's own metadata, with the reason. Both must report nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${BYOC_CFN_VENV:-$PWD/infra/.venv-cfn}"
if [ ! -x "$VENV/bin/cfn-lint" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'cfn-lint>=1,<2' >&2
fi
"$VENV/bin/cfn-lint" template.yaml
echo "cfn-lint: template.yaml clean"

CHECKOV_VENV="${BYOC_CHECKOV_VENV:-$PWD/infra/.venv-checkov}"
CHECKOV_SPEC="checkov==3.3.30"
if [ ! -x "$CHECKOV_VENV/bin/checkov" ] || [ "$(cat "$CHECKOV_VENV/.installed" 2>/dev/null)" != "$CHECKOV_SPEC" ]; then
  python3 -m venv "$CHECKOV_VENV"
  "$CHECKOV_VENV/bin/pip" install --quiet --disable-pip-version-check "$CHECKOV_SPEC" >&2
  echo "$CHECKOV_SPEC" >"$CHECKOV_VENV/.installed"
fi
# Exit status 1 on any failed check; the summary line and every failure are printed.
"$CHECKOV_VENV/bin/checkov" -f template.yaml --framework cloudformation --skip-download \
  --compact --quiet 2>&1 | grep -v "Failed to create a new template with enriched resources" ||
  { echo "checkov: template.yaml has failed checks (above)" >&2; exit 1; }
echo "checkov: template.yaml passes (0 failed; skips and their reasons are in template.yaml)"
