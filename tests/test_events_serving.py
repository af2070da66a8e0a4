"""GET /events as a PBX serves it: the shipped gunicorn config (2 workers, gthread with
room for the streams) behind the real Apache with the shipped snippet. Events and
heartbeats arrive unbuffered and uncompressed (even with mod_deflate told to compress
text/event-stream), a write in one worker reaches the streams of both, ordinary
requests are served while many streams are open, and a stopping worker ends its
streams with a final event instead of holding on for graceful_timeout."""
from __future__ import annotations

import time

from tests.support.procs import free_port
from tests.support.sse import Stream
from tests.test_apache import SNIPPET_MODULES, Apache, render_snippet, shared_dir, stack  # noqa: F401
from tests.test_gunicorn import AUTH, request, start_gunicorn


def _tokens(streams):
    out = []
    for s in streams:
        f = s.next(10)
        assert f is not None and f.get("retry") == "3000", f
        out.append(f.comments[0].split()[-1])
    return out


def test_stream_through_apache_unbuffered_uncompressed_and_across_workers(pbx_rw, tmp_path, stack):  # noqa: F811
    pbx = pbx_rw
    pbx.ini.write_text(pbx.ini.read_text().replace("[api]\n", "[api]\nevents_heartbeat = 0.5\n", 1))
    sdir = shared_dir()
    stack.append(sdir)
    sock = sdir / "rfapi.sock"
    bind = "unix:%s" % sock
    g = start_gunicorn(pbx.ini, tmp_path / "gunicorn.log", bind, wait_for=str(sock))
    stack.append(g)
    port = free_port()
    # A PBX's Apache may compress by type: tell it to compress event streams and JSON.
    deflate = "AddOutputFilterByType DEFLATE text/event-stream application/json\n"
    apache = Apache(tmp_path / "apache", sdir / "htdocs", ["127.0.0.1:%d" % port], deflate + render_snippet(bind),
                    modules=SNIPPET_MODULES + ("filter", "deflate"))
    stack.append(apache.start())
    via = ("127.0.0.1", port)
    gz = dict(AUTH, **{"Accept-Encoding": "gzip"})

    # The compression rule is live for ordinary answers...
    r = request(via, "GET", "/api/v1/extensions", gz)
    assert r.status == 200 and r.headers.get("content-encoding") == "gzip", r.headers

    # ...not for the stream. Open streams until both workers serve some (their tokens differ).
    # (The second worker may still be loading the app when the first answers: keep trying a while.)
    streams, tokens = [], []
    deadline = time.monotonic() + 30
    while len(set(tokens)) < 2:
        assert time.monotonic() < deadline, "every stream went to one worker: %r" % tokens
        batch = [Stream(via, "/api/v1/events?types=config", headers=gz) for _ in range(2)]
        streams += batch
        tokens += _tokens(batch)
        time.sleep(0.2)
    for s in streams:
        assert s.status == 200 and s.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in s.headers
    try:
        # Heartbeats (a few bytes each) come through one by one: nothing holds them back.
        f = streams[0].next(5)
        assert f.comments == ["heartbeat"], f
        second = streams[0].next(5)
        assert second.comments == ["heartbeat"] and second.at - f.at < 2.5

        # Ordinary requests are served meanwhile, by either worker.
        for _ in range(10):
            assert request(via, "GET", "/api/v1/test", AUTH).status == 200

        # A write handled by one worker reaches the streams of both, through Apache.
        t0 = time.monotonic()
        r = request(via, "POST", "/api/v1/pbx/framework/needreload", AUTH)
        assert r.status == 200, r.body
        for s in streams:
            ev = s.until(lambda f: f.event == "config", timeout=10)
            assert (ev.data["what"], ev.data["action"], ev.data["needreload"]) == ("needreload", "changed", True)
            assert ev.id.split("-")[0] in tokens
            assert ev.at - t0 < 5
        assert "content-encoding" not in streams[0].headers

        # Stopping: the workers end their streams with a final event at once
        # (graceful_timeout is 330 s; Process.stop would SIGKILL after 15 s).
        t0 = time.monotonic()
        g.stop()
        assert time.monotonic() - t0 < 12
        for s in streams:
            last = s.until(lambda f: f.event == "dropped", timeout=5)
            assert "server is stopping" in last.data["reason"]
    finally:
        for s in streams:
            s.close()
