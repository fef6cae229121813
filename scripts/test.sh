#!/usr/bin/env bash
# The README's test command: sets everything up on a fresh Debian/Ubuntu
# machine and runs every check and test (type check, lint, dependency
# direction, unit, HSM and integration suites).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install.sh --test
npm test
