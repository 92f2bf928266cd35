#!/usr/bin/env bash
# Prepare a development machine (fresh Debian 12 with Python 3.11, pip and apt):
#   * create .venv and install the project with its test extras;
#   * --browser: install Debian's Chromium (used by the Playwright end-to-end tests);
#   * --softhsm: install SoftHSM 2 (PKCS#11 token for the HSM-backed signing keys);
#   * --failover: install the servers the failover and load-balancer tests start on their
#     own (Debian's redis-server, which also runs as a sentinel; the PostgreSQL server
#     binaries: initdb, pg_ctl, pg_basebackup; HAProxy).
#   * Node.js and, from tests/rp/package-lock.json, panva's openid-client (the FAPI 2.0
#     relying party of the tests).
# Safe to run repeatedly: every step is skipped when its result is already present.
set -euo pipefail

usage() {
    echo "usage: $0 [--browser] [--softhsm] [--failover]" >&2
    exit 2
}

want_browser=0
want_softhsm=0
want_failover=0
for arg in "$@"; do
    case "$arg" in
        --browser) want_browser=1 ;;
        --softhsm) want_softhsm=1 ;;
        --failover) want_failover=1 ;;
        -h | --help) usage ;;
        *) echo "unknown option: $arg" >&2; usage ;;
    esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo_root=$(pwd)
venv="$repo_root/.venv"

step() {
    echo "==> $*"
}

# Run a noisy command with its output kept in a temporary file, shown only on failure,
# so a normal run prints one line per step but a failure still explains itself.
quiet() {
    local log rc=0
    log=$(mktemp)
    "$@" >"$log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        cat "$log" >&2
        echo "command failed (exit $rc): $*" >&2
    fi
    rm -f "$log"
    return "$rc"
}

# Install Debian packages as root (directly or through sudo).
apt_updated=0
apt_install() {
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "need root (or sudo) to install: $*" >&2
            exit 1
        fi
        sudo=(sudo)
    fi
    if [ "$apt_updated" -eq 0 ]; then
        step "apt-get update"
        quiet "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
        apt_updated=1
    fi
    step "installing Debian packages: $*"
    quiet "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "$@"
}

# --- Python ---------------------------------------------------------------------------
if [ ! -x "$venv/bin/python" ]; then
    step "creating virtualenv in .venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        # Debian's python3 ships venv (ensurepip) in a separate package.
        rm -rf "$venv"
        apt_install "python3-venv"
        quiet python3 -m venv "$venv"
    fi
fi

# Re-install only when the project metadata changed since the last successful install
# (pip install -e takes several seconds even when nothing is to be done).
stamp="$venv/.bootstrap-pyproject.sha256"
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ] \
    || ! "$venv/bin/python" -m pip show --quiet vn-sso-idp >/dev/null 2>&1; then
    step "installing Python packages (pip install -e .[test,examples])"
    quiet "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test,examples]"
    echo "$wanted" >"$stamp"
fi

# --- Debian packages ------------------------------------------------------------------
apt_packages=()
if [ "$want_browser" -eq 1 ] && [ ! -x /usr/bin/chromium ]; then
    # Debian's own build: `playwright install` downloads a browser from a CDN that this
    # network does not reach, so Playwright is pointed at /usr/bin/chromium instead.
    apt_packages+=(chromium)
fi
if [ "$want_softhsm" -eq 1 ] && ! command -v softhsm2-util >/dev/null 2>&1; then
    apt_packages+=(softhsm2)
fi

if [ "$want_failover" -eq 1 ]; then
    command -v redis-server >/dev/null 2>&1 || apt_packages+=(redis-server)
    # The server binaries, wherever the installed major version keeps them.
    compgen -G "/usr/lib/postgresql/*/bin/pg_basebackup" >/dev/null || apt_packages+=(postgresql)
    command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || apt_packages+=(haproxy)
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    # The FAPI 2.0 tests drive panva's openid-client (tests/rp); Debian's Node.js is 18 on
    # Debian 12, where those tests are skipped saying so (openid-client needs 20+).
    apt_packages+=(nodejs npm)
fi

if [ "${#apt_packages[@]}" -gt 0 ]; then
    apt_install "${apt_packages[@]}"
fi

# --- Node packages of the test relying party (tests/rp) ----------------------------------
node_stamp="tests/rp/node_modules/.bootstrap-lock.sha256"
node_wanted=$(sha256sum tests/rp/package-lock.json | cut -d' ' -f1)
if [ ! -f "$node_stamp" ] || [ "$(cat "$node_stamp")" != "$node_wanted" ]; then
    step "installing the test relying party's Node packages (npm ci in tests/rp)"
    if quiet npm ci --prefix tests/rp --no-audit --no-fund; then
        echo "$node_wanted" >"$node_stamp"
    else
        echo "npm ci failed: the openid-client tests will be skipped" >&2
    fi
fi

step "bootstrap done"
