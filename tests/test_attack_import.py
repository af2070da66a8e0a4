"""POST /extensions/import against hostile and broken input: malformed CSV (bad quoting,
NUL, BOM, line breaks inside cells, a column named twice), too many rows, bodies at and
over the size limit, names built to break voicemail.conf, secrets that must not reach
the report or the audit log, and dry runs that must change nothing."""
from __future__ import annotations

import io
import json

import pytest

from tests.support.world import body
from tests.test_extensions_helpers import state


def upload(pbx, data: bytes, **extra):
    return pbx.post("extensions/import", data=dict(extra, file=(io.BytesIO(data), "x.csv")),
                    content_type="multipart/form-data")


@pytest.mark.parametrize("data,error", [
    (b'extension,name\n110,"Board"x\n', "is not valid CSV (line 2: ',' expected after '\"')"),
    (b'extension,name\n110,"Board\n', "is not valid CSV (line 2: unexpected end of data)"),
    (b"extension,name\n110,Bo\x00ard\n", "contains a NUL character: not a CSV text file"),
    (b"extension,name,name\n110,A,B\n", "column(s) given more than once: name"),
    (b"extension,ringtimer\n110,5,6\n", "line 2 has more cells than the header"),
    (b"\n", "is empty: the first line must name the columns"),
    (b"", "is empty: the first line must name the columns"),
    (b"extension,name\n", "has no rows"),
    (b"\xff\xfeextension\n", "must be UTF-8 text (CSV or a JSON array)"),
])
def test_malformed_csv_is_400_naming_file_and_changes_nothing(pbx_rw, data, error):
    before = pbx_rw.snapshot()
    r = upload(pbx_rw, data)
    assert r.status_code == 400, body(r)
    assert body(r)["data"]["errors"] == {"file": error}
    assert pbx_rw.snapshot() == before


def test_byte_order_mark_and_crlf_lines_are_read(pbx_rw):
    r = upload(pbx_rw, b"\xef\xbb\xbfextension,name\r\n110,Board Room\r\n")
    assert r.status_code == 200, body(r)
    assert state(pbx_rw, "110")["devices"][0]["description"] == "Board Room"


@pytest.mark.parametrize("cell", ['"Board\nRoom"', '"Board\rRoom"', '"Board\tRoom"'])
def test_line_breaks_inside_a_quoted_cell_are_refused_for_the_field(pbx_rw, cell):
    before = pbx_rw.snapshot()
    r = upload(pbx_rw, ("extension,name\n110,%s\n" % cell).encode())
    assert r.status_code == 400, body(r)
    assert body(r)["data"]["report"][0]["errors"] == {
        "displayname": "must not contain control characters (CR, LF, NUL, ...)"}
    assert pbx_rw.snapshot() == before


def test_more_than_5000_rows_is_400_before_anything_is_read_from_the_pbx(pbx_rw):
    before = pbx_rw.snapshot()
    data = "extension,ringtimer\n" + "".join("%d,5\n" % (20000 + i) for i in range(5001))
    r = upload(pbx_rw, data.encode())
    assert r.status_code == 400
    assert body(r)["data"]["errors"] == {"file": "has more than 5000 rows; at most 5000 per import"}
    r = pbx_rw.post("extensions/import", json=[{"extension": str(20000 + i)} for i in range(5001)])
    assert body(r)["data"]["errors"] == {"rows": "has more than 5000 rows; at most 5000 per import"}
    assert pbx_rw.snapshot() == before


def _padded(limit: int, extra: int) -> bytes:
    doc = json.dumps([{"extension": "101", "ringtimer": 9}]).encode()
    return doc[:-1] + b" " * (limit + extra - len(doc)) + b"]"


def test_a_body_at_the_import_limit_is_read_and_one_byte_over_is_413(pbx_rw):
    limit = pbx_rw.app.config["MAX_CONTENT_LENGTH"]
    assert limit == 8 * 1024 * 1024  # [api] max_import_bytes
    before = pbx_rw.snapshot()
    at = _padded(limit, 0)
    assert len(at) == limit
    r = pbx_rw.post("extensions/import?dry_run=yes", data=at, content_type="application/json")
    assert r.status_code == 200, body(r)
    assert body(r)["data"]["updated"] == 1
    r = pbx_rw.post("extensions/import?dry_run=yes", data=_padded(limit, 1), content_type="application/json")
    assert r.status_code == 413
    assert body(r) == {"status": 413, "message": "Payload Too Large: the request body is over the limit",
                       "data": None}
    assert pbx_rw.snapshot() == before


def test_an_export_of_5000_extensions_fits_the_import_but_not_other_routes(pbx_rw):
    # A full CSV row (secrets, caller IDs, destinations) is ~250 bytes: 5,000 rows are ~1.25 MB,
    # over the 1 MiB every other route takes.
    size = 5000 * 251
    r = pbx_rw.post("extensions/import?dry_run=yes", data=_padded(size, 0), content_type="application/json")
    assert r.status_code == 200, body(r)
    r = pbx_rw.post("did/add", data=b"{" + b" " * size + b"}", content_type="application/json")
    assert r.status_code == 413


@pytest.mark.parametrize("name,error", [
    ("Evil;comment", "must not contain ';' (it starts a comment in voicemail.conf)"),
    ("x\n[general]", "must not contain control characters (CR, LF, NUL, ...)"),
])
def test_names_that_would_break_voicemail_conf_are_refused(pbx_rw, name, error):
    before = pbx_rw.snapshot()
    r = pbx_rw.post("extensions/import", json=[{"extension": "101", "displayname": name}])
    assert r.status_code == 400
    assert body(r)["data"]["report"][0]["errors"] == {"displayname": error}
    assert pbx_rw.snapshot() == before


def test_brackets_equals_and_commas_in_names_stay_inside_the_mailbox_line(pbx_rw):
    sections = [ln for ln in pbx_rw.voicemail_conf.read_text().splitlines() if ln.startswith("[")]
    r = pbx_rw.post("extensions/import", json=[
        {"extension": "150", "exttype": "pjsip", "displayname": "[general] a=b, c", "voicemail": "yes",
         "voicemailpassword": "2580"},
        {"extension": "101", "displayname": "[zonemessages]"}])
    assert r.status_code == 200, body(r)
    lines = pbx_rw.voicemail_conf.read_text().splitlines()
    assert "150=2580,[general] a=b c,,,attach=no|saycid=no|envelope=no|delete=no" in lines
    assert [ln for ln in lines if ln.startswith("101=")][0].split(",")[1] == "[zonemessages]"
    assert [ln for ln in lines if ln.startswith("[")] == sections


SECRET = "Str0ng-Secret-150x"
PIN = "925817"


def test_secrets_never_reach_the_report_the_errors_or_the_audit_line(pbx_rw):
    bad = [{"extension": "150", "tech": "pjsip", "secret": SECRET, "voicemail": "yes", "voicemailpassword": PIN},
           {"extension": "151", "tech": "pjsip", "secret": "short" + PIN}]
    r = pbx_rw.post("extensions/import", json=bad)
    assert r.status_code == 400
    text = r.get_data(as_text=True)
    assert SECRET not in text and PIN not in text
    good = pbx_rw.post("extensions/import", json=bad[:1])
    assert good.status_code == 200, body(good)
    assert SECRET not in good.get_data(as_text=True) and PIN not in good.get_data(as_text=True)
    log = (pbx_rw.root / "audit.log").read_text()
    assert SECRET not in log and PIN not in log
    line = [json.loads(ln) for ln in log.splitlines() if '"extensions.import"' in ln][-1]
    assert line["params"]["rows"] == "***"
    assert line["result"]["rows"] == [{"row": 1, "extension": "150", "action": "create"}]


def test_a_dry_run_changes_nothing_even_when_it_creates_updates_and_generates_secrets(pbx_rw):
    before = pbx_rw.snapshot()
    audit_before = (pbx_rw.root / "audit.log").read_text() if (pbx_rw.root / "audit.log").exists() else ""
    rows = [{"extension": "150", "exttype": "pjsip", "voicemail": "yes", "voicemailpassword": "2580"},
            {"extension": "101", "displayname": "Changed", "voicemail": "no", "callwaiting": "disabled"}]
    for shape in ("bare", "csv"):
        if shape == "bare":
            r = pbx_rw.post("extensions/import?dry_run=yes", json=rows)
        else:
            r = upload(pbx_rw, b"extension,exttype,voicemail,voicemailpassword\n150,pjsip,yes,2580\n",
                       dry_run="yes")
        assert r.status_code == 200, body(r)
        assert body(r)["message"] == "Dry run: nothing was changed"
        assert all("secret" not in x for x in body(r)["data"]["report"])
        assert pbx_rw.snapshot() == before
    after = (pbx_rw.root / "audit.log").read_text() if (pbx_rw.root / "audit.log").exists() else ""
    assert "extensions.import" not in after[len(audit_before):]
