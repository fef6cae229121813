#!/usr/bin/env bash
# Creates (or checks) the SoftHSM2 token that serial-vault uses by default.
# Idempotent: an existing token with the label is left as it is once its
# user PIN opens it. PINs are read from files (created with random PINs when
# missing, mode 600) and never appear on a command line.
#
#   hsm/setup-token.sh DATA_DIR [LABEL]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="${1:?usage: hsm/setup-token.sh DATA_DIR [LABEL]}"
label="${2:-serial-vault}"

umask 077
mkdir -p "$data/tokens" "$data/secrets"
conf="$data/softhsm2.conf"
if [[ ! -f "$conf" ]]; then
  sed "s#@TOKEN_DIR@#$data/tokens#" "$here/softhsm2.conf.template" > "$conf"
fi
for pin in user-pin so-pin; do
  if [[ ! -s "$data/secrets/$pin" ]]; then
    head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 24 > "$data/secrets/$pin"
  fi
done

export SOFTHSM2_CONF="$conf"
node "$here/../dist/src/cli/main.js" hsm init-token --label "$label" \
  --pin-file "$data/secrets/user-pin" --so-pin-file "$data/secrets/so-pin"
echo "HSM URI: pkcs11:token=$label?pin-source=file:$data/secrets/user-pin"
echo "SOFTHSM2_CONF=$conf"
