#!/usr/bin/env bash
# The README's run command: sets everything up on a fresh Debian/Ubuntu
# machine and runs serial-vault on its embedded defaults (SQLite and a
# SoftHSM2 token in ./data), with a demo brand and model created on the
# first run. Prints the command that registers a demo device against it.
#
#   scripts/run.sh [DATA_DIR]      (default ./data; SERIAL_VAULT_DATA_DIR also works)
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-${SERIAL_VAULT_DATA_DIR:-./data}}"

scripts/install.sh
node dist/src/cli/main.js init --data-dir "$data" --demo
exec node dist/src/cli/main.js serve --data-dir "$data"
