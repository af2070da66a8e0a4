"""Injection: AMI framing (CR/LF, Action: lines, NUL, overlong values) in every
field that reaches Asterisk, SQL metacharacters stored and returned literally,
path traversal in recordings/voicemail names, and look-alike path parameters.

Every refusal is checked for its effect too: nothing reached the AMI peer and
(for write routes, on a private database clone) nothing changed at all."""
from __future__ import annotations

import os

import pytest

from rfapi.services import vmconf
from tests.support import office
from tests.support.world import body

SECRET_101 = office.EXTENSIONS_BY_NUMBER["101"]["secret"]

# Values that would break AMI framing (each would start a second action) or a
# voicemail.conf line, plus one far over every field's length limit.
BREAKERS = {
    "crlf-action": "1\r\nAction: Originate\r\nChannel: Local/5550100@from-internal",
    "lf-action": "1\nAction: Command\nCommand: core stop now",
    "cr": "1\rAction: Logoff",
    "empty-line": "1\r\n\r\nAction: DBPut\r\nFamily: AMPUSER\r\nKey: 101/cidname\r\nVal: pwned",
    "nul": "1\x00Action: Originate",
    "overlong": "2" * 5000,
}


def new_actions(peer, before):
    return [(a.name, a.headers) for a in peer.actions[before:]]


def send(pbx, method, path, params, as_json):
    if method in ("GET", "DELETE"):
        return pbx.call(method, path, query_string=params)
    if as_json:
        return pbx.call(method, path, json=params)
    return pbx.call(method, path, data=params)


# (method, path, valid parameters, the AMI-bound fields to break)
AMI_ROUTES = [
    ("POST", "call", {"ext": "101", "secret": SECRET_101, "dest": "2125550147"}, ["ext", "secret", "dest"]),
    ("POST", "followme/101", {"action": "addExternal", "number": "5551112222"}, ["number", "action"]),
    ("POST", "extension/add",
     {"extension": "160", "exttype": "pjsip", "displayname": "Ok Name", "voicemail": "yes",
      "voicemailpassword": "1234", "email": "ok@example.com", "outboundcid": "2125550147",
      "emergencycid": "2125550148", "secret": "Abcdefgh12345678", "recInternalIn": "always",
      "recOndemand": "enabled"},
     ["extension", "displayname", "outboundcid", "emergencycid", "email", "secret", "voicemailpassword",
      "recInternalIn", "recOndemand", "exttype"]),
    ("POST", "voicemail/101", {"messages": "msg0000"}, ["messages"]),
    ("DELETE", "extension/101", {"deletevoicemail": "no"}, ["deletevoicemail"]),
]


@pytest.mark.parametrize("method,path,valid,fields", AMI_ROUTES, ids=[r[1] for r in AMI_ROUTES])
def test_ami_bound_fields_refuse_framing_characters_and_overlong_values(pbx_rw, method, path, valid, fields):
    before_state = pbx_rw.snapshot()
    n = len(pbx_rw.peer.actions)
    i = 0
    for field in fields:
        for name, bad in BREAKERS.items():
            if name == "overlong" and method in ("GET", "DELETE"):
                bad = bad[:3000]  # in a query string: under the 4094-byte target limit (over it: 414)
            params = dict(valid, **{field: bad})
            r = send(pbx_rw, method, path, params, as_json=bool(i % 2))
            i += 1
            b = body(r)
            assert r.status_code == 400, (field, name, b)
            assert b["status"] == 400 and field in b["data"]["errors"], (field, name, b)
            why = b["data"]["errors"][field]
            if field != "deletevoicemail":  # a boolean: "must be a boolean" for anything odd
                if name == "overlong":
                    assert why.startswith("must be at most "), (field, why)
                else:
                    assert why == "must not contain control characters (CR, LF, NUL, ...)", (field, why)
    assert new_actions(pbx_rw.peer, n) == []
    assert pbx_rw.snapshot() == before_state


# Path parameters are not declared Params: each service checks them. Every one
# that can reach AMI, with CR/LF + Action:, NUL, an encoded slash and an overlong id.
PATH_PROBES = [
    ("GET", "followme/{x}"), ("GET", "followme/{x}/status"), ("GET", "followme/101/{x}"),
    ("POST", "followme/{x}"), ("GET", "state/{x}"), ("GET", "registrations/{x}"),
    ("GET", "voicemail/{x}"), ("POST", "voicemail/{x}"), ("GET", "voicemail/101/{x}"),
    ("DELETE", "voicemail/101/{x}"), ("DELETE", "voicemail/{x}/msg0000"), ("DELETE", "extension/{x}"),
    ("GET", "extensions/{x}"), ("GET", "extdump/{x}"), ("DELETE", "did/{x}"), ("DELETE", "ampusers/{x}"),
    ("PUT", "ampusers/{x}"),
]
PATH_VALUES = ["101%0D%0AAction:%20Originate%0D%0AChannel:%20Local/1@x", "101%0AAction:%20Command",
               "101%00", "101%2F..%2F..", "..%2F101", "%2e%2e", "1" * 3000]


def test_path_parameters_with_framing_characters_never_reach_asterisk(pbx_rw):
    before_state = pbx_rw.snapshot()
    n = len(pbx_rw.peer.actions)
    seen = set()
    for method, template in PATH_PROBES:
        for value in PATH_VALUES:
            data = {"action": "enable"} if template == "followme/{x}" and method == "POST" else \
                {"messages": "msg0000"} if template == "voicemail/{x}" and method == "POST" else \
                {"password": "Sup3r-secret!", "sections": '["*"]'} if method == "PUT" else None
            r = pbx_rw.call(method, "/api/v1/" + template.replace("{x}", value), data=data)
            if template == "followme/101/{x}" and value.isdigit():
                # A (long) number is a fine question: "is it in 101's list?" - no.
                assert (r.status_code, body(r)["data"]) == (200, False)
                continue
            assert r.status_code in (400, 404, 405), (method, template, value, r.status_code, r.data[:300])
            assert body(r)["status"] == r.status_code
            seen.add(r.status_code)
    # Reads of the user's own follow-me keys may happen; none carries a probe.
    for name, headers in new_actions(pbx_rw.peer, n):
        assert name in ("Login", "DBGetTree", "DBGet"), (name, headers)
        for k, v in headers:
            assert not any(bad in v for bad in ("Action:", "\r", "\n", "\x00", "..", "1" * 50)), (name, headers)
    assert pbx_rw.snapshot() == before_state
    assert {400, 404} <= seen <= {400, 404, 405}


@pytest.mark.parametrize("suffix", ["%01", "%E2%80%8B", "%20", "%00"],
                         ids=["control-char", "zero-width-space", "trailing-space", "nul"])
def test_follow_me_of_a_look_alike_extension_writes_nothing(pbx_rw, suffix):
    """users.extension is utf8mb4_unicode_ci: '102<U+0001>', '102<U+200B>' and '102 '
    equal '102' in SQL, but AstDB keys and findmefollow.grpnum would take the
    caller's bytes (junk rows and keys FreePBX then turns into dialplan)."""
    before_state = pbx_rw.snapshot()
    n = len(pbx_rw.peer.actions)
    for action in ("enable", "addExternal"):
        data = {"action": action}
        if action == "addExternal":
            data["number"] = "5551112222"
        r = pbx_rw.post("followme/102" + suffix, data=data)
        assert r.status_code in (400, 404), body(r)
    for path in ("followme/102" + suffix, "followme/102%s/status" % suffix):
        assert pbx_rw.get(path).status_code in (400, 404)
    assert pbx_rw.snapshot() == before_state
    assert [a.name for a in pbx_rw.peer.actions[n:]] == []


def test_values_from_the_database_are_checked_before_asterisk_too(pbx_rw):
    """Second order: a voicemail context stored with CR/LF (by anything else
    that writes FreePBX's tables) is not sent to Asterisk."""
    pbx_rw.sql("UPDATE users SET voicemail = %s WHERE extension = '101'", ("default\r\nAction: Originate",))
    n = len(pbx_rw.peer.actions)
    for method, path in (("GET", "voicemail/101"), ("DELETE", "voicemail/101/msg0000"),
                         ("GET", "voicemail/101/msg0000")):
        r = pbx_rw.call(method, path)
        assert r.status_code == 404, (path, body(r))
    assert new_actions(pbx_rw.peer, n) == []


# C1 control characters and Unicode line/paragraph separators: Python's
# str.splitlines() (used by vmconf.split_lines) breaks lines at them, Asterisk
# does not, and docs/api.md promises control characters are refused.
LINE_BREAKERS = {"nel-c1": "\x85", "line-separator": "\u2028", "paragraph-separator": "\u2029"}


@pytest.mark.parametrize("char", list(LINE_BREAKERS.values()), ids=list(LINE_BREAKERS))
def test_unicode_line_breaks_are_refused_like_control_characters(pbx_rw, char):
    before_state = pbx_rw.snapshot()
    r = pbx_rw.post("did/add", data={"did": "5550009999", "description": "Main%s[evil]" % char})
    assert r.status_code == 400, body(r)
    assert pbx_rw.snapshot() == before_state


def test_displayname_cannot_inject_a_voicemail_conf_section(pbx_rw):
    original = pbx_rw.voicemail_conf.read_bytes()
    r = pbx_rw.post("extension/add", data={"extension": "161", "exttype": "pjsip", "voicemail": "yes",
                                           "voicemailpassword": "1234", "displayname": "Bob\u2028[evil]"})
    if r.status_code == 201:
        assert "evil" not in vmconf.mailboxes(pbx_rw.voicemail_conf.read_text())
        assert pbx_rw.delete("extension/161").status_code == 200
    else:
        assert r.status_code == 400
    assert pbx_rw.voicemail_conf.read_bytes() == original


# -- SQL metacharacters are data ------------------------------------------------------------
META = ["O'Brien", 'say "hi"', "back\\slash\\", "x'; DROP TABLE incoming; --", "100% _match_",
        "Zoë Ünïcödé 日本語 🎉", "' OR '1'='1", "\\'; --", "%", "_"]


def test_did_description_is_stored_and_returned_literally(pbx_rw):
    for i, text in enumerate(META):
        did = "55500001%02d" % i
        r = pbx_rw.post("did/add", data={"did": did, "description": text})
        assert r.status_code == 201, body(r)
        assert body(r)["data"]["description"] == text
        assert [row["description"] for row in body(pbx_rw.get("dids/" + did))["data"]] == [text]
        assert pbx_rw.sql("SELECT description FROM incoming WHERE extension = %s", (did,)) == \
            [{"description": text}]
    assert len(pbx_rw.sql("SELECT * FROM incoming")) == len(office.DIDS) + len(META)


def test_lookups_are_exact_never_patterns(pbx):
    """% and _ are LIKE wildcards: every lookup must be an exact match."""
    main = office.MAIN_DID
    for path in ("dids/%s_" % main[:-1], "dids/%s%%25" % main[:-2], "dids/%25", "extensions/10_",
                 "extensions/%25", "ampusers/%25", "ampusers/_", "followme/10_", "voicemail/10_",
                 "extdump/10_", "state/10_", "registrations/10_"):
        r = pbx.get(path)
        assert r.status_code in (400, 404), (path, body(r))
    r = pbx.get("cdr", query_string={"src": "%", "dest": "_", "did": "%"})
    assert r.status_code == 200 and body(r)["data"]["rows"] == []


def test_delete_with_wildcards_deletes_nothing(pbx_rw):
    before_state = pbx_rw.snapshot()
    for path in ("did/%25", "did/%s_" % office.MAIN_DID[:-1], "ampusers/%25", "ampusers/a_min",
                 "extension/10_", "voicemail/101/%25"):
        r = pbx_rw.delete(path)
        assert r.status_code in (400, 404), (path, body(r))
    assert pbx_rw.snapshot() == before_state


def test_admin_names_refuse_metacharacters_and_passwords_keep_them(pbx_rw):
    for bad in ("a'b", "a;--", "a%", "a_b", "a b", "Zoë"):
        r = pbx_rw.post("ampusers/add", json={"username": bad, "password": "x" * 12, "sections": ["*"]})
        assert r.status_code == 400 and "username" in body(r)["data"]["errors"], (bad, body(r))
    r = pbx_rw.post("ampusers/add", json={"username": "meta", "password": "x", "sections": ["*", "a'b"]})
    assert r.status_code == 400 and "sections" in body(r)["data"]["errors"]
    password = "p'\"\\;--%_ Zoë🎉"
    r = pbx_rw.post("ampusers/add", json={"username": "metauser", "password": password, "sections": ["*"]})
    assert r.status_code == 201, body(r)
    from tests.support.world import basic

    assert pbx_rw.get("test", auth=False, headers=basic("metauser", password)).status_code == 200
    assert pbx_rw.get("test", auth=False, headers=basic("metauser", password[:-1])).status_code == 401


def test_extension_fields_are_stored_literally_in_sql_astdb_and_voicemail_conf(pbx_rw):
    name = "Q'\"\\%_ Zoë 日本 🎉"
    cid = "\"O'Br\\ian %_\" <2125550147>"
    email = "o'brien%x_y@example.com"
    r = pbx_rw.post("extension/add", data={"extension": "162", "exttype": "pjsip", "displayname": name,
                                           "outboundcid": cid, "voicemail": "yes", "voicemailpassword": "1234",
                                           "email": email})
    assert r.status_code == 201, body(r)
    assert pbx_rw.sql("SELECT name, outboundcid FROM users WHERE extension = '162'") == \
        [{"name": name, "outboundcid": cid}]
    with pbx_rw.peer.lock:
        assert pbx_rw.peer.astdb["/AMPUSER/162/cidname"] == name
        assert pbx_rw.peer.astdb["/AMPUSER/162/outboundcid"] == cid
    box = vmconf.mailboxes(pbx_rw.voicemail_conf.read_text())["default"]["162"]
    assert (box["name"], box["email"], box["pwd"]) == (name, email, "1234")
    got = body(pbx_rw.get("extensions/162"))["data"]
    assert (got["name"], got["outboundcid"], got["email"]) == (name, cid, email)


# -- paths: recordings and voicemail ---------------------------------------------------------
TRAVERSALS = ["..", "%2e%2e", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
              "..%5C..%5Cetc", "custom%2Fwelcome", "%252e%252e%252fetc"]


def test_recording_names_cannot_leave_the_sounds_directory(pbx):
    for name in TRAVERSALS:
        r = pbx.get("recordings/" + name)
        assert r.status_code == 404, (name, r.status_code)
        assert b"root:" not in r.data
    for q in ({"lang": "../.."}, {"lang": "/etc"}, {"format": "../../../etc/passwd"}, {"format": "wav/.."}):
        r = pbx.get("recordings/Welcome%20Greeting", query_string=q)
        assert r.status_code == 400, (q, body(r))


def test_stored_recording_file_names_cannot_leave_the_sounds_directory(pbx_rw, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.wav").write_bytes(b"RIFF-TOP-SECRET")
    custom = pbx_rw.sounds / "en" / "custom"
    os.symlink(str(outside / "secret.wav"), str(custom / "linked.wav"))
    os.symlink(str(outside), str(pbx_rw.sounds / "en" / "elsewhere"))
    rows = [("Evil Dots", "../../../../../..%s/secret" % outside), ("Evil Abs", "%s/secret" % outside),
            ("Evil Link", "custom/linked"), ("Evil Dir", "elsewhere/secret")]
    for name, filename in rows:
        pbx_rw.sql("INSERT INTO recordings (displayname, filename, description, fcode) VALUES (%s, %s, '', 0)",
                   (name, filename))
    for name, _ in rows:
        r = pbx_rw.get("recordings/" + name.replace(" ", "%20"))
        assert r.status_code == 404, (name, r.status_code)
        assert b"TOP-SECRET" not in r.data
    listed = {rec["displayname"]: rec for rec in body(pbx_rw.get("recordings"))["data"]}
    for name, _ in rows:
        assert all(not f["languages"] for f in listed[name]["files"]), listed[name]


def test_voicemail_names_cannot_leave_the_spool(pbx, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "msg0000.wav").write_bytes(b"RIFF-TOP-SECRET")
    (outside / "msg0000.txt").write_text("[message]\nmsg_id=stolen\ncallerid=x\n")
    inbox = pbx.spool / "default" / "101" / "INBOX"
    os.symlink(str(outside / "msg0000.wav"), str(inbox / "msg0007.wav"))
    os.symlink(str(outside / "msg0000.txt"), str(inbox / "msg0007.txt"))
    for value in TRAVERSALS + ["msg0007", "stolen", "INBOX-msg0007"]:
        r = pbx.get("voicemail/101/" + value)
        assert r.status_code in (400, 404), (value, r.status_code)
        assert b"TOP-SECRET" not in r.data
    for ext in ("..", "%2e%2e", "..%2F101", "101%2F..%2F102"):
        assert pbx.get("voicemail/%s" % ext).status_code == 404
    ids = [m["id"] for m in body(pbx.get("voicemail/101"))["data"]]
    assert "stolen" not in ids and "INBOX-msg0007" not in ids
    r = pbx.delete("voicemail/101/msg0007")
    assert r.status_code == 404
    assert (outside / "msg0000.wav").read_bytes() == b"RIFF-TOP-SECRET"
