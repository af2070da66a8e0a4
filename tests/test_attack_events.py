"""GET /events against hostile input: values holding CR/LF (or other line breaks) can
never end or forge an SSE frame, and bad Last-Event-ID, types or extension are a 400
naming the field before any stream is opened."""
from __future__ import annotations

import json

import pytest

from rfapi.services import events as svc
from tests.support.world import body

EVIL = 'Mallory\r\n\r\nevent: config\ndata: {"forged":true}\n\nid: x\r\u2028\u2029\x85\x00'


def subscribers(h) -> int:
    n = h.subscribers
    return n() if callable(n) else n


def frames(text: str):
    """SSE frames as the spec parses them: lines end at CR, LF or CRLF; a blank line ends a frame."""
    out, cur = [], []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line == "":
            if cur:
                out.append(cur)
            cur = []
        else:
            cur.append(line)
    return out


def test_a_value_with_line_breaks_stays_inside_one_data_line(pbx):
    with pbx.app.app_context():
        h = svc.hub()
    seq = h.publish("calls", {"call": "start", "caller_name": EVIL, EVIL: "key too"}, ["101"])
    text = h._buf[-1].text.decode("utf-8")
    got = frames(text)
    assert len(got) == 1, text
    assert [ln.split(":", 1)[0] for ln in got[0]] == ["id", "event", "data"]
    assert got[0][0] == "id: %s-%d" % (h.origin, seq) and got[0][1] == "event: calls"
    data = json.loads(got[0][2][len("data: "):])
    assert data["caller_name"] == EVIL and data[EVIL] == "key too"
    assert all(c not in text[:-2] for c in "\r\u2028\u2029\x85\x00")  # only the frame's own LFs


def test_a_control_frame_with_line_breaks_in_its_reason_stays_one_frame(pbx):
    with pbx.app.app_context():
        h = svc.hub()
    text = h.control("resync", EVIL).decode("utf-8")
    got = frames(text)
    assert len(got) == 1 and [ln.split(":", 1)[0] for ln in got[0]] == ["id", "event", "data"]
    assert json.loads(got[0][2][len("data: "):])["reason"] == EVIL


@pytest.mark.parametrize("value", ["x" * 101, "abc\x01-1", "caf\u00e9-1", "\x7f"])
def test_a_malformed_last_event_id_is_400_naming_it(pbx, value):
    with pbx.app.app_context():
        h = svc.hub()
    before = subscribers(h)
    r = pbx.get("events", headers={"Last-Event-ID": value})
    assert r.status_code == 400, r.get_data(as_text=True)
    assert body(r)["data"]["errors"] == {
        "Last-Event-ID": "must be an event id from this stream (at most 100 printable ASCII characters)"}
    assert subscribers(h) == before  # no stream slot was taken


@pytest.mark.parametrize("query,errors", [
    ("types=calls,nope", {"types": "unknown type 'nope' (allowed: %s)" % ", ".join(svc.TYPES)}),
    ("types=,", {"types": "unknown type '' (allowed: %s)" % ", ".join(svc.TYPES)}),
    ("types=calls&types=state", {"types": "given more than once"}),
    ("types=calls%0d%0aX-Evil:%201", {"types": "must not contain control characters (CR, LF, NUL, ...)"}),
    ("extension=101,abc", {"extension": "'abc' is not an extension number"}),
    ("extension=101;102", {"extension": "'101;102' is not an extension number"}),
    ("extension=" + ",".join(["1"] * 1001), {"extension": "at most 1000 extensions"}),
    ("extension=1%0a2", {"extension": "must not contain control characters (CR, LF, NUL, ...)"}),
    ("extension=101&nope=1", {"nope": "unknown parameter"}),
])
def test_bad_filters_are_400_naming_the_field(pbx, query, errors):
    with pbx.app.app_context():
        h = svc.hub()
    before = subscribers(h)
    r = pbx.get("events?" + query)
    assert r.status_code == 400, r.get_data(as_text=True)
    assert body(r)["data"]["errors"] == errors
    assert subscribers(h) == before
