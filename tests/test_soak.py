"""A short run of the soak benchmark (tests/bench/soak.py): dashboards opening and
closing /events streams and ordinary clients at once, under the shipped gunicorn
config. rfapi never holds more MariaDB connections than workers x pool_size x 2, and
no request is answered with a 5xx (or any other non-2xx). No timing is asserted."""
from __future__ import annotations

from tests.bench import soak


def test_short_soak_stays_within_the_connection_bound_without_errors(tmp_path):
    r = soak.run(seconds=4, streams=60, burst=60, concurrency=24, n_dashboards=20, n_clients=8, workdir=tmp_path)
    soak.report(r)
    assert (r["workers"], r["pool_size"], r["bound"]) == (2, 6, 24)
    assert 0 < r["most_connections"] <= r["bound"], r
    assert r["streams_accepted"] == 60 and r["dashboard_streams_opened"] >= 20
    assert r["non_2xx"] == [] and r["server_errors"] == 0
    assert {t["route"] for t in r["routes"]} == {name for name, *_ in soak.ROUTES} | {
        "GET /dids (burst)", "GET /events (open)"}
