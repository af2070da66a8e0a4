"""POST /extension/add and DELETE /extension/<ext>: exactly what FreePBX writes
(WRITES.md §1-2), compared with the office's own FreePBX-made extensions."""
from __future__ import annotations

import json
import re

import pytest

from tests.support import office
from tests.test_extensions_helpers import (astdb_of, office_params, office_readback, office_state, readback,
                                           state, vm_lines, without)
from tests.support.world import body, need_reload

S = office.SETTINGS


def expected_pjsip_rows(n, secret, callerid):
    """The office's own FreePBX builder, for a new number."""
    e = {"number": n, "max_contacts": "1", "secret": secret, "sip_callerid": callerid}
    return sorted((kw, data, flag) for _, kw, data, flag in office._pjsip_rows(e))


FULL = {
    "extension": "150", "exttype": "pjsip", "displayname": "Dana <Lee>", "secret": "Str0ng-Secret-150x",
    "outboundcid": '"Bayview Dental" <5552230100>', "emergencycid": "15552230150", "voicemail": "yes",
    "voicemailpassword": "2580", "email": "dana.lee@bayviewdental.example,front@bayviewdental.example",
    "followme": "yes", "followmegrptime": "25", "recInternalIn": "always", "recInternalOut": "never",
    "recExternalIn": "dontcare", "recExternalOut": "always", "recOndemand": "disabled", "recPriority": "15",
}


def test_pjsip_with_voicemail_followme_and_every_recording_option(pbx_rw):
    assert need_reload(pbx_rw) == "false"
    r = pbx_rw.post("extension/add", data=FULL)
    assert r.status_code == 201, body(r)
    b = body(r)
    assert b["message"] == "Created"
    assert b["data"] == readback({
        "extension": "150", "name": "Dana (Lee)", "tech": "pjsip", "voicemail": True, "voicemail_context": "default",
        "email": "dana.lee@bayviewdental.example,front@bayviewdental.example",
        "outboundcid": '"Bayview Dental" <5552230100>', "emergencycid": "15552230150", "followme": True,
        "followme_enabled": True,
        "recording": {"recExternalIn": "dontcare", "recExternalOut": "force", "recInternalIn": "force",
                      "recInternalOut": "never", "recOndemand": "disabled", "recPriority": 15}},
        displayname="Dana <Lee>", followmegrptime=25)
    st = state(pbx_rw, "150")
    assert st["users"] == [{
        "extension": "150", "password": "", "name": "Dana (Lee)", "voicemail": "default", "ringtimer": 0,
        "noanswer": "", "recording": "", "outboundcid": '"Bayview Dental" <5552230100>', "sipname": "",
        "noanswer_cid": "", "busy_cid": "", "chanunavail_cid": "", "noanswer_dest": "", "busy_dest": "",
        "chanunavail_dest": "", "mohclass": "default"}]
    assert st["devices"] == [{"id": "150", "tech": "pjsip", "dial": "PJSIP/150", "devicetype": "fixed", "user": "150",
                              "description": "Dana <Lee>", "emergency_cid": "15552230150", "hint_override": None}]
    assert st["sip"] == expected_pjsip_rows("150", "Str0ng-Secret-150x", "")  # Quick Create: no device callerid
    assert len(st["sip"]) == 54
    assert ("dtmfmode", "rfc4733", 5) in st["sip"] and ("remove_existing", "yes", 22) in st["sip"]
    assert st["findmefollow"] == [{
        "grpnum": "150", "strategy": "ringallv2-prim", "grptime": 25, "grppre": "", "grplist": "150",
        "annmsg_id": None, "postdest": "ext-local,150,dest", "dring": "", "rvolume": "", "remotealert_id": None,
        "needsconf": "", "toolate_id": None, "pre_ring": 7, "ringing": "Ring", "calendar_enable": 0,
        "calendar_id": "", "calendar_group_id": "", "calendar_match": "yes"}]
    u, f = "/AMPUSER/150/", "/AMPUSER/150/followme/"
    assert st["astdb"] == {
        "/DEVICE/150/user": "150", "/DEVICE/150/dial": "PJSIP/150", "/DEVICE/150/type": "fixed",
        "/DEVICE/150/default_user": "150", "/DEVICE/150/emergency_cid": "15552230150", "/DEVICE/150/tech": "pjsip",
        "/CustomPresence/150": "available,,", "/CW/150": "ENABLED", "/CustomDevstate/FOLLOWME150": "BUSY",
        u + "device": "150", u + "cwtone": "disabled", u + "accountcode": "", u + "rvolume": "", u + "password": "",
        u + "ringtimer": "0", u + "cfringtimer": S["CFRINGTIMERDEFAULT"],
        u + "concurrency_limit": S["CONCURRENCYLIMITDEFAULT"], u + "noanswer": "", u + "recording": "",
        u + "outboundcid": '"Bayview Dental" <5552230100>', u + "cidname": "Dana <Lee>", u + "cidnum": "150",
        u + "voicemail": "default", u + "answermode": "disabled", u + "intercom": "enabled",
        u + "recording/in/external": "dontcare", u + "recording/out/external": "force",
        u + "recording/in/internal": "force", u + "recording/out/internal": "never",
        u + "recording/ondemand": "disabled", u + "recording/priority": "15", u + "novmpw": "yes",
        f + "prering": "7", f + "grptime": "25", f + "grplist": "150", f + "grppre": "", f + "rvolume": "",
        f + "grpconf": "DISABLED", f + "ddial": "DIRECT", f + "changecid": "default", f + "fixedcid": "",
        f + "strategy": "ringallv2-prim", f + "dring": "", f + "annmsg": "", f + "remotealertmsg": "",
        f + "toolatemsg": "", f + "postdest": "ext-local,150,dest", f + "ringing": "Ring",
    }
    assert st["vm"] == [
        "150=2580,Dana <Lee>,dana.lee@bayviewdental.example|front@bayviewdental.example,,"
        "attach=no|saycid=no|envelope=no|delete=no",
        "150@device=150@default"]
    # The line went to the end of [default]; the alias to the end of [pbxaliases].
    text = pbx_rw.voicemail_conf.read_text()
    assert "\n190=1900,General Mailbox," in text and text.index("190=1900") < text.index("150=2580") \
        < text.index("[pbxaliases]") < text.index("190@device") < text.index("150@device")
    assert need_reload(pbx_rw) == "true"
    # The secret never reaches the audit log; the PIN is redacted.
    audit = (pbx_rw.root / "audit.log").read_text()
    assert "Str0ng-Secret-150x" not in audit and '"voicemailpassword":"***"' in audit
    assert json.loads(audit.splitlines()[-1])["action"] == "extension.add"


@pytest.mark.parametrize("office_ext,new", [("104", "154"), ("202", "252"), ("201", "251"), ("106", "156")])
def test_same_as_office_extension_without_voicemail(pbx_rw, office_ext, new):
    """pjsip and chan_sip extensions without voicemail/follow-me: identical to the office's except the number."""
    r = pbx_rw.post("extension/add", data=office_params(office_ext, new))
    assert r.status_code == 201, body(r)
    expected = office_state(pbx_rw, office_ext, new)
    # AMPUSER/<ext>/hint is written by every fwconsole reload, not at creation (WRITES §1.5).
    del expected["astdb"]["/AMPUSER/%s/hint" % new]
    assert state(pbx_rw, new) == expected


def test_same_as_office_pjsip_with_voicemail_and_followme(pbx_rw):
    # The office's CIDs use the fictional 555-123-xxxx exchange, which is not a valid NANP number
    # (exchange must be N = 2-9), so the new extension gets 555-223-0101 instead.
    r = pbx_rw.post("extension/add", data=office_params("101", "151", outboundcid='"Alice Johnson" <5552230101>'))
    assert r.status_code == 201, body(r)
    expected = office_state(pbx_rw, "101", "151")
    actual = state(pbx_rw, "151")
    # Known, deliberate differences from the office's 101 (made with the full GUI form, later edited):
    del expected["astdb"]["/AMPUSER/151/hint"]                      # written by reload
    assert expected["astdb"]["/AMPUSER/151/followme/grplist"] == "151-5558675309#"  # an external number added later
    expected["astdb"]["/AMPUSER/151/followme/grplist"] = "151"
    expected["findmefollow"][0]["grplist"] = "151"
    expected["astdb"]["/AMPUSER/151/novmpw"] = "yes"               # Quick Create's passlogin=no
    assert expected["users"][0]["outboundcid"] == '"Alice Johnson" <5551230101>'
    expected["users"][0]["outboundcid"] = expected["astdb"]["/AMPUSER/151/outboundcid"] = \
        '"Alice Johnson" <5552230101>'
    assert expected["vm"][0].endswith(",attach=yes|saycid=yes|envelope=yes|delete=no")  # GUI form options
    expected["vm"][0] = expected["vm"][0].replace("attach=yes|saycid=yes|envelope=yes", "attach=no|saycid=no|envelope=no")
    assert actual == expected


def test_same_as_office_virtual_with_voicemail(pbx_rw):
    r = pbx_rw.post("extension/add", data=office_params("190", "195"))
    assert r.status_code == 201, body(r)
    assert body(r)["data"]["secret"] is None  # a virtual extension has none (and none was generated)
    expected = office_state(pbx_rw, "190", "195")
    expected["astdb"]["/AMPUSER/195/novmpw"] = "yes"
    expected["astdb"]["/CustomPresence/195"] = "available,,"  # Core::addDevice sets it for every tech
    expected["vm"][0] = expected["vm"][0].replace("attach=yes", "attach=no")
    actual = state(pbx_rw, "195")
    assert actual == expected
    assert actual["devices"] == [] and actual["sip"] == []
    assert actual["astdb"]["/DEVICE/195/dial"] == "VIRTUAL/195"
    assert actual["vm"][0] == ("195=1900,General Mailbox,office@bayviewdental.example|"
                               "alice.johnson@bayviewdental.example,,attach=no|saycid=no|envelope=no|delete=no")


def test_virtual_with_followme_only(pbx_rw):
    r = pbx_rw.post("extension/add", data={"extension": "196", "exttype": "virtual", "followme": "1"})
    assert r.status_code == 201, body(r)
    st = state(pbx_rw, "196")
    assert st["users"][0]["voicemail"] == "novm" and st["users"][0]["name"] == "196"
    assert st["devices"] == [] and st["sip"] == [] and st["vm"] == []
    assert st["findmefollow"][0]["grplist"] == "196" and st["findmefollow"][0]["grptime"] == 20
    assert st["astdb"]["/CustomDevstate/FOLLOWME196"] == "BUSY"
    assert st["astdb"]["/CustomPresence/196"] == "available,,"  # addDevice sets it for a virtual one too
    assert st["astdb"]["/DEVICE/196/tech"] == "virtual"
    assert st["astdb"]["/AMPUSER/196/recording/ondemand"] == "enabled"  # rfapi's default for a new extension
    assert "/AMPUSER/196/novmpw" not in st["astdb"]


def test_chan_sip_rows_and_generated_secret(pbx_rw):
    r = pbx_rw.post("extension/add", data={"extension": "260", "exttype": "chansip", "displayname": "Paging 2"})
    assert r.status_code == 201, body(r)
    b = body(r)
    assert b["message"] == "Created; the generated SIP secret is shown only this once"
    secret = b["data"]["secret"]
    assert re.fullmatch(r"[0-9a-f]{32}", secret)
    e = dict(office.EXTENSIONS_BY_NUMBER["202"], number="260", secret=secret, sip_callerid="")
    assert state(pbx_rw, "260")["sip"] == sorted((kw, d, fl) for _, kw, d, fl in office._chansip_rows(e))
    assert len(state(pbx_rw, "260")["sip"]) == 36
    assert ("dtmfmode", "rfc2833", 3) in state(pbx_rw, "260")["sip"]
    # Shown once: not in the listing, not in the audit log.
    listing = body(pbx_rw.get("extensions/260"))["data"]
    assert listing["secret"] is None and listing["tech"] == "sip"
    assert secret not in (pbx_rw.root / "audit.log").read_text()


def test_settings_are_read_live_from_freepbx_settings(pbx_rw):
    for kw, val in (("DEVICE_SIP_DTMF", "info"), ("DEVICE_SIP_TRUSTRPID", "no"), ("DEVICE_SIP_QUALIFYFREQ", "30"),
                    ("DEVICE_ALLOW", "ulaw&alaw"), ("CONCURRENCYLIMITDEFAULT", "7"), ("CFRINGTIMERDEFAULT", "15"),
                    ("ENABLECW", "0"), ("FOLLOWME_PRERING", "9"), ("FOLLOWME_RG_STRATEGY", "hunt"),
                    ("FOLLOWME_TIME", "33"), ("ASTSIPDRIVER", "chan_sip"), ("DEVICE_SIP_NAT", "never")):
        pbx_rw.sql("UPDATE freepbx_settings SET value = %s WHERE keyword = %s", (val, kw))
    r = pbx_rw.post("extension/add", data={"extension": "160", "exttype": "pjsip", "followme": "yes",
                                           "secret": "abcdefghijkl12"})
    assert r.status_code == 201, body(r)
    st = state(pbx_rw, "160")
    sip = {kw: d for kw, d, _ in st["sip"]}
    # Core::filterValidCodecs turns the setting's '&' joins into ','
    assert (sip["dtmfmode"], sip["trustrpid"], sip["qualifyfreq"], sip["allow"]) == ("info", "no", "30", "ulaw,alaw")
    assert st["astdb"]["/AMPUSER/160/concurrency_limit"] == "7"
    assert st["astdb"]["/AMPUSER/160/cfringtimer"] == "15"
    assert "/CW/160" not in st["astdb"]
    assert st["findmefollow"][0]["pre_ring"] == 9 and st["findmefollow"][0]["strategy"] == "hunt"
    assert st["findmefollow"][0]["grptime"] == 33
    # exttype=sip follows ASTSIPDRIVER: chan_sip only -> a chan_sip device
    r = pbx_rw.post("extension/add", data={"extension": "161", "exttype": "sip", "secret": "abcdefghijkl12"})
    assert r.status_code == 201, body(r)
    st = state(pbx_rw, "161")
    assert st["devices"][0]["tech"] == "sip" and st["devices"][0]["dial"] == "SIP/161"
    sip = {kw: d for kw, d, _ in st["sip"]}
    assert sip["sipdriver"] == "chan_sip" and sip["nat"] == "never" and sip["dtmfmode"] == "info"


def test_sip_means_pjsip_when_driver_is_both(pbx_rw):
    assert office.SETTINGS["ASTSIPDRIVER"] == "both"
    r = pbx_rw.post("extension/add", data={"extension": "162", "exttype": "sip"})
    assert r.status_code == 201
    assert state(pbx_rw, "162")["devices"][0]["tech"] == "pjsip"


BAD = [
    ({"exttype": "pjsip"}, "extension", "is required"),
    ({"extension": "12a", "exttype": "pjsip"}, "extension", "must be 2 to 10 digits"),
    ({"extension": "1", "exttype": "pjsip"}, "extension", "must be 2 to 10 digits"),
    ({"extension": "12345678901", "exttype": "pjsip"}, "extension", "must be at most 10 characters"),
    ({"extension": "170"}, "exttype", "is required"),
    ({"extension": "170", "exttype": "iax2"}, "exttype", "must be one of: sip, pjsip, chansip, virtual"),
    ({"extension": "170", "exttype": "pjsip", "secret": "short-1"}, "secret", "at least 12 characters"),
    ({"extension": "170", "exttype": "pjsip", "secret": "has a space 123"}, "secret", "no spaces"),
    ({"extension": "170", "exttype": "pjsip", "secret": "semi;colon-1234"}, "secret", "no spaces"),
    ({"extension": "170", "exttype": "virtual", "secret": "abcdefghijkl12"}, "secret", "virtual"),
    ({"extension": "170", "exttype": "pjsip", "outboundcid": "123"}, "outboundcid", "NANP"),
    ({"extension": "170", "exttype": "pjsip", "outboundcid": "0552230100"}, "outboundcid", "NANP"),
    ({"extension": "170", "exttype": "pjsip", "outboundcid": "5551230100"}, "outboundcid", "NANP"),
    ({"extension": "170", "exttype": "pjsip", "outboundcid": "25551230100"}, "outboundcid", "NANP"),
    ({"extension": "170", "exttype": "pjsip", "outboundcid": '"Name" <123>'}, "outboundcid", "NANP"),
    ({"extension": "170", "exttype": "pjsip", "outboundcid": '"Na"me" <5552230100>'}, "outboundcid", "NANP"),
    ({"extension": "170", "exttype": "pjsip", "emergencycid": "555123010"}, "emergencycid", "NANP"),
    ({"extension": "170", "exttype": "virtual", "emergencycid": "5552230100"}, "emergencycid", "virtual"),
    ({"extension": "170", "exttype": "pjsip", "voicemail": "yes"}, "voicemailpassword", "is required"),
    ({"extension": "170", "exttype": "pjsip", "voicemail": "yes", "voicemailpassword": "12a4"},
     "voicemailpassword", "digits only"),
    ({"extension": "170", "exttype": "pjsip", "voicemail": "yes", "voicemailpassword": "123"},
     "voicemailpassword", "at least 4"),
    ({"extension": "170", "exttype": "pjsip", "voicemail": "yes", "voicemailpassword": "1234",
      "email": "not-an-email"}, "email", "e-mail"),
    ({"extension": "170", "exttype": "pjsip", "email": "a@b.example"}, "email", "only used with voicemail"),
    ({"extension": "170", "exttype": "pjsip", "voicemail": "perhaps"}, "voicemail", "must be a boolean"),
    ({"extension": "170", "exttype": "pjsip", "followmegrptime": "20"}, "followmegrptime", "only used with followme"),
    ({"extension": "170", "exttype": "pjsip", "followme": "yes", "followmegrptime": "0"}, "followmegrptime",
     "at least 1"),
    ({"extension": "170", "exttype": "pjsip", "followme": "yes", "followmegrptime": "500"}, "followmegrptime",
     "at most 120"),
    ({"extension": "170", "exttype": "pjsip", "recInternalIn": "sometimes"}, "recInternalIn", "always, dontcare"),
    ({"extension": "170", "exttype": "pjsip", "recExternalOut": "maybe"}, "recExternalOut", "always, dontcare"),
    ({"extension": "170", "exttype": "pjsip", "recOndemand": "maybe"}, "recOndemand", "enabled, disabled"),
    ({"extension": "170", "exttype": "pjsip", "recPriority": "21"}, "recPriority", "at most 20"),
    ({"extension": "170", "exttype": "pjsip", "recPriority": "-1"}, "recPriority", "at least 0"),
    ({"extension": "170", "exttype": "pjsip", "displayname": "A;B"}, "displayname", "';'"),
    ({"extension": "170", "exttype": "pjsip", "displayname": "x" * 51}, "displayname", "at most 50"),
    ({"extension": "170", "exttype": "pjsip", "displayname": "a\nb"}, "displayname", "control characters"),
    ({"extension": "170", "exttype": "pjsip", "voicemial": "yes"}, "voicemial", "unknown parameter"),
]


@pytest.mark.parametrize("params,field,why", BAD, ids=[b[1] + "-" + str(i) for i, b in enumerate(BAD)])
def test_validation_failure_writes_nothing(pbx_rw, params, field, why):
    before = pbx_rw.snapshot()
    r = pbx_rw.post("extension/add", data=params)
    assert r.status_code == 400, body(r)
    errors = body(r)["data"]["errors"]
    assert field in errors and why in errors[field], errors
    assert pbx_rw.snapshot() == before


def test_short_secret_message_says_so(pbx_rw):
    r = pbx_rw.post("extension/add", data={"extension": "170", "exttype": "pjsip", "secret": "abc"})
    assert body(r)["data"]["errors"]["secret"] == (
        "is too short: a SIP secret needs at least 12 characters (omit it to have a 32-character one generated)")


@pytest.mark.parametrize("number,kind", [("101", "extension"), ("600", "ringgroup"), ("400", "queue"),
                                         ("800", "conference"), ("190", "extension")])
def test_number_in_use_is_409_and_writes_nothing(pbx_rw, number, kind):
    before = pbx_rw.snapshot()
    r = pbx_rw.post("extension/add", data={"extension": number, "exttype": "pjsip"})
    assert r.status_code == 409
    b = body(r)
    assert b["data"] == {"number": number, "used_by": kind}
    assert b["message"].startswith("Number %s is already used by" % number)
    assert pbx_rw.snapshot() == before


def test_device_row_without_user_is_409(pbx_rw):
    pbx_rw.sql("INSERT INTO devices (id, tech, dial, devicetype, user, description, emergency_cid) "
               "VALUES ('171', 'pjsip', 'PJSIP/171', 'fixed', '171', 'orphan', '')")
    before = pbx_rw.snapshot()
    r = pbx_rw.post("extension/add", data={"extension": "171", "exttype": "pjsip"})
    assert r.status_code == 409 and body(r)["data"]["used_by"] == "device"
    assert pbx_rw.snapshot() == before


def test_leftover_mailbox_in_voicemail_conf_is_409(pbx_rw):
    text = pbx_rw.voicemail_conf.read_text().replace("\n\n[pbxaliases]", "\n172=9999,Old Box,,,\n\n[pbxaliases]")
    pbx_rw.voicemail_conf.write_text(text)
    before = pbx_rw.snapshot()
    r = pbx_rw.post("extension/add", data={"extension": "172", "exttype": "pjsip"})
    assert r.status_code == 409
    assert body(r)["message"] == "voicemail.conf already has a mailbox 172 (in [default]); remove it first"
    assert pbx_rw.snapshot() == before


def _only_need_reload_differs(before, after):
    assert after["db"]["config"]["admin"] != before["db"]["config"]["admin"]
    assert ("need_reload", "true") in after["db"]["config"]["admin"]
    assert ("need_reload", "false") in before["db"]["config"]["admin"]
    strip = lambda s: without(s, "admin", lambda row: row[0] == "need_reload")  # noqa: E731
    assert strip(after) == strip(before)


@pytest.mark.parametrize("params", [
    FULL,
    {"extension": "197", "exttype": "virtual", "voicemail": "yes", "voicemailpassword": "1234", "followme": "y"},
    {"extension": "261", "exttype": "chansip", "emergencycid": "5552230261", "outboundcid": "5552230261"},
], ids=["pjsip-full", "virtual", "chan_sip"])
def test_create_then_delete_restores_everything(pbx_rw, params):
    before = pbx_rw.snapshot()
    assert pbx_rw.post("extension/add", data=params).status_code == 201
    assert pbx_rw.snapshot() != before
    r = pbx_rw.delete("extension/%s" % params["extension"])
    assert r.status_code == 200, body(r)
    assert body(r)["message"] == "Deleted"
    # FreePBX also leaves the need-reload flag at 'true' after a delete: that is the only difference.
    _only_need_reload_differs(before, pbx_rw.snapshot())


def test_delete_returns_the_removed_extension_and_removes_what_freepbx_removes(pbx_rw):
    before = pbx_rw.snapshot()
    r = pbx_rw.delete("extension/101")
    assert r.status_code == 200, body(r)
    assert body(r)["data"] == dict(office_readback(office.EXTENSIONS_BY_NUMBER["101"], {
        "extension": "101", "name": "Alice Johnson", "tech": "pjsip", "voicemail": True,
        "voicemail_context": "default", "email": "alice.johnson@bayviewdental.example",
        "outboundcid": '"Alice Johnson" <5551230101>', "emergencycid": None, "followme": True,
        "followme_enabled": True,
        "recording": {"recExternalIn": "dontcare", "recExternalOut": "dontcare", "recInternalIn": "dontcare",
                      "recInternalOut": "dontcare", "recOndemand": "disabled", "recPriority": 10}}),
        voicemail_deleted=False)
    st = state(pbx_rw, "101")
    assert st == {"users": [], "devices": [], "sip": [], "findmefollow": [], "astdb": {}, "vm": []}
    after = pbx_rw.snapshot()
    # Spool kept (deletevoicemail not given).
    assert after["files"] == before["files"]
    # Every other key, row and line untouched.
    assert {k: v for k, v in after["astdb"].items()} == \
        {k: v for k, v in before["astdb"].items() if not (k.startswith("/AMPUSER/101/") or k.startswith("/DEVICE/101/")
                                                         or k in ("/CW/101", "/CustomPresence/101",
                                                                  "/CustomDevstate/FOLLOWME101"))}
    old_lines = before["voicemail_conf"].decode().splitlines(keepends=True)
    assert after["voicemail_conf"].decode() == "".join(
        l for l in old_lines if not (l.startswith("101=") or l.startswith("101@device=")))
    for table in ("users", "devices", "sip", "findmefollow"):
        assert after["db"]["config"][table] == [row for row in before["db"]["config"][table] if row[0] != "101"]
    assert need_reload(pbx_rw) == "true"


def test_delete_with_deletevoicemail_removes_the_spool_folder(pbx_rw):
    box = pbx_rw.spool / "default" / "190"
    assert any(box.rglob("*.txt"))
    other = sorted(str(p) for p in (pbx_rw.spool / "default" / "101").rglob("*"))
    r = pbx_rw.delete("extension/190", data={"deletevoicemail": "yes"})
    assert r.status_code == 200, body(r)
    assert body(r)["data"]["voicemail_deleted"] is True
    assert not box.exists()
    assert [p.name for p in (pbx_rw.spool / "default").iterdir() if p.name.startswith(".")] == []
    assert sorted(str(p) for p in (pbx_rw.spool / "default" / "101").rglob("*")) == other


def test_delete_removes_dnd_and_call_forward_keys(pbx_rw):
    assert astdb_of(pbx_rw, "108")["/DND/108"] == "YES"
    assert pbx_rw.delete("extension/108").status_code == 200
    assert astdb_of(pbx_rw, "108") == {}
    assert astdb_of(pbx_rw, "112")["/CF/112"] == "5559871234"
    assert pbx_rw.delete("extension/112").status_code == 200
    assert astdb_of(pbx_rw, "112") == {}


def test_delete_unknown_is_404_and_writes_nothing(pbx_rw):
    before = pbx_rw.snapshot()
    for path in ("extension/999", "extension/abc", "extension/600"):
        r = pbx_rw.delete(path)
        assert r.status_code == 404, path
        assert body(r)["message"] == "Extension %s not found" % path.split("/")[1]
    assert pbx_rw.snapshot() == before


def test_methods(pbx):
    r = pbx.put("extension/101")
    assert r.status_code == 200 and body(r)["message"] == "Unchanged: every value sent is already set"
    r = pbx.get("extension/101")
    assert r.status_code == 405 and r.headers["Allow"] == "DELETE, PUT"
    r = pbx.get("extension/add")
    assert r.status_code == 405


def test_delete_refuses_unknown_parameter(pbx_rw):
    before = pbx_rw.snapshot()
    r = pbx_rw.delete("extension/101", data={"deletevoicemial": "yes"})
    assert r.status_code == 400
    assert pbx_rw.snapshot() == before


def test_outboundcid_forms(pbx_rw):
    for n, given, stored in (("163", "Front Desk <5552230100>", '"Front Desk" <5552230100>'),
                             ("164", "15552230100", "15552230100"),
                             ("165", ' "Bayview"  < 5552230100 > ', '"Bayview" <5552230100>')):
        r = pbx_rw.post("extension/add", data={"extension": n, "exttype": "virtual", "outboundcid": given})
        assert r.status_code == 201, body(r)
        assert state(pbx_rw, n)["users"][0]["outboundcid"] == stored
        assert state(pbx_rw, n)["astdb"]["/AMPUSER/%s/outboundcid" % n] == stored


def test_voicemail_lines_of_other_boxes_untouched(pbx_rw):
    before = pbx_rw.voicemail_conf.read_bytes()
    r = pbx_rw.post("extension/add", data={"extension": "166", "exttype": "virtual", "voicemail": "yes",
                                           "voicemailpassword": "4321", "displayname": "Smith, John"})
    assert r.status_code == 201
    after = pbx_rw.voicemail_conf.read_bytes()
    added = [l for l in after.decode().splitlines(keepends=True) if l not in before.decode().splitlines(keepends=True)]
    assert added == ["166=4321,Smith John,,,attach=no|saycid=no|envelope=no|delete=no\n", "166@device=166@default\n"]
    assert vm_lines(pbx_rw, "166")[0].startswith("166=4321,Smith John,")
