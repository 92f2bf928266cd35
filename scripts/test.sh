#!/usr/bin/env bash
# Run the test suite: bootstrap the machine (venv, Debian's Chromium and SoftHSM2, the
# servers the failover tests start: redis-server, PostgreSQL, HAProxy), then pytest.
# Arguments go to pytest unchanged, e.g. scripts/test.sh -q -k logout
# Tests run in one process per core (pytest-xdist), a test file's tests in one process,
# files in the order tests/conftest.py sorts them (longest first); IDP_TEST_WORKERS sets
# how many processes (0: all in this one, as plain pytest).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/bootstrap.sh --browser --softhsm --failover

rc=0
.venv/bin/python -m pytest -n "${IDP_TEST_WORKERS:-auto}" --dist loadfile --no-loadscope-reorder "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
    # pytest's "no tests collected": a run that tested nothing must not pass.
    echo "pytest collected no tests" >&2
fi
exit "$rc"
