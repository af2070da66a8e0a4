"""The physical limit for /test: a bare Flask app answering GET /api/v1/test with the
same envelope bytes rfapi sends, served by gunicorn with the same settings.

No auth, no parameter validation, no request id, no access log line: what is
left is Flask + gunicorn + JSON. ``gunicorn -c deploy/gunicorn.conf.py tests.bench.bare_app:app``
"""
from __future__ import annotations

import json

from flask import Flask, Response, request

app = Flask(__name__)


@app.route("/api/v1/test", methods=["GET", "POST", "PUT", "DELETE"])
def test():
    body = json.dumps({"status": 200, "message": "OK", "data": {"method": request.method}},
                      ensure_ascii=False, separators=(",", ":"))
    return Response(body, status=200, mimetype="application/json")
