#!/usr/bin/env bash
# README command 2: the whole test suite against a real MariaDB (throwaway databases).
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/setup-dev.sh
exec .venv/bin/python -m pytest -q "$@"
