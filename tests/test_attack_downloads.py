"""Call recording and voicemail downloads against hostile names: traversal in every
spelling, symlinks inside the monitor folder pointing out of it, odd Range headers,
and files whose names would make a browser render them (never served as anything but
audio or an octet-stream attachment, with nosniff)."""
from __future__ import annotations

import datetime as dt

import pytest

from tests.support.world import body
from tests.test_cdr_recordings import insert, rec, recorded_rows
from tests.test_voicemail import folder, messages, spool_files

SECRET = b"RIFF-not-for-you"


@pytest.fixture
def outside(pbx_rw):
    p = pbx_rw
    secret = p.root / "secret.wav"
    secret.write_bytes(SECRET)
    day = p.monitor / "2024" / "03" / "07"
    day.mkdir(parents=True, exist_ok=True)
    (day / "in-5-6-20240307-090000-1.wav").symlink_to(secret)  # a link in the tree pointing out
    (p.monitor / "up").symlink_to(p.root, target_is_directory=True)
    return p, secret


NAMES = [
    "%2e%2e/secret.wav", "%2e%2e%2fsecret.wav", "..%2fsecret.wav", "..%252fsecret.wav", "....//secret.wav",
    "..\\secret.wav", "./../secret.wav", "2024/03/07/../../../../secret.wav", "2024/../../secret.wav",
    "~/secret.wav", "file:///etc/passwd", "//etc/passwd", "/etc/passwd", "/etc/../etc/passwd",
    "in-5-6-20240307-090000-1.wav", "2024/03/07/in-5-6-20240307-090000-1.wav", "up/secret.wav",
    "up/../secret.wav", "secret.wav\x00.wav", "\u2025/secret.wav", "..\u2215secret.wav", ". ./secret.wav",
]


def test_stored_names_in_every_traversal_spelling_are_not_on_disk(outside):
    p, secret = outside
    for name in NAMES + [str(secret), str(p.monitor) + "/../secret.wav", str(p.monitor) + "/up/secret.wav"]:
        uid = "1709800001.%d" % NAMES.index(name) if name in NAMES else "1709800002.%d" % len(name)
        insert(p, calldate=dt.datetime(2024, 3, 7, 9, 0, 0), uniqueid=uid, recordingfile=name)
        r = rec(p, uid)
        assert r.status_code == 404, name
        assert SECRET not in r.get_data()
        assert p.delete("cdr/%s/recording" % uid).status_code == 404, name
    assert secret.read_bytes() == SECRET


@pytest.mark.parametrize("uid", ["..%2F..%2Fetc%2Fpasswd", "%2e%2e", "..", "1709800000.1%00", "x" * 33])
def test_traversal_in_the_uniqueid_is_a_404_or_400(pbx, uid):
    r = rec(pbx, uid)
    assert r.status_code in (400, 404), uid
    assert r.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("header,status,span", [
    ("bytes=-0", 200, None), ("bytes=0-0", 206, (0, 1)), ("bytes=0-99999999999999999999", 206, (0, None)),
    ("bytes=99999999999999999999-", 416, None), ("bytes=5-2", 200, None), ("bytes= 0-1", 206, (0, 2)),
    ("items=0-1", 200, None), ("bytes=0-1\x00", 200, None), ("bytes=-99999999999999999999", 206, (0, None)),
])
def test_odd_range_headers(pbx, header, status, span):
    r0, rel = recorded_rows()[0]
    whole = rec(pbx, r0["uniqueid"]).get_data()
    r = rec(pbx, r0["uniqueid"], headers={"Range": header})
    assert r.status_code == status, (header, r.status_code)
    if status == 206:
        a, b = span[0], span[1] if span[1] is not None else len(whole)
        assert r.get_data() == whole[a:b]
        assert r.headers["Content-Range"] == "bytes %d-%d/%d" % (a, b - 1, len(whole))
    elif status == 200:
        assert r.get_data() == whole
    else:
        assert r.headers["Content-Range"] == "bytes */%d" % len(whole)


@pytest.mark.parametrize("name", ["2024/03/07/x.html", "2024/03/07/x.svg", "2024/03/07/x.wav.htm",
                                  "2024/03/07/x"])
def test_a_recording_with_a_page_name_is_an_octet_stream_attachment_not_sniffed(pbx_rw, name):
    f = pbx_rw.monitor / name
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(b"<script>alert(1)</script>")
    insert(pbx_rw, calldate=dt.datetime(2024, 3, 7, 9, 0, 0), uniqueid="1709800003.1", recordingfile=name)
    r = rec(pbx_rw, "1709800003.1")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["Content-Disposition"].startswith("attachment; ")
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_voicemail_and_recording_downloads_say_nosniff(pbx):
    m = [x for x in messages("101") if x["folder"] == "INBOX" and x["number"] == 0][0]
    r = pbx.get("voicemail/101/%s" % m["msg_id"])
    assert r.status_code == 200 and r.headers["Content-Type"] == "audio/wav"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    r0, _rel = recorded_rows()[0]
    r = rec(pbx, r0["uniqueid"])
    assert r.status_code == 200 and r.headers["Content-Type"] == "audio/wav"
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_a_voicemail_file_with_a_page_format_is_an_octet_stream(pbx_rw):
    m = [x for x in messages("101") if x["folder"] == "INBOX" and x["number"] == 0][0]
    (folder(pbx_rw, "101") / "msg0000.html").write_bytes(b"<script>alert(1)</script>")
    r = pbx_rw.get("voicemail/101/%s" % m["msg_id"], query_string={"format": "html"})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["Content-Disposition"] == 'attachment; filename="voicemail-101-INBOX-msg0000.html"'
    assert r.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("fmt", ["../../../../etc/passwd", "wav/../x", "wav%00", ".wav", "wav\x00", "wav;x"])
def test_voicemail_format_cannot_name_a_path(pbx, fmt):
    before = spool_files(pbx)
    m = [x for x in messages("101") if x["folder"] == "INBOX" and x["number"] == 0][0]
    r = pbx.get("voicemail/101/%s" % m["msg_id"], query_string={"format": fmt})
    assert r.status_code == 400, fmt
    assert set(body(r)["data"]["errors"]) == {"format"}
    assert spool_files(pbx) == before
