"""What checking an API token on every request costs (docs/tokens.md).

    .venv/bin/python -m tests.bench.tokens [--requests 20000]

In one process, no database (GET /test never reads one):

* the token check alone (``Tokens.verify``: parse, one SELECT by id on the
  SQLite file, SHA-256 and a constant-time compare), among 51 tokens;
* the same SELECT alone;
* a whole request (Flask test client, GET /test) with Basic (the config API
  user) and with a Bearer token.

Prints microseconds per call (median of 5 rounds)."""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rfapi import create_app
from rfapi.adapters.tokenstore import TokenStore
from rfapi.services.tokens import Tokens
from tests.support.world import basic

PASSWORD = "bench-api-password-0123456789"


def _per_call(fn, n: int) -> float:
    rounds = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        rounds.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(rounds)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20000)
    args = ap.parse_args(argv)
    n = args.requests
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ini = root / "rfapi.ini"
        ini.write_text("[api]\npassword = %s\n[database]\nhost = 127.0.0.1\nport = 1\n[paths]\ncache = %s\n"
                       "state = %s\n" % (PASSWORD, root / "cache", root / "state"))
        tokens = Tokens(TokenStore(str(root / "state")))
        for i in range(50):  # a realistic handful of tokens besides the one used
            tokens.create("client %d" % i, ["read"])
        made = tokens.create("bench", ["read"])["token"]
        check = _per_call(lambda: tokens.verify(made), n)
        tid = made.split("_")[1]
        store = tokens.store
        one_row = _per_call(lambda: store._run("SELECT id, name, scopes, digest FROM token WHERE id = ?",
                                               (tid,)).fetchone(), n)

        app = create_app(str(ini))
        client = app.test_client()
        hb = basic("api", PASSWORD)
        ht = {"Authorization": "Bearer " + made}
        assert client.get("/api/v1/test", headers=hb).status_code == 200
        assert client.get("/api/v1/test", headers=ht).status_code == 200
        req_basic = _per_call(lambda: client.get("/api/v1/test", headers=hb), n // 4)
        req_bearer = _per_call(lambda: client.get("/api/v1/test", headers=ht), n // 4)

    print("token check (Tokens.verify), read from SQLite each time  %8.1f us" % check)
    print("of which the SELECT by id                               %8.1f us" % one_row)
    print("GET /test, Basic (config API user)                      %8.1f us" % req_basic)
    print("GET /test, Bearer                                       %8.1f us" % req_bearer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
