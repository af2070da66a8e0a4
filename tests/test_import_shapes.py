"""POST /extensions/import takes rows the way users send them: a bare JSON array,
{"rows": [...]}, a JSON array file, a CSV file; under PUT names, POST
/extension/add names or Bulk Handler columns (one alias table). The CSV export
neutralises cells a spreadsheet would run, and the import reads them back unchanged."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from rfapi.services import csvsafe, importrows
from tests.support.world import body
from tests.test_extensions_helpers import state

ROWS = [{"extension": "150", "tech": "pjsip", "displayname": "Dana Lee", "voicemail": "yes",
         "voicemailpassword": "2580", "ringtimer": "15"},
        {"extension": "101", "ringtimer": "9"},
        {"extension": "102", "attach": "yes"}]


def _csv(rows):
    cols = sorted({k for r in rows for k in r})
    out = io.StringIO()
    w = csv.DictWriter(out, cols)
    w.writeheader()
    w.writerows(rows)
    return out.getvalue().encode()


def _report(r):
    assert r.status_code == 200, body(r)
    d = body(r)["data"]
    return [(x["extension"], x["action"], x["errors"], x.get("changed")) for x in d["report"]]


def test_bare_array_rows_object_json_file_and_csv_file_read_the_same(pbx_rw):
    before = pbx_rw.snapshot()
    want = [("150", "create", {}, None), ("101", "update", {}, ["ringtimer"]), ("102", "unchanged", {}, None)]
    answers = [
        pbx_rw.post("extensions/import?dry_run=yes", json=ROWS),
        pbx_rw.post("extensions/import", json={"rows": ROWS, "dry_run": True}),
        pbx_rw.post("extensions/import", data={"rows": json.dumps(ROWS), "dry_run": "yes"}),
        pbx_rw.post("extensions/import", data={"file": (io.BytesIO(json.dumps(ROWS).encode()), "r.json"),
                                               "dry_run": "yes"}, content_type="multipart/form-data"),
        pbx_rw.post("extensions/import", data={"file": (io.BytesIO(_csv(ROWS)), "r.csv"), "dry_run": "yes"},
                    content_type="multipart/form-data"),
    ]
    for r in answers:
        assert _report(r) == want
        assert body(r)["message"] == "Dry run: nothing was changed"
    assert pbx_rw.snapshot() == before


def test_a_bare_array_body_imports(pbx_rw):
    r = pbx_rw.post("extensions/import", json=[{"extension": "101", "ringtimer": 9}])
    assert _report(r) == [("101", "update", {}, ["ringtimer"])]
    assert state(pbx_rw, "101")["users"][0]["ringtimer"] == 9


def test_a_scalar_json_body_is_refused_naming_the_body(pbx_rw):
    r = pbx_rw.post("extensions/import", json="rows")
    assert r.status_code == 400
    assert body(r)["data"]["errors"] == {"body": "must be a JSON object or array"}


ADD_ROW = {"extension": "150", "exttype": "pjsip", "displayname": "Dana Lee", "secret": "Str0ng-Secret-150x",
           "outboundcid": "5552230150", "emergencycid": "5552230151", "voicemail": "yes",
           "voicemailpassword": "2580", "email": "dana@example.com", "followme": "yes", "recInternalIn": "always",
           "recOndemand": "enabled"}


@pytest.mark.parametrize("shape", ["json", "csv"])
def test_rows_in_extension_add_names_create_what_extension_add_creates(pbx_rw, shape):
    if shape == "json":
        r = pbx_rw.post("extensions/import", json=[ADD_ROW])
    else:
        r = pbx_rw.post("extensions/import", data={"file": (io.BytesIO(_csv([ADD_ROW])), "r.csv")},
                        content_type="multipart/form-data")
    assert _report(r) == [("150", "create", {}, None)]
    imported = state(pbx_rw, "150")
    text = pbx_rw.voicemail_conf.read_text()
    assert pbx_rw.delete("extension/150").status_code == 200
    r = pbx_rw.post("extension/add", data=ADD_ROW)
    assert r.status_code == 201, body(r)
    assert state(pbx_rw, "150") == imported
    assert pbx_rw.voicemail_conf.read_text() == text


@pytest.mark.parametrize("exttype,tech", [("chansip", "sip"), ("virtual", "virtual"), ("sip", "pjsip")])
def test_exttype_takes_extension_add_values(pbx_rw, exttype, tech):
    r = pbx_rw.post("extensions/import", json=[{"extension": "150", "exttype": exttype}])
    assert _report(r) == [("150", "create", {}, None)]
    assert body(pbx_rw.get("extensions/150"))["data"]["tech"] == tech


def test_bulk_handler_description_column_is_the_display_name(pbx_rw):
    r = pbx_rw.post("extensions/import", data={"file": (io.BytesIO(b"extension,description\n110,Board Room\n"),
                                                        "r.csv")}, content_type="multipart/form-data")
    assert _report(r) == [("110", "update", {}, ["displayname"])]
    assert state(pbx_rw, "110")["devices"][0]["description"] == "Board Room"


@pytest.mark.parametrize("row,error", [
    ({"extension": "150", "tech": "pjsip", "exttype": "chansip"},
     "row 1: tech and exttype give different values for tech"),
    ({"extension": "101", "name": "A", "displayname": "B"},
     "row 1: displayname and name give different values for displayname"),
    ({"extension": "101", "voicemail_enable": "yes", "voicemail": "no"},
     "row 1: voicemail and voicemail_enable give different values for voicemail"),
    ({"extension": "150", "exttype": "sccp"}, "row 1: exttype must be one of: sip, pjsip, chansip, virtual"),
])
def test_one_field_under_two_names_with_different_values_is_refused_naming_both(pbx_rw, row, error):
    before = pbx_rw.snapshot()
    r = pbx_rw.post("extensions/import", json=[row])
    assert r.status_code == 400, body(r)
    assert body(r)["data"]["errors"] == {"rows": error}
    assert pbx_rw.snapshot() == before


def test_one_field_under_two_names_with_the_same_value_is_one_field(pbx_rw):
    r = pbx_rw.post("extensions/import", json=[{"extension": "101", "name": "Al", "displayname": "Al",
                                                "voicemail": True, "voicemail_enable": "yes",
                                                "tech": "pjsip", "exttype": "sip"}])
    assert _report(r) == [("101", "update", {}, ["displayname"])]


def test_alias_table_is_in_the_openapi_document_and_the_docs(pbx):
    doc = json.loads(pbx.get("openapi.json").get_data())
    desc = doc["paths"]["/api/v1/extensions/import"]["post"]["description"]
    assert importrows.describe() in desc
    assert "tech (also exttype)" in desc and "displayname (also name, description)" in desc
    docs = (Path(__file__).resolve().parent.parent / "docs" / "bulk-and-csv.md").read_text()
    assert importrows.markdown_table() in docs


# -- CSV neutralisation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value,cell", [
    ('=HYPERLINK("http://evil.example/","y")', '\'=HYPERLINK("http://evil.example/","y")'),
    ("+15551234567", "'+15551234567"), ("-5", "'-5"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("'=x", "''=x"), ("''+1", "'''+1"), ("'plain", "'plain"), ("a=b", "a=b"), ("", ""),
    ("Alice", "Alice"),
])
def test_cells_a_spreadsheet_would_run_get_a_quote_and_lose_exactly_it(value, cell):
    assert csvsafe.cell(value) == cell
    assert csvsafe.uncell(cell) == value


CELL_SAMPLES = ['=HYPERLINK("x")', "+15551234567", "-5", "@SUM(A1)", "\tx", "\rx", "'=x", "''+1", "'plain",
                "a=b", "", "Alice", "a\x00=b", "\x00", "'", "x\x00'+y", -1, 0, 42, None]


@pytest.mark.parametrize("row", [CELL_SAMPLES, [v for v in CELL_SAMPLES if v not in ("", None) and
                                                 str(v)[:1] not in csvsafe.TRIGGERS + "'"]]
                         + [[CELL_SAMPLES[i], "plain", CELL_SAMPLES[-i]] for i in range(len(CELL_SAMPLES))])
def test_a_row_of_cells_is_each_value_as_its_own_cell(row):
    """The whole-row form the CDR export uses (a fast pass for rows that need no quote)
    gives exactly the per-cell answer; None is the empty cell, numbers their text."""
    assert csvsafe.cells(row) == ["" if v is None else csvsafe.cell(str(v)) for v in row]


def _export_rows(pbx):
    r = pbx.get("extensions/export?secrets=yes")
    assert r.status_code == 200
    return r.get_data(), list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))


def test_export_neutralises_formulas_and_plus_numbers_and_import_restores_them(pbx_rw):
    formula = '=HYPERLINK("http://evil.example/","y")'
    r = pbx_rw.put("extension/102", json={"displayname": formula})
    assert r.status_code == 200, body(r)
    # an E.164 caller ID set in FreePBX's GUI (SQL and AstDB, as FreePBX writes it)
    pbx_rw.sql("UPDATE users SET outboundcid=%s WHERE extension='103'", ("+15551234567",))
    with pbx_rw.peer.lock:
        pbx_rw.peer.astdb["/AMPUSER/103/outboundcid"] = "+15551234567"
    assert body(pbx_rw.get("extensions/103"))["data"]["outboundcid"] == "+15551234567"
    raw, rows = _export_rows(pbx_rw)
    by = {r["extension"]: r for r in rows}
    assert by["102"]["name"] == "'" + formula
    assert by["103"]["outboundcid"] == "'+15551234567"
    # no cell of the file starts with a trigger character
    for row in rows:
        assert not any(v[:1] in csvsafe.TRIGGERS for v in row.values() if v), row
    before = pbx_rw.snapshot()
    r = pbx_rw.post("extensions/import", data={"file": (io.BytesIO(raw), "x.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 200, body(r)
    assert [x for x in body(r)["data"]["report"] if x["action"] != "unchanged"] == []
    assert pbx_rw.snapshot() == before
    assert body(pbx_rw.get("extensions/102"))["data"]["displayname"] == formula
    assert body(pbx_rw.get("extensions/103"))["data"]["outboundcid"] == "+15551234567"


def test_export_json_is_not_neutralised(pbx_rw):
    pbx_rw.sql("UPDATE users SET outboundcid=%s WHERE extension='103'", ("+15551234567",))
    rows = json.loads(pbx_rw.get("extensions/export?format=json").get_data())
    assert {r["extension"]: r for r in rows}["103"]["outboundcid"] == "+15551234567"


def test_a_neutralised_cell_written_by_hand_imports_as_its_value(pbx_rw):
    data = b"extension,name\n110,'=Board\n"
    r = pbx_rw.post("extensions/import", data={"file": (io.BytesIO(data), "r.csv")},
                    content_type="multipart/form-data")
    assert _report(r) == [("110", "update", {}, ["displayname"])]
    assert state(pbx_rw, "110")["devices"][0]["description"] == "=Board"


def test_numbers_in_json_rows_are_cells_but_arrays_and_objects_are_refused(pbx_rw):
    r = pbx_rw.post("extensions/import?dry_run=yes", json=[{"extension": 150, "exttype": "pjsip", "voicemail": 1,
                                                            "voicemailpassword": 2580, "ringtimer": 9}])
    assert _report(r) == [("150", "create", {}, None)]
    before = pbx_rw.snapshot()
    r = pbx_rw.post("extensions/import", json=[{"extension": "101", "displayname": ["x"], "email": {"a": 1}}])
    assert r.status_code == 400
    assert body(r)["data"]["report"][0]["errors"] == {"displayname": "must be a single value, not an array",
                                                      "email": "must be a string"}
    assert pbx_rw.snapshot() == before
