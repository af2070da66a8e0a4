"""PUT /api/v1/extension/<ext>: only what is sent changes, with FreePBX's writes for
each field; validation before any write; undo on failure; read-back round trip.

Each test snapshots everything (both databases, AstDB, voicemail.conf, spool),
changes one field and diffs: exactly the expected rows, keys and lines differ."""
from __future__ import annotations

import collections
import json

import MySQLdb
import pytest

from tests.support import dbworld, office
from tests.support.world import body, need_reload
from tests.test_extensions_atomic import fail_nth
from tests.test_extensions_helpers import state

DOMAIN = office.DOMAIN


def _row_diff(a, b):
    if not a and not b:
        return {}
    if not a or not b:
        return "created" if b else "deleted"
    return {k: (a[0][k], b[0][k]) for k in a[0] if a[0][k] != b[0][k]}


def diff(pbx, before, after, st0, st1):
    """What differs between two snapshots: config tables, the extension's rows (by column),
    AstDB keys (old, new), voicemail.conf lines (removed, added)."""
    tables = sorted(t for t in set(before["db"]["config"]) | set(after["db"]["config"])
                    if before["db"]["config"].get(t) != after["db"]["config"].get(t))
    assert before["db"]["cdr"] == after["db"]["cdr"]
    assert before["files"] == after["files"]
    keys = set(before["astdb"]) | set(after["astdb"])
    astdb = {k: (before["astdb"].get(k), after["astdb"].get(k)) for k in keys
             if before["astdb"].get(k) != after["astdb"].get(k)}
    b_lines = collections.Counter(before["voicemail_conf"].decode().splitlines())
    a_lines = collections.Counter(after["voicemail_conf"].decode().splitlines())
    sip0 = {kw: (d, f) for kw, d, f in st0["sip"]}
    sip1 = {kw: (d, f) for kw, d, f in st1["sip"]}
    return {
        "tables": tables,
        "users": _row_diff(st0["users"], st1["users"]),
        "devices": _row_diff(st0["devices"], st1["devices"]),
        "sip": {kw: (sip0.get(kw), sip1.get(kw)) for kw in set(sip0) | set(sip1) if sip0.get(kw) != sip1.get(kw)},
        "findmefollow": _row_diff(st0["findmefollow"], st1["findmefollow"]),
        "astdb": astdb,
        "vm": (sorted((b_lines - a_lines).elements()), sorted((a_lines - b_lines).elements())),
    }


def put_diff(pbx, n, params, status=200):
    st0, snap0 = state(pbx, n), pbx.snapshot()
    r = pbx.put("extension/%s" % n, data=params)
    assert r.status_code == status, body(r)
    return r, diff(pbx, snap0, pbx.snapshot(), st0, state(pbx, n))


def vm_line(pbx, n):
    return [l for l in pbx.voicemail_conf.read_text().splitlines() if l.startswith(n + "=")][0]


def no_rows(**kw):
    out = {"users": {}, "devices": {}, "sip": {}, "findmefollow": {}, "astdb": {}, "vm": ([], [])}
    out.update(kw)
    return out


def only(tables, **kw):
    """Expected diff: these tables (plus admin for need_reload) and these changes, nothing else."""
    return dict(no_rows(**kw), tables=sorted(set(tables) | {"admin"}))


L101 = "101=4821,Alice Johnson,alice.johnson@%s,,attach=yes|saycid=yes|envelope=yes|delete=no" % DOMAIN
L190 = "190=1900,General Mailbox,office@%s|alice.johnson@%s,,attach=yes|saycid=no|envelope=no|delete=no" % (
    DOMAIN, DOMAIN)
L102 = "102=1357,Bob Smith,bob.smith@%s,,attach=yes|saycid=no|envelope=no|delete=no" % DOMAIN
FM_KEYS_106 = {
    "prering": "7", "grptime": "20", "grplist": "106", "grppre": "", "rvolume": "", "grpconf": "DISABLED",
    "ddial": "DIRECT", "changecid": "default", "fixedcid": "", "strategy": "ringallv2-prim", "dring": "",
    "annmsg": "", "remotealertmsg": "", "toolatemsg": "", "postdest": "ext-local,106,dest", "ringing": "Ring"}


def _fm_deleted_101():
    e = office.EXTENSIONS_BY_NUMBER["101"]
    keys = {k: v for k, v in office.astdb().items() if k.startswith("/AMPUSER/101/followme/")}
    assert keys["/AMPUSER/101/followme/grplist"] == e["followme_grplist"]
    return {k: (v, None) for k, v in keys.items()}


# (id, extension, params, expected diff)
CASES = [
    ("displayname", "101", {"displayname": "Alice Baker"}, only(["users", "devices", "sip"],
        users={"name": ("Alice Johnson", "Alice Baker")},
        devices={"description": ("Alice Johnson", "Alice Baker")},
        sip={"callerid": (("Alice Johnson <101>", 56), ("Alice Baker <101>", 56))},
        astdb={"/AMPUSER/101/cidname": ("Alice Johnson", "Alice Baker")},
        vm=([L101], [L101.replace("Alice Johnson", "Alice Baker")]))),
    ("displayname-brackets-virtual", "190", {"displayname": "Main <Box>, Office"}, only(["users"],
        users={"name": ("General Mailbox", "Main (Box), Office")},
        astdb={"/AMPUSER/190/cidname": ("General Mailbox", "Main <Box>, Office")},
        vm=([L190], [L190.replace("General Mailbox", "Main <Box> Office")]))),
    ("secret", "106", {"secret": "N3w-Secret-106-xyz"}, only(["sip"],
        sip={"secret": ((office.EXTENSIONS_BY_NUMBER["106"]["secret"], 52), ("N3w-Secret-106-xyz", 52))})),
    ("outboundcid", "106", {"outboundcid": "Frank <5552220106>"}, only(["users"],
        users={"outboundcid": ("", '"Frank" <5552220106>')},
        astdb={"/AMPUSER/106/outboundcid": ("", '"Frank" <5552220106>')})),
    ("outboundcid-clear", "101", {"outboundcid": ""}, only(["users"],
        users={"outboundcid": ('"Alice Johnson" <5551230101>', "")},
        astdb={"/AMPUSER/101/outboundcid": ('"Alice Johnson" <5551230101>', "")})),
    ("emergencycid", "106", {"emergencycid": "5552230106"}, only(["devices"],
        devices={"emergency_cid": ("", "5552230106")},
        astdb={"/DEVICE/106/emergency_cid": (None, "5552230106")})),
    ("emergencycid-clear", "111", {"emergencycid": ""}, only(["devices"],
        devices={"emergency_cid": ("5551230111", "")},
        astdb={"/DEVICE/111/emergency_cid": ("5551230111", None)})),
    ("voicemail-on", "106", {"voicemail": "yes", "voicemailpassword": "1066", "email": "frank@" + DOMAIN},
     only(["users"], users={"voicemail": ("novm", "default")},
          astdb={"/AMPUSER/106/voicemail": ("novm", "default"), "/AMPUSER/106/novmpw": (None, "yes")},
          vm=([], sorted(["106=1066,Frank Miller,frank@%s,,attach=no|saycid=no|envelope=no|delete=no" % DOMAIN,
                          "106@device=106@default"])))),
    ("voicemail-off", "102", {"voicemail": "no"}, only(["users"],
        users={"voicemail": ("default", "novm")}, astdb={"/AMPUSER/102/voicemail": ("default", "novm")},
        vm=(sorted([L102, "102@device=102@default"]), []))),
    ("email", "102", {"email": "bob@%s, desk@%s" % (DOMAIN, DOMAIN)}, only([],
        vm=([L102], [L102.replace("bob.smith@" + DOMAIN, "bob@%s|desk@%s" % (DOMAIN, DOMAIN))]))),
    ("email-clear", "102", {"email": ""}, only([], vm=([L102], [L102.replace("bob.smith@" + DOMAIN, "")]))),
    ("voicemailpassword", "102", {"voicemailpassword": "97531"}, only([],
        vm=([L102], [L102.replace("=1357,", "=97531,")]))),
    ("attach", "102", {"attach": "no"}, only([], vm=([L102], [L102.replace("attach=yes", "attach=no")]))),
    ("saycid", "102", {"saycid": "yes"}, only([], vm=([L102], [L102.replace("saycid=no", "saycid=yes")]))),
    ("envelope", "102", {"envelope": "yes"}, only([],
        vm=([L102], [L102.replace("envelope=no", "envelope=yes")]))),
    ("vmdelete", "102", {"vmdelete": "yes"}, only([], vm=([L102], [L102.replace("delete=no", "delete=yes")]))),
    ("followme-on", "106", {"followme": "yes"}, only(["findmefollow"], findmefollow="created",
        astdb=dict({"/AMPUSER/106/followme/" + k: (None, v) for k, v in FM_KEYS_106.items()},
                   **{"/CustomDevstate/FOLLOWME106": (None, "BUSY")}))),
    ("followme-off", "101", {"followme": "no"}, only(["findmefollow"], findmefollow="deleted",
        astdb="fm-deleted-101")),
    ("followmegrptime", "107", {"followmegrptime": "40"}, only(["findmefollow"],
        findmefollow={"grptime": (25, 40)}, astdb={"/AMPUSER/107/followme/grptime": ("25", "40")})),
    ("recInternalIn", "106", {"recInternalIn": "always"}, only([],
        astdb={"/AMPUSER/106/recording/in/internal": ("dontcare", "force")})),
    ("recInternalOut", "106", {"recInternalOut": "never"}, only([],
        astdb={"/AMPUSER/106/recording/out/internal": ("dontcare", "never")})),
    ("recExternalIn", "106", {"recExternalIn": "yes"}, only([],
        astdb={"/AMPUSER/106/recording/in/external": ("dontcare", "yes")})),
    ("recExternalOut", "106", {"recExternalOut": "no"}, only([],
        astdb={"/AMPUSER/106/recording/out/external": ("dontcare", "no")})),
    ("recOndemand", "106", {"recOndemand": "enabled"}, only([],
        astdb={"/AMPUSER/106/recording/ondemand": ("disabled", "enabled")})),
    ("recPriority", "106", {"recPriority": "5"}, only([],
        astdb={"/AMPUSER/106/recording/priority": ("10", "5")})),
    ("ringtimer", "106", {"ringtimer": "30"}, only(["users"], users={"ringtimer": (0, 30)},
        astdb={"/AMPUSER/106/ringtimer": ("0", "30")})),
    ("callwaiting-off", "106", {"callwaiting": "disabled"}, only([], astdb={"/CW/106": ("ENABLED", None)})),
    ("callwaiting-on", "110", {"callwaiting": "enabled"}, only([], astdb={"/CW/110": (None, "ENABLED")})),
    ("max_contacts", "106", {"max_contacts": "5"}, only(["sip"], sip={"max_contacts": (("1", 21), ("5", 21))})),
    ("max_contacts-1", "102", {"max_contacts": "1"}, only(["sip"],
        sip={"max_contacts": (("3", 21), ("1", 21)), "remove_existing": (("no", 22), ("yes", 22))})),
    ("dtmfmode", "106", {"dtmfmode": "info"}, only(["sip"],
        sip={"dtmfmode": (("rfc4733", 5), ("info", 5))})),
    ("dtmfmode-chansip", "201", {"dtmfmode": "shortinfo"}, only(["sip"],
        sip={"dtmfmode": (("rfc2833", 3), ("shortinfo", 3))})),
    ("noanswer_dest", "106", {"noanswer_dest": "from-did-direct,109,1"}, only(["users"],
        users={"noanswer_dest": ("", "from-did-direct,109,1")})),
    ("busy_dest", "106", {"busy_dest": "app-blackhole,hangup,1"}, only(["users"],
        users={"busy_dest": ("", "app-blackhole,hangup,1")})),
    ("chanunavail_dest", "106", {"chanunavail_dest": "ext-local,vmu190,1"}, only(["users"],
        users={"chanunavail_dest": ("", "ext-local,vmu190,1")})),
    ("noanswer_dest-clear", "110", {"noanswer_dest": ""}, only(["users"],
        users={"noanswer_dest": ("from-did-direct,109,1", "")})),
]


@pytest.mark.parametrize("n,params,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_one_field_changes_exactly_what_freepbx_writes(pbx_rw, n, params, expected):
    assert need_reload(pbx_rw) == "false"
    if expected["astdb"] == "fm-deleted-101":
        expected = dict(expected, astdb=_fm_deleted_101())
    r, d = put_diff(pbx_rw, n, params)
    b = body(r)
    assert b["message"].startswith("Updated: ")
    if d["findmefollow"] == "created":
        assert state(pbx_rw, n)["findmefollow"] == [{
            "grpnum": n, "strategy": "ringallv2-prim", "grptime": 20, "grppre": "", "grplist": n, "annmsg_id": None,
            "postdest": "ext-local,%s,dest" % n, "dring": "", "rvolume": "", "remotealert_id": None,
            "needsconf": "", "toolate_id": None, "pre_ring": 7, "ringing": "Ring", "calendar_enable": 0,
            "calendar_id": "", "calendar_group_id": "", "calendar_match": "yes"}]
    assert d == expected
    assert need_reload(pbx_rw) == "true"  # FreePBX's extension page calls needreload() after every edit
    # The answer is the extension after the change, as GET /extensions/<ext> shows it (at once).
    got = body(pbx_rw.get("extensions/%s" % n))["data"]
    assert b["data"] == got


def test_answer_and_listing_show_the_new_values(pbx_rw):
    assert body(pbx_rw.get("extensions"))["status"] == 200  # cache built before the change
    r = pbx_rw.put("extension/102", data={"displayname": "Robert Smith", "email": "rob@" + DOMAIN, "attach": "no",
                                          "ringtimer": "15", "callwaiting": "disabled", "max_contacts": "2",
                                          "recPriority": "3"})
    assert r.status_code == 200, body(r)
    b = body(r)
    assert b["message"] == ("Updated: displayname, ringtimer, callwaiting, max_contacts, recPriority, email, "
                            "attach")
    d = b["data"]
    assert (d["name"], d["displayname"], d["email"], d["attach"], d["ringtimer"], d["callwaiting"],
            d["max_contacts"], d["recPriority"], d["recording"]["recPriority"]) == \
        ("Robert Smith", "Robert Smith", "rob@" + DOMAIN, False, 15, "disabled", 2, 3, 3)
    listed = [e for e in body(pbx_rw.get("extensions"))["data"] if e["extension"] == "102"][0]
    assert listed == d
    # Every worker sees it: the generation file changed, so another process's cache is stale too.
    assert json.loads((pbx_rw.cache / "extensions.json").read_text())["generation"] == \
        (pbx_rw.cache / "extensions.generation").read_text().strip()


def test_followme_on_with_grptime_and_voicemail_on_with_options(pbx_rw):
    r, d = put_diff(pbx_rw, "106", {"followme": "yes", "followmegrptime": "33", "voicemail": "yes",
                                    "voicemailpassword": "5106", "attach": "yes", "vmdelete": "yes"})
    assert d["findmefollow"] == "created"
    assert state(pbx_rw, "106")["findmefollow"][0]["grptime"] == 33
    assert d["astdb"]["/AMPUSER/106/followme/grptime"] == (None, "33")
    assert d["vm"] == ([], sorted(["106=5106,Frank Miller,,,attach=yes|saycid=no|envelope=no|delete=yes",
                                   "106@device=106@default"]))
    data = body(r)["data"]
    assert (data["followme"], data["followmegrptime"], data["voicemail"], data["attach"], data["vmdelete"]) == \
        (True, 33, True, True, True)


def test_unchanged_values_write_nothing(pbx_rw):
    before = pbx_rw.snapshot()
    r = pbx_rw.put("extension/101", data={"displayname": "Alice Johnson", "tech": "pjsip", "attach": "yes",
                                          "callwaiting": "enabled", "followme": "yes", "voicemail": "yes"})
    assert r.status_code == 200, body(r)
    assert body(r)["message"] == "Unchanged: every value sent is already set"
    assert pbx_rw.snapshot() == before  # not even need-reload
    assert body(r)["data"] == body(pbx_rw.get("extensions/101"))["data"]


def test_json_body_and_put_of_other_fields_keeps_options_order(pbx_rw):
    # 105's mailbox has a free-text option (tz) before the standard ones: it stays where it is.
    line = vm_line(pbx_rw, "105")
    r = pbx_rw.put("extension/105", json={"saycid": False})
    assert r.status_code == 200, body(r)
    assert vm_line(pbx_rw, "105") == line.replace("saycid=yes", "saycid=no")
    assert line.split(",", 4)[4].startswith("tz=eastern|")


# -- validation: 400 naming each bad field, nothing changed -------------------------------------

@pytest.mark.parametrize("n,params,errors", [
    ("101", {"tech": "sip"}, {"tech": "cannot be changed from pjsip (devices of each technology have different "
                                      "rows); delete and re-create the extension"}),
    ("190", {"secret": "Str0ng-Secret-190x", "emergencycid": "5552230190", "dtmfmode": "info",
             "max_contacts": "2"},
     {f: "needs a device; a virtual extension has none"
      for f in ("secret", "emergencycid", "dtmfmode", "max_contacts")}),
    ("201", {"max_contacts": "2", "dtmfmode": "rfc4733"},
     {"max_contacts": "is a PJSIP setting; this extension is sip",
      "dtmfmode": "must be one of: rfc2833, inband, info, shortinfo, auto for a sip device"}),
    ("106", {"voicemail": "yes"}, {"voicemailpassword": "is required to enable voicemail"}),
    ("106", {"email": "frank@" + DOMAIN, "attach": "yes"},
     {"email": "is only used with voicemail (send voicemail=yes to enable it)",
      "attach": "is only used with voicemail (send voicemail=yes to enable it)"}),
    ("102", {"voicemail": "no", "voicemailpassword": "1234"},
     {"voicemailpassword": "is only used with voicemail (send voicemail=yes to enable it)"}),
    ("106", {"followmegrptime": "30"}, {"followmegrptime": "is only used with followme=yes"}),
    ("106", {"noanswer_dest": "ext-local,999,1", "busy_dest": "ext-local,vmu106,1", "outboundcid": "12345",
             "emergencycid": "Joe <5552230106>"},
     {"noanswer_dest": "is not a destination that exists on this PBX (see /pbx/framework/destinations)",
      "busy_dest": "is not a destination that exists on this PBX (see /pbx/framework/destinations)",
      "outboundcid": "must be a NANP number: 10 digits NXXNXXXXXX or 11 digits 1NXXNXXXXXX (N = 2-9)",
      "emergencycid": "must be a NANP number: 10 digits NXXNXXXXXX or 11 digits 1NXXNXXXXXX (N = 2-9)"}),
    ("106", {"busy_dest": "nonsense", "secret": "short", "ringtimer": "500", "displayname": "a;b", "recInternalIn": "sometimes",
             "callwaiting": "maybe", "dtmfmode": "loud", "voicemial": "yes"},
     {"busy_dest": "must be context,exten,priority (see /pbx/framework/destinations), or '' for none",
      "secret": "is too short: a SIP secret needs at least 12 characters (omit it to have a 32-character one "
                "generated)", "ringtimer": "must be at most 120",
      "displayname": "must not contain ';' (it starts a comment in voicemail.conf)",
      "recInternalIn": "must be one of: always, dontcare, never (FreePBX's force, yes, no are accepted too)",
      "callwaiting": "must be enabled or disabled",
      "dtmfmode": "must be one of: rfc4733, inband, info, auto, auto_info (PJSIP) or rfc2833, inband, info, "
                  "shortinfo, auto (chan_sip)", "voicemial": "unknown parameter"}),
], ids=["tech", "virtual-device-fields", "chansip", "vm-without-pin", "vm-fields-without-vm", "pin-with-vm-off",
        "grptime-without-fm", "against-the-pbx", "formats"])
def test_bad_fields_are_400_and_change_nothing(pbx_rw, n, params, errors):
    before = pbx_rw.snapshot()
    r = pbx_rw.put("extension/%s" % n, data=params)
    assert r.status_code == 400, body(r)
    assert body(r)["data"]["errors"] == errors
    assert pbx_rw.snapshot() == before


def test_unknown_extension_is_404(pbx_rw):
    before = pbx_rw.snapshot()
    for n in ("150", "abc", "1" * 21):
        r = pbx_rw.put("extension/%s" % n, data={"displayname": "X"})
        assert r.status_code == 404, n
        assert body(r)["message"] == "Extension %s not found" % n
    assert pbx_rw.snapshot() == before


def test_enabling_voicemail_over_a_leftover_mailbox_is_409(pbx_rw):
    text = pbx_rw.voicemail_conf.read_text()
    pbx_rw.voicemail_conf.write_text(text.replace("[default]\n", "[default]\n106=1,Old,,,\n", 1))
    before = pbx_rw.snapshot()
    r = pbx_rw.put("extension/106", data={"voicemail": "yes", "voicemailpassword": "1066"})
    assert r.status_code == 409
    assert body(r)["data"] == {"number": "106", "contexts": ["default"]}
    assert pbx_rw.snapshot() == before


def test_another_write_holding_the_number_is_409(pbx_rw, monkeypatch):
    from rfapi.dao import extensions as dao
    from rfapi.services.extensions import undo as svc

    monkeypatch.setattr(svc, "LOCK_TIMEOUT", 1)  # the lock wait, not the lock
    holder = MySQLdb.connect(db=pbx_rw.db.config_db, **dbworld.server_args())
    try:
        cur = holder.cursor()
        cur.execute("SELECT GET_LOCK(%s, 0)", (dao.lock_name(pbx_rw.db.config_db, "101"),))
        assert cur.fetchone()[0] == 1
        before = pbx_rw.snapshot()
        r = pbx_rw.put("extension/101", data={"displayname": "Someone Else"})
        assert r.status_code == 409
        assert body(r)["message"] == "Another change to extension 101 is still in progress; try again"
        assert pbx_rw.snapshot() == before
    finally:
        holder.close()
    assert pbx_rw.put("extension/101", data={"displayname": "Someone Else"}).status_code == 200


# -- failure midway: everything undone ------------------------------------------------------------

@pytest.mark.parametrize("action,nth,mode,status", [("dbput", 1, "error", 502), ("dbput", 3, "drop", 503),
                                                    ("dbdel", 1, "drop", 503), ("dbdeltree", 1, "drop", 503)])
def test_ami_failure_midway_undoes_rows_keys_and_voicemail_conf(pbx_rw, action, nth, mode, status):
    params = {"displayname": "Alice Baker", "outboundcid": "", "recPriority": "4", "emergencycid": "5552230101",
              "email": "ab@" + DOMAIN, "ringtimer": "12"}
    if action == "dbdel":
        params = {"displayname": "Alice Baker", "callwaiting": "disabled"}
    if action == "dbdeltree":
        params = {"displayname": "Alice Baker", "followme": "no"}
    before = pbx_rw.snapshot()
    seen = fail_nth(pbx_rw.peer, action, nth, mode)
    r = pbx_rw.put("extension/101", data=params)
    assert r.status_code == status, body(r)
    assert seen["n"] >= nth
    assert body(r)["message"].endswith("nothing was changed")
    assert body(r)["data"] == {"undone": True}
    assert pbx_rw.snapshot() == before  # rows, need_reload, AstDB keys, voicemail.conf bytes


def test_unwritable_voicemail_conf_undoes_everything(pbx_rw):
    missing = pbx_rw.root / "missing" / "voicemail.conf"
    pbx_rw.ini.write_text(pbx_rw.ini.read_text().replace("voicemail_conf = %s\n" % pbx_rw.voicemail_conf,
                                                         "voicemail_conf = %s\n" % missing))
    before = pbx_rw.snapshot()
    r = pbx_rw.put("extension/106", data={"voicemail": "yes", "voicemailpassword": "1066", "ringtimer": "9",
                                          "recPriority": "2"})
    assert r.status_code == 500
    assert body(r)["message"] == "Could not write voicemail.conf or the voicemail spool; nothing was changed"
    assert pbx_rw.snapshot() == before


# -- read-back: GET -> PUT the same values -> byte-identical ----------------------------------------

PUT_FIELDS = ("tech", "displayname", "secret", "outboundcid", "emergencycid", "voicemail", "email",
              "voicemailpassword", "attach", "saycid", "envelope", "vmdelete", "followme", "followmegrptime",
              "ringtimer", "callwaiting", "max_contacts", "dtmfmode", "noanswer_dest", "busy_dest",
              "chanunavail_dest", "recInternalIn", "recInternalOut", "recExternalIn", "recExternalOut",
              "recOndemand", "recPriority")


def test_get_returns_every_put_field_and_secrets_only_when_asked(pbx):
    plain = body(pbx.get("extensions/101"))["data"]
    assert set(PUT_FIELDS) <= set(plain)
    assert plain["secret"] is None and plain["voicemailpassword"] is None
    r = pbx.get("extensions/101?secrets=yes")
    full = body(r)["data"]
    assert full["secret"] == office.EXTENSIONS_BY_NUMBER["101"]["secret"] and full["voicemailpassword"] == "4821"
    assert dict(full, secret=None, voicemailpassword=None) == plain
    listed = {e["extension"]: e for e in body(pbx.get("extensions?secrets=yes"))["data"]}
    assert listed["101"] == full and listed["190"]["secret"] is None and listed["190"]["voicemailpassword"] == "1900"
    audit = [json.loads(l) for l in (pbx.root / "audit.log").read_text().splitlines()]
    assert [a["action"] for a in audit if a["action"].startswith("extensions.")] == ["extensions.secrets"] * 2
    assert office.EXTENSIONS_BY_NUMBER["101"]["secret"] not in (pbx.root / "audit.log").read_text()
    # The cache file never holds a secret.
    assert office.EXTENSIONS_BY_NUMBER["101"]["secret"] not in (pbx.cache / "extensions.json").read_text()


def _put_body(entry):
    return {k: entry[k] for k in PUT_FIELDS if entry.get(k) is not None}


def test_round_trip_of_every_office_extension_is_byte_identical(pbx_rw):
    before = pbx_rw.snapshot()
    for e in body(pbx_rw.get("extensions?secrets=yes"))["data"]:
        r = pbx_rw.put("extension/%s" % e["extension"], json=_put_body(e))
        assert r.status_code == 200, (e["extension"], body(r))
        assert body(r)["message"] == "Unchanged: every value sent is already set", e["extension"]
    assert pbx_rw.snapshot() == before


def test_round_trip_after_changes_restores_the_same_bytes(pbx_rw):
    """GET, change several fields, PUT the first GET back: every row, key and line as before
    (need-reload aside, which the changes set)."""
    first = body(pbx_rw.get("extensions/102?secrets=yes"))["data"]
    before = pbx_rw.snapshot()
    changes = {"displayname": "Robert", "secret": "An0ther-Secret-102", "email": "", "saycid": "yes",
               "ringtimer": "45", "callwaiting": "disabled", "max_contacts": "4", "dtmfmode": "inband",
               "busy_dest": "app-blackhole,hangup,1", "recOndemand": "override", "followme": "yes"}
    assert pbx_rw.put("extension/102", data=changes).status_code == 200
    assert pbx_rw.snapshot() != before
    back = _put_body(first)
    back["followme"] = False
    r = pbx_rw.put("extension/102", json=back)
    assert r.status_code == 200, body(r)
    after = pbx_rw.snapshot()
    for s in (before, after):
        s["db"]["config"]["admin"] = [row for row in s["db"]["config"]["admin"] if row[0] != "need_reload"]
    # followme=yes then no leaves CustomDevstate/FOLLOWME102 (Findmefollow::del does not clear it).
    assert after["astdb"].pop("/CustomDevstate/FOLLOWME102") == "BUSY"
    assert after == before


def test_concurrent_puts_of_one_extension_lose_nothing(pbx_rw):
    """Each PUT reads the extension under its lock, so ten PUTs of different fields at once all land."""
    from tests.test_extensions_atomic import Server, _race

    jobs = [("PUT", "extension/102", p) for p in (
        {"displayname": "Robert Smith"}, {"ringtimer": "33"}, {"callwaiting": "disabled"}, {"max_contacts": "4"},
        {"dtmfmode": "info"}, {"recPriority": "2"}, {"email": "rs@" + DOMAIN}, {"attach": "no"},
        {"saycid": "yes"}, {"outboundcid": "5552220102"})]
    with Server(pbx_rw.app) as srv:
        results = _race(srv, jobs)
    assert [s for s, _ in results] == [200] * 10, [b["message"] for _, b in results]
    e = body(pbx_rw.get("extensions/102"))["data"]
    assert (e["displayname"], e["ringtimer"], e["callwaiting"], e["max_contacts"], e["dtmfmode"], e["recPriority"],
            e["email"], e["attach"], e["saycid"], e["outboundcid"]) == \
        ("Robert Smith", 33, "disabled", 4, "info", 2, "rs@" + DOMAIN, False, True, "5552220102")
    assert vm_line(pbx_rw, "102") == "102=1357,Robert Smith,rs@%s,,attach=no|saycid=yes|envelope=no|delete=no" % DOMAIN
