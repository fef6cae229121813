#!/usr/bin/env bash
# Assembles the snap's tree by hand (what snap/snapcraft.yaml builds with
# snapcraft, which cannot run here) and packs it with `snap pack` (Debian's
# snapd package, offline). The runtime is the build machine's node; real
# builds take Node 22 LTS as snapcraft.yaml says.
#
#   scripts/build-snap.sh [--prebuilt] [OUT_DIR]   default build/snap; prints the .snap path
#   --prebuilt: use dist/ as it is (the test suite builds once, before it runs)
set -euo pipefail
cd "$(dirname "$0")/.."
prebuilt=no
if [[ "${1:-}" == "--prebuilt" ]]; then prebuilt=yes; shift; fi
out="$(mkdir -p "${1:-build/snap}" && cd "${1:-build/snap}" && pwd)"
prime="$out/prime"
for tool in snap mksquashfs; do
  command -v "$tool" >/dev/null || { echo "build-snap: $tool not found: run scripts/setup-system.sh --test" >&2; exit 1; }
done

echo "build-snap: assembling $prime" >&2
rm -rf "$prime"
mkdir -p "$prime/meta/hooks" "$prime/bin" "$prime/app" "$prime/usr/lib/softhsm"
[[ "$prebuilt" == yes ]] || npm run --silent build
cp -a package.json package-lock.json dist hsm systemd README.md "$prime/app/"
cp -a node_modules "$prime/app/"
(cd "$prime/app" && npm prune --omit=dev --no-audit --no-fund --loglevel=error >/dev/null 2>&1)
rm -rf "$prime/app/package-lock.json" "$prime/app/dist/test"
cp "$(readlink -f "$(command -v node)")" "$prime/bin/node"
softhsm="$(node -e "import('./dist/src/keystore/pkcs11/module-path.js').then(m => console.log(m.findSoftHsmModule() ?? ''))")"
[[ -n "$softhsm" ]] || { echo "build-snap: SoftHSM2 not found: run scripts/setup-system.sh" >&2; exit 1; }
cp "$softhsm" "$prime/usr/lib/softhsm/libsofthsm2.so"
install -m 755 snap/local/serial-vault snap/local/serial-vault-daemon snap/local/serial-vault-keymgr "$prime/bin/"
install -m 755 snap/hooks/install snap/hooks/configure "$prime/meta/hooks/"
node scripts/snap-yaml.mjs snap/snapcraft.yaml > "$prime/meta/snap.yaml"

echo "build-snap: snap pack" >&2
snap pack --check-skeleton "$prime" >&2
snap pack --compression=lzo "$prime" "$out" | sed -n "s/^built: //p"
