#!/usr/bin/env bash
# Shared by the demo and the test command: make sure the system packages, MariaDB
# and the project's virtualenv (.venv) exist. Idempotent; needs root for apt.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in libmariadb-dev pkg-config mariadb-client mariadb-server python3-venv python3-dev gcc; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
    echo "setup: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
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
