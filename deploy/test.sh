#!/usr/bin/env bash
# README command 2: the whole test suite against a real MariaDB (throwaway databases).
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/setup-dev.sh
# Python's bytecode cache on, even where the environment turns it off: the suite starts
# hundreds of Python processes (workers, gunicorns, installs), and without the cache each
# compiles rfapi and the tests again (about 4.5 s of every worker's start).
unset PYTHONDONTWRITEBYTECODE
# The test worlds on tmpfs where the machine has room (a run writes ~130,000 files and
# folders of spool, sounds and recordings, and removes them again); a TMPDIR you set wins.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] \
        && [ "$(df -Pk /dev/shm | awk 'NR == 2 {print $4}')" -ge $((4 * 1024 * 1024)) ]; then
    export TMPDIR="/dev/shm/rfapi-tests-$(id -u)"
    mkdir -p "$TMPDIR"
fi
# Four workers by default: the tests mostly wait (servers starting, provoked
# timeouts), so they overlap well even on two cores; RFAPI_TEST_WORKERS=0 runs serially.
exec .venv/bin/python -m pytest -q -n "${RFAPI_TEST_WORKERS:-4}" --dist loadgroup "$@"
