#!/usr/bin/env bash
# Installs everything serial-vault needs from a fresh clone: system packages
# (through setup-system.sh), then npm dependencies, then the build.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-system.sh "$@"

if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "install: npm ci"
  npm ci --no-audit --no-fund
else
  echo "install: npm dependencies up to date"
fi
npm run --silent build
