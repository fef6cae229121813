#!/usr/bin/env bash
# The demo vault (as scripts/run.sh) with its dashboard at http://127.0.0.1:8081/,
# signed in through a local OpenID Connect provider that lets one demo person
# in without a password. For trying the dashboard only, never for production.
#
#   scripts/demo-dashboard.sh [DATA_DIR] [EMAIL]   (defaults ./data, admin@demo.test)
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-${SERIAL_VAULT_DATA_DIR:-./data}}"

scripts/install.sh
node dist/src/cli/main.js init --data-dir "$data" --demo
exec node dist/test/support/demo-dashboard.js "$data" "${2:-admin@demo.test}"
