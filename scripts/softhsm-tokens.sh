#!/usr/bin/env bash
# Put the test PKI's signing keys on SoftHSM 2 tokens, the way a USB signing token holds
# them, for the USB-token tests and the demo:
#   scripts/softhsm-tokens.sh PKI_DIR
# PKI_DIR comes from `python -m connectors.testpki PKI_DIR`. One token per identity
# (labels citizen-rsa, citizen-ec, enterprise, agency), user PIN 123456, SO PIN 12345678.
# Everything lives in PKI_DIR/softhsm (its own softhsm2.conf and token directory) so no
# system-wide token is touched; use the tokens with
#   SOFTHSM2_CONF=PKI_DIR/softhsm/softhsm2.conf
# Each run starts from empty tokens. Needs softhsm2 (scripts/bootstrap.sh --softhsm).
set -euo pipefail

if [ "$#" -ne 1 ]; then
    echo "usage: $0 PKI_DIR" >&2
    exit 2
fi
pki_dir=$(cd "$1" && pwd)
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
module=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
user_pin=123456
so_pin=12345678
identities=(citizen-rsa citizen-ec enterprise agency)

if ! command -v softhsm2-util >/dev/null 2>&1 || [ ! -f "$module" ]; then
    echo "SoftHSM 2 is not installed; run scripts/bootstrap.sh --softhsm" >&2
    exit 1
fi
if [ ! -f "$pki_dir/manifest.json" ]; then
    echo "$pki_dir has no manifest.json; run: python -m connectors.testpki $pki_dir" >&2
    exit 1
fi
python="$repo_root/.venv/bin/python"
[ -x "$python" ] || python=python3

state="$pki_dir/softhsm"
echo "==> fresh SoftHSM token directory in $state"
rm -rf "$state"
mkdir -p "$state/tokens"
cat >"$state/softhsm2.conf" <<CONF
directories.tokendir = $state/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
export SOFTHSM2_CONF="$state/softhsm2.conf"

for label in "${identities[@]}"; do
    echo "==> initialising token $label"
    softhsm2-util --init-token --free --label "$label" \
        --pin "$user_pin" --so-pin "$so_pin" >/dev/null
done

echo "==> importing keys and certificates"
"$python" "$repo_root/scripts/softhsm_import.py" "$module" "$pki_dir" "$user_pin" \
    "${identities[@]}"
echo "==> done: SOFTHSM2_CONF=$SOFTHSM2_CONF, token list in $state/tokens.json"
