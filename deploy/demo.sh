#!/usr/bin/env bash
# README command 1: the API on http://127.0.0.1:8080/api/v1 over a demo FreePBX
# database (rfapi_demo_*), a demo AMI peer (127.0.0.1:15038) and a fwconsole stand-in.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/setup-dev.sh
ROOT="${RFAPI_DEMO_ROOT:-/var/tmp/rfapi-demo}"
AMI_PORT="${RFAPI_DEMO_AMI_PORT:-15038}"
eval "$(.venv/bin/python -m tests.support.demo "$ROOT" "$AMI_PORT")"

.venv/bin/python -m tests.support.amipeer --host 127.0.0.1 --port "$AMI_PORT" --user admin --secret amp111 \
    --seed-json "$ROOT/ami-seed.json" > "$ROOT/amipeer.log" 2>&1 &
PEER=$!
trap 'kill $PEER 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 50); do grep -q listening "$ROOT/amipeer.log" 2>/dev/null && break; sleep 0.1; done

cat <<INFO

rfapi demo — API user: api   password: $DEMO_PASSWORD
  config: $ROOT/rfapi.ini      databases: rfapi_demo_asterisk, rfapi_demo_cdr
  curl -s -u 'api:$DEMO_PASSWORD' http://127.0.0.1:8080/api/v1/test
  curl -s -u 'api:$DEMO_PASSWORD' http://127.0.0.1:8080/api/v1/pbx/framework/needreload
  curl -s http://127.0.0.1:8080/api/v1/openapi.json | head -c 300
  curl -sN -u 'api:$DEMO_PASSWORD' http://127.0.0.1:8080/api/v1/events     # live events (Ctrl-C)
Ctrl-C stops it.

INFO
# Served exactly as on a PBX: deploy/gunicorn.conf.py (workers, threads, event
# streams, request-size limits that leave 414/431 to rfapi's JSON answer, logging).
# Only the bind differs: loopback TCP instead of the unix socket Apache uses.
RFAPI_CONFIG="$ROOT/rfapi.ini" RFAPI_BIND=127.0.0.1:8080 \
    .venv/bin/gunicorn --config deploy/gunicorn.conf.py 'rfapi:create_app()'
