#!/usr/bin/env bash
# Shared by the demo and the test command: make sure the system packages, MariaDB
# and the project's virtualenv (.venv) exist. Idempotent; needs root for apt.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
# apache2 (+ openssl for test certificates): the Apache-in-front tests start their
# own private instance (tests/test_apache*.py).
for pkg in libmariadb-dev pkg-config mariadb-client mariadb-server python3-venv python3-dev gcc apache2 openssl; do
    # dpkg-query prints one line: no early-exiting grep, so no SIGPIPE under pipefail
    [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
    echo "setup: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Without systemd, installing apache2 would start the stock server on :80 via
    # invoke-rc.d; a temporary policy-rc.d (exit 101 = "action forbidden") stops
    # that. An existing policy-rc.d is left alone.
    policy=""
    if [ ! -d /run/systemd/system ] && [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    if [ -n "$policy" ]; then rm -f "$policy"; trap - EXIT; fi
    # With systemd the stock apache2 is now enabled on :80; the tests never use
    # it, so a dev box that did not have Apache before is not left serving one.
    if [[ " ${need[*]} " == *" apache2 "* ]] && [ -d /run/systemd/system ]; then
        systemctl disable --now apache2 >/dev/null 2>&1 || true
    fi
fi

# The real-Asterisk test tier (tests/realpbx) is opt-in: only where
# $RFAPI_REAL_ASTERISK names an Asterisk installation does it need the libraries
# an Asterisk 20 build links against, and SIPp for its phones (Debian: sip-tester).
if [ -n "${RFAPI_REAL_ASTERISK:-}" ]; then
    need=()
    for pkg in sip-tester libedit2 libjansson4 libxml2 libsqlite3-0 libuuid1 libssl3; do
        # dpkg-query prints one line: no SIGPIPE from an early grep exit under pipefail
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
    done
    if [ "${#need[@]}" -gt 0 ]; then
        echo "setup: installing ${need[*]} (real-Asterisk tier)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    fi
    if [ ! -x "$RFAPI_REAL_ASTERISK/sbin/asterisk" ] && [ ! -x "$RFAPI_REAL_ASTERISK/usr/sbin/asterisk" ]; then
        echo "setup: warning: no sbin/asterisk under RFAPI_REAL_ASTERISK=$RFAPI_REAL_ASTERISK" >&2
    fi
fi

db_up() { mariadb -h 127.0.0.1 -P 3306 -u root -e 'SELECT 1' >/dev/null 2>&1; }
if ! db_up; then
    echo "setup: starting MariaDB"
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
    for _ in $(seq 1 60); do db_up && break; sleep 1; done
    db_up || { echo "setup: MariaDB did not come up on 127.0.0.1:3306" >&2; exit 1; }
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
stamp=.venv/.rfapi-installed
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ]; then
    .venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
    .venv/bin/pip install -q -e '.[test]'
    touch "$stamp"
fi
