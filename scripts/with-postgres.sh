#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster (Debian's pg_virtualenv):
# PGHOST, PGPORT, PGUSER, PGPASSWORD are set for it, and the cluster is
# removed afterwards. If PGHOST is already set, uses that server instead.
set -euo pipefail
if [[ -n "${PGHOST:-}" ]]; then exec "$@"; fi
if ! command -v pg_virtualenv >/dev/null; then
  echo "with-postgres: pg_virtualenv not found: run scripts/setup-system.sh --test" >&2
  exit 1
fi
exec pg_virtualenv -t -- "$@"
