#!/usr/bin/env bash
# Installs the system packages serial-vault needs on Debian or Ubuntu.
# Idempotent: packages already present are not touched. Needs root (or sudo).
#
#   scripts/setup-system.sh          runtime packages (SoftHSM2, the embedded HSM)
#   scripts/setup-system.sh --test   runtime and test packages (PKCS#11 tools as test oracles)
set -euo pipefail

runtime=(softhsm2 squashfs-tools)  # squashfs-tools: unsquashfs reads meta/snap.yaml of uploads
test_only=(gnutls-bin opensc postgresql postgresql-common systemd snapd chromium curl)

want=("${runtime[@]}")
if [[ "${1:-}" == "--test" ]]; then want+=("${test_only[@]}"); fi

missing=()
for pkg in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup-system: all system packages present (${want[*]})"
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "setup-system: apt-get not found; install these packages by hand: ${missing[*]}" >&2
  exit 1
fi

sudo=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null; then sudo=(sudo); else
    echo "setup-system: run as root (or install sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi

echo "setup-system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup-system: done"
