#!/usr/bin/env bash
# Start the demo (IdP and the two relying-party portals); arguments go to `idp demo`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/bootstrap.sh
exec .venv/bin/idp demo "$@"
