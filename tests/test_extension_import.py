"""GET /extensions/export and POST /extensions/import: every writable field out and
back in; a row creates (as POST /extension/add) or updates (as PUT /extension);
validation of every row first; all or nothing, undone on failure; one audit line."""
from __future__ import annotations

import csv
import io
import json
import random

import pytest

from rfapi.services import vmconf
from tests.support import office
from tests.support.world import body, need_reload, without_need_reload
from tests.test_extension_update import PUT_FIELDS, diff
from tests.test_extensions_atomic import fail_nth
from tests.test_extensions_helpers import state

DOMAIN = office.DOMAIN


def csv_file(rows, columns):
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(columns)
    for r in rows:
        w.writerow([r.get(c, "") for c in columns])
    return (io.BytesIO(out.getvalue().encode()), "extensions.csv")


def import_csv(pbx, rows, columns, **extra):
    return pbx.post("extensions/import", data=dict(extra, file=csv_file(rows, columns)),
                    content_type="multipart/form-data")


# -- voicemail.conf bulk edits = the single edits one after the other ---------------------------------

def test_apply_edits_equals_set_entry_and_remove_entry_in_turn():
    text = office.voicemail_conf()
    rnd = random.Random(13)
    for _ in range(400):
        edits = []
        for _ in range(rnd.randint(1, 8)):
            sec = rnd.choice(["default", "pbxaliases", "general", "newsec", "other", "zonemessages"])
            key = rnd.choice(["101", "102", "190", "777", "888", "101@device", "format"])
            edits.append((sec, key, None if rnd.random() < 0.3 else "%s=v%d" % (key, rnd.randint(0, 9))))
        final = {}
        for s, k, line in edits:
            final.pop((s, k), None)
            final[(s, k)] = line
        want = text
        for (s, k), line in final.items():
            want = vmconf.set_entry(want, s, k, line) if line is not None else vmconf.remove_entry(want, s, k)[0]
        assert vmconf.apply_edits(text, edits) == want, edits


# -- export -------------------------------------------------------------------------------------------

def test_export_json_is_every_put_field_of_every_extension(pbx):
    r = pbx.get("extensions/export?format=json")
    assert r.status_code == 200 and r.content_type == "application/json"
    rows = json.loads(r.get_data())
    listing = body(pbx.get("extensions"))["data"]
    assert rows == [dict({"extension": e["extension"]}, **{f: e[f] for f in PUT_FIELDS}) for e in listing]
    assert all(row["secret"] is None and row["voicemailpassword"] is None for row in rows)
    secret = office.EXTENSIONS_BY_NUMBER["101"]["secret"]
    with_secrets = json.loads(pbx.get("extensions/export?format=json&secrets=yes").get_data())
    assert with_secrets[0]["secret"] == secret and with_secrets[0]["voicemailpassword"] == "4821"
    assert secret not in (pbx.root / "audit.log").read_text()


def test_export_csv_uses_bulk_handler_column_names(pbx):
    r = pbx.get("extensions/export")
    assert r.status_code == 200 and r.content_type == "text/csv; charset=utf-8"
    assert r.headers["Content-Disposition"] == "attachment; filename=extensions.csv"
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert len(rows) == 16
    assert list(rows[0]) == [
        "extension", "tech", "name", "secret", "outboundcid", "emergency_cid", "voicemail_enable", "voicemail_vmpwd",
        "voicemail_email", "attach", "saycid", "envelope", "vmdelete", "findmefollow_enabled",
        "findmefollow_grptime", "ringtimer", "callwaiting_enable", "max_contacts", "dtmfmode", "noanswer_dest",
        "busy_dest", "chanunavail_dest", "recording_in_internal", "recording_out_internal",
        "recording_in_external", "recording_out_external", "recording_ondemand", "recording_priority"]
    assert rows[0] == {
        "extension": "101", "tech": "pjsip", "name": "Alice Johnson", "secret": "",
        "outboundcid": '"Alice Johnson" <5551230101>', "emergency_cid": "", "voicemail_enable": "yes",
        "voicemail_vmpwd": "", "voicemail_email": "alice.johnson@" + DOMAIN, "attach": "yes", "saycid": "yes",
        "envelope": "yes", "vmdelete": "no", "findmefollow_enabled": "yes", "findmefollow_grptime": "20",
        "ringtimer": "0", "callwaiting_enable": "enabled", "max_contacts": "1", "dtmfmode": "rfc4733",
        "noanswer_dest": "", "busy_dest": "", "chanunavail_dest": "", "recording_in_internal": "dontcare",
        "recording_out_internal": "dontcare", "recording_in_external": "dontcare",
        "recording_out_external": "dontcare", "recording_ondemand": "disabled", "recording_priority": "10"}


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_then_import_changes_nothing(pbx_rw, fmt):
    before = pbx_rw.snapshot()
    data = pbx_rw.get("extensions/export?format=%s&secrets=yes" % fmt).get_data()
    r = pbx_rw.post("extensions/import", data={"file": (io.BytesIO(data), "x." + fmt)},
                    content_type="multipart/form-data")
    assert r.status_code == 200, body(r)
    b = body(r)["data"]
    assert (b["rows"], b["created"], b["updated"], b["unchanged"], b["failed"]) == (16, 0, 0, 16, 0)
    assert pbx_rw.snapshot() == before  # not even need-reload, no audit line needed


# -- import: creates are POST /extension/add, updates are PUT ----------------------------------------

NEW = [
    {"extension": "150", "tech": "pjsip", "name": "Dana Lee", "secret": "Str0ng-Secret-150x",
     "voicemail_enable": "yes", "voicemail_vmpwd": "2580", "voicemail_email": "dana@" + DOMAIN,
     "findmefollow_enabled": "yes", "recording_in_internal": "always", "outboundcid": "5552230150"},
    {"extension": "195", "tech": "virtual", "name": "Night Box", "voicemail_enable": "yes",
     "voicemail_vmpwd": "1950"},
    {"extension": "260", "tech": "sip", "name": "Paging 2", "secret": "Str0ng-Secret-260x",
     "emergency_cid": "5552230260"},
]
COLUMNS = ["extension", "tech", "name", "secret", "outboundcid", "emergency_cid", "voicemail_enable",
           "voicemail_vmpwd", "voicemail_email", "findmefollow_enabled", "recording_in_internal"]


def add_params(row):
    p = {"extension": row["extension"], "exttype": {"pjsip": "pjsip", "sip": "chansip", "virtual": "virtual"}[
        row["tech"]], "displayname": row["name"]}
    for col, param in (("secret", "secret"), ("outboundcid", "outboundcid"), ("emergency_cid", "emergencycid"),
                       ("voicemail_enable", "voicemail"), ("voicemail_vmpwd", "voicemailpassword"),
                       ("voicemail_email", "email"), ("findmefollow_enabled", "followme"),
                       ("recording_in_internal", "recInternalIn")):
        if row.get(col):
            p[param] = row[col]
    return p


def test_import_creates_exactly_what_extension_add_creates(pbx_rw):
    r = import_csv(pbx_rw, NEW, COLUMNS)
    assert r.status_code == 200, body(r)
    b = body(r)
    assert b["message"] == "Imported: 3 created, 0 updated, 0 unchanged"
    assert [(x["row"], x["extension"], x["action"], x["errors"]) for x in b["data"]["report"]] == [
        (1, "150", "create", {}), (2, "195", "create", {}), (3, "260", "create", {})]
    assert need_reload(pbx_rw) == "true"
    imported = {row["extension"]: state(pbx_rw, row["extension"]) for row in NEW}
    text = pbx_rw.voicemail_conf.read_text()
    # The same extensions through POST /extension/add, one by one: the same rows, keys and lines.
    for row in NEW:
        assert pbx_rw.delete("extension/%s" % row["extension"]).status_code == 200
    assert pbx_rw.voicemail_conf.read_text() != text
    for row in NEW:
        r = pbx_rw.post("extension/add", data=dict(add_params(row), recOndemand="enabled"))
        assert r.status_code == 201, body(r)
        assert state(pbx_rw, row["extension"]) == imported[row["extension"]], row["extension"]
    assert pbx_rw.voicemail_conf.read_text() == text
    audit = [json.loads(l) for l in (pbx_rw.root / "audit.log").read_text().splitlines()]
    imports = [a for a in audit if a["action"] == "extensions.import"]
    assert len(imports) == 1 and imports[0]["result"]["count"] == 3 and imports[0]["user"] == "api"
    assert imports[0]["params"]["file"] == "***"
    assert "Str0ng-Secret-150x" not in (pbx_rw.root / "audit.log").read_text()
    listed = {e["extension"] for e in body(pbx_rw.get("extensions"))["data"]}
    assert {"150", "195", "260"} <= listed


def test_import_update_rows_write_what_put_writes(pbx_rw):
    rows = [{"extension": "102", "attach": "no", "ringtimer": "15"},
            {"extension": "106", "callwaiting": "disabled", "noanswer_dest": "from-did-direct,109,1"},
            {"extension": "110", "displayname": "Board Room"}]
    st0 = {n: state(pbx_rw, n) for n in ("102", "106", "110")}
    before = pbx_rw.snapshot()
    r = pbx_rw.post("extensions/import", json={"rows": rows})
    assert r.status_code == 200, body(r)
    assert [(x["extension"], x["action"], x.get("changed")) for x in body(r)["data"]["report"]] == [
        ("102", "update", ["ringtimer", "attach"]), ("106", "update", ["callwaiting", "noanswer_dest"]),
        ("110", "update", ["displayname"])]
    after = pbx_rw.snapshot()
    d = diff(pbx_rw, before, after, st0["102"], state(pbx_rw, "102"))
    assert d["users"] == {"ringtimer": (0, 15)}
    assert d["tables"] == ["admin", "devices", "sip", "users"]
    line = "102=1357,Bob Smith,bob.smith@%s,,attach=yes|saycid=no|envelope=no|delete=no" % DOMAIN
    assert d["vm"] == ([line], [line.replace("attach=yes", "attach=no")])
    assert d["astdb"] == {"/AMPUSER/102/ringtimer": ("0", "15"), "/CW/106": ("ENABLED", None),
                          "/AMPUSER/110/cidname": ("Conference Room", "Board Room")}
    assert state(pbx_rw, "106")["users"][0]["noanswer_dest"] == "from-did-direct,109,1"
    assert state(pbx_rw, "110")["devices"][0]["description"] == "Board Room"


def test_create_rows_take_update_only_fields(pbx_rw):
    r = pbx_rw.post("extensions/import", json={"rows": [
        {"extension": "151", "tech": "pjsip", "displayname": "Eve", "secret": "Str0ng-Secret-151x",
         "voicemail": True, "voicemailpassword": "1511", "attach": True, "ringtimer": 20, "callwaiting": "disabled",
         "max_contacts": 3, "dtmfmode": "info", "busy_dest": "app-blackhole,hangup,1"}]})
    assert r.status_code == 200, body(r)
    st = state(pbx_rw, "151")
    assert st["users"][0]["ringtimer"] == 20 and st["users"][0]["busy_dest"] == "app-blackhole,hangup,1"
    sip = {kw: d for kw, d, _f in st["sip"]}
    assert (sip["max_contacts"], sip["remove_existing"], sip["dtmfmode"]) == ("3", "yes", "info")
    assert "/CW/151" not in st["astdb"] and st["astdb"]["/AMPUSER/151/ringtimer"] == "20"
    assert st["vm"] == ["151=1511,Eve,,,attach=yes|saycid=no|envelope=no|delete=no", "151@device=151@default"]
    got = body(pbx_rw.get("extensions/151"))["data"]
    assert (got["ringtimer"], got["callwaiting"], got["max_contacts"], got["dtmfmode"], got["attach"]) == \
        (20, "disabled", 3, "info", True)


def test_generated_secrets_are_returned_once(pbx_rw):
    r = pbx_rw.post("extensions/import", json={"rows": [{"extension": "152", "tech": "pjsip"}]})
    assert r.status_code == 200, body(r)
    row = body(r)["data"]["report"][0]
    assert len(row["secret"]) == 32
    assert state(pbx_rw, "152")["sip"][[kw for kw, _d, _f in state(pbx_rw, "152")["sip"]].index("secret")][1] == \
        row["secret"]
    assert body(r)["message"].endswith("generated SIP secrets are shown only this once")
    assert row["secret"] not in (pbx_rw.root / "audit.log").read_text()


# -- validation of every row, all or nothing -----------------------------------------------------------

def test_dry_run_reports_every_row_and_changes_nothing(pbx_rw):
    before = pbx_rw.snapshot()
    rows = [{"extension": "153", "tech": "pjsip"}, {"extension": "101", "ringtimer": 9},
            {"extension": "102", "attach": True}]
    r = pbx_rw.post("extensions/import", json={"rows": rows, "dry_run": True})
    assert r.status_code == 200, body(r)
    b = body(r)
    assert b["message"] == "Dry run: nothing was changed"
    assert [(x["extension"], x["action"], x["errors"]) for x in b["data"]["report"]] == [
        ("153", "create", {}), ("101", "update", {}), ("102", "unchanged", {})]
    assert (b["data"]["created"], b["data"]["updated"], b["data"]["unchanged"]) == (1, 1, 1)
    assert pbx_rw.snapshot() == before


def test_any_bad_row_writes_nothing_and_reports_each(pbx_rw):
    before = pbx_rw.snapshot()
    rows = [{"extension": "154", "tech": "pjsip"},
            {"extension": "600", "tech": "pjsip"},                       # the ring group's number
            {"extension": "154", "tech": "virtual"},                     # twice in the file
            {"extension": "155", "tech": "pjsip", "voicemail": "yes"},   # no PIN
            {"extension": "106", "followmegrptime": 30, "secret": "x"},  # bad fields on an update
            {"extension": "1", "tech": "pjsip"},                         # too short for a new one
            {"tech": "pjsip"}]
    for dry in (False, True):
        r = pbx_rw.post("extensions/import", json={"rows": rows, "dry_run": dry})
        assert r.status_code == 400, body(r)
        b = body(r)
        assert b["message"] == "Invalid rows: 6 of 7; nothing was imported"
        assert [(x["row"], x["action"], x["errors"]) for x in b["data"]["report"]] == [
            (1, "create", {}),
            (2, None, {"extension": "is already used by a ringgroup"}),
            (3, None, {"extension": "appears more than once in the file (rows 1 and 3)"}),
            (4, None, {"voicemailpassword": "is required when voicemail is enabled"}),
            (5, None, {"secret": "is too short: a SIP secret needs at least 12 characters (omit it to have a "
                                 "32-character one generated)"}),
            (6, None, {"extension": "must be 2 to 10 digits for a new extension"}),
            (7, None, {"extension": "is required: digits (2-10 for a new extension)"})]
        assert b["data"]["errors"]["row 2"] == "extension is already used by a ringgroup"
        assert pbx_rw.snapshot() == before


def test_mode_create_refuses_existing(pbx_rw):
    before = pbx_rw.snapshot()
    r = pbx_rw.post("extensions/import", json={"rows": [{"extension": "101", "ringtimer": 5}], "mode": "create"})
    assert r.status_code == 400
    assert body(r)["data"]["report"][0]["errors"] == {"extension": "already exists (mode=create)"}
    assert pbx_rw.snapshot() == before


@pytest.mark.parametrize("payload,errors", [
    ({}, {"file": "send a CSV file (multipart field file), or rows (a JSON array of objects, bare or as "
                "{\"rows\": [...]})"}),
    ({"rows": "[1, 2]"}, {"rows": "must be a JSON array of objects"}),
    ({"rows": "[]"}, {"rows": "has no rows"}),
    ({"rows": json.dumps([{"extension": "160", "voicemial": "yes"}])},
     {"rows": "row 1: unknown field(s): voicemial"}),
    ({"file": "extension,voicemial\n160,yes\n"}, {"file": "unknown column(s): 'voicemial'"}),
])
def test_malformed_uploads_are_400(pbx_rw, payload, errors):
    before = pbx_rw.snapshot()
    r = pbx_rw.post("extensions/import", data=payload)
    assert r.status_code == 400, body(r)
    assert body(r)["data"]["errors"] == errors
    assert pbx_rw.snapshot() == before


@pytest.mark.parametrize("nth,mode,status", [(1, "error", 502), (90, "drop", 503), (100, "stall", 504)])
def test_failure_midway_undoes_the_whole_import(pbx_rw, nth, mode, status):
    before = pbx_rw.snapshot()
    rows = NEW + [{"extension": "102", "attach": "no", "ringtimer": "15"},
                  {"extension": "106", "callwaiting_enable": "disabled"}]
    seen = fail_nth(pbx_rw.peer, "dbput", nth, mode)
    r = import_csv(pbx_rw, rows, COLUMNS + ["attach", "ringtimer", "callwaiting_enable"])
    assert r.status_code == status, body(r)
    assert seen["n"] >= nth
    assert body(r)["message"].endswith("nothing was imported")
    assert body(r)["data"] == {"undone": True}
    assert without_need_reload(pbx_rw.snapshot()) == without_need_reload(before)
    assert pbx_rw.snapshot() == before


def test_large_import_reads_astdb_once_per_family_and_still_undoes_exactly(pbx_rw):
    # Above 20 rows AstDB is read once per family (not per extension): the previous
    # values of leftover keys must still come back exactly when the import fails.
    with pbx_rw.peer.lock:
        pbx_rw.peer.astdb.update({"/AMPUSER/160/cidname": "Old Name", "/CW/161": "ENABLED",
                                  "/DEVICE/162/emergency_cid": "5552230162"})
    rows = [{"extension": str(150 + i), "tech": "pjsip", "secret": "Str0ng-Secret-%dx" % (150 + i),
             "voicemail": True, "voicemailpassword": "1%03d" % i, "followme": True} for i in range(25)]
    rows += [{"extension": n, "ringtimer": 7} for n in ("101", "102", "103", "104", "105")]
    before = pbx_rw.snapshot()
    trees = len([a for a in pbx_rw.peer.actions if a.name == "DBGetTree"])
    fail_nth(pbx_rw.peer, "dbput", 1000, "drop")
    r = pbx_rw.post("extensions/import", json={"rows": rows})
    assert r.status_code == 503, body(r)
    assert body(r)["data"] == {"undone": True}
    assert pbx_rw.snapshot() == before
    gettrees = [a for a in pbx_rw.peer.actions if a.name == "DBGetTree"][trees:]
    assert sorted(a.get("Family") for a in gettrees) == sorted(
        ["AMPUSER", "CF", "CFB", "CFU", "CW", "CustomDevstate", "CustomPresence", "DEVICE", "DND", "ZULU"])
    assert all(not a.get("Key") for a in gettrees)
    # And without the failure: the 25 new extensions are what POST /extension/add makes.
    r = pbx_rw.post("extensions/import", json={"rows": rows})
    assert r.status_code == 200, body(r)
    assert body(r)["data"]["created"] == 25 and body(r)["data"]["updated"] == 5
    st = state(pbx_rw, "170")
    assert pbx_rw.delete("extension/170").status_code == 200
    r = pbx_rw.post("extension/add", data={"extension": "170", "exttype": "pjsip", "secret": "Str0ng-Secret-170x",
                                           "voicemail": "yes", "voicemailpassword": "1020", "followme": "yes"})
    assert r.status_code == 201
    assert state(pbx_rw, "170") == st
    assert state(pbx_rw, "160")["astdb"]["/AMPUSER/160/cidname"] == "160"


def test_benchmark_harness_runs_tiny(capsys):
    """tests/bench/extimport.py in a tiny size: it seeds, measures, prints and drops its world
    (no timing asserted: the numbers belong to the benchmark run, docs/performance.md)."""
    from tests.bench import extimport as bench

    assert bench.main(["--extensions", "30", "--rows", "110"]) == 0
    out = json.loads([l for l in capsys.readouterr().out.splitlines() if l.startswith('{"extensions"')][-1])
    assert out["extensions"] == 30
    assert out["export_json_bytes"] > 0 and out["export_csv_bytes"] > 0
    assert set(out) >= {"per_row_ms_100", "per_row_ms_110", "marginal_ms_per_row", "per_row_ms_updates"}
    assert out["ami_actions_in_big_import"] == {"DBPut": 110 * 47, "DBGetTree": 5}  # 47 keys per new extension; AstDB read once per family
