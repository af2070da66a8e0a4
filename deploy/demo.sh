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
# As deploy/gunicorn.conf.py: 2 workers x 128 = 256 /events streams for the box, and room in
# every worker for all of them (the kernel does not spread streams evenly) + 4 request threads.
RFAPI_CONFIG="$ROOT/rfapi.ini" RFAPI_EVENT_STREAMS=128 RFAPI_EVENT_CAPACITY=256 .venv/bin/gunicorn \
    --bind 127.0.0.1:8080 --workers 2 --threads 260 'rfapi:create_app()'
