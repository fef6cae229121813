#!/usr/bin/env bash
# The README's run command: sets everything up on a fresh Debian/Ubuntu
# machine and starts serial-vault on its embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install.sh
exec node dist/src/cli/main.js "${@:---help}"
