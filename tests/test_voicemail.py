"""Voicemail on the real spool tree of the fixture office: listing, download,
deletion (files gone, folders renumbered, Asterisk's lock respected, MWI refresh
sent), symlinks and bad ids, AMI outages."""
from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path

import pytest

from rfapi.services import voicemail as vm_service
from tests.support import office
from tests.support.world import body


def sent(peer):
    return [(a.name, [(k, v) for k, v in a.headers if k not in ("Action", "ActionID")])
            for a in peer.actions if a.name != "Login"]


def messages(box):
    return [m for m in office.spool_messages() if m["box"] == box]


def folder(pbx, box, name="INBOX"):
    return Path(pbx.spool) / "default" / box / name


def listing(pbx, box):
    return sorted(p.name for p in folder(pbx, box).iterdir())


def spool_files(pbx):
    return {str(p): p.read_bytes() for p in sorted(Path(pbx.spool).rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- listing

def test_list_every_folder_newest_first(pbx):
    r = pbx.get("voicemail/101")
    assert r.status_code == 200, body(r)
    data = body(r)["data"]
    want = sorted(messages("101"), key=lambda m: -m["origtime"])
    assert [(d["id"], d["folder"], d["file"]) for d in data] == [(m["msg_id"], m["folder"], m["stem"]) for m in want]
    first = data[0]
    m = want[0]
    assert first == {
        "id": m["msg_id"], "msg_id": m["msg_id"], "folder": m["folder"], "file": m["stem"], "number": m["number"],
        "callerid": m["callerid"], "callerid_name": "Bob Smith", "callerid_number": "102",
        "origtime": m["origtime"], "origdate": m["origdate"],
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(m["origtime"])),
        "duration": m["duration"], "flag": "", "urgent": False, "origmailbox": "101", "context": "from-internal",
        "exten": "101", "callerchan": m["callerchan"], "category": "", "formats": ["wav"],
        "mailbox": "101", "vm_context": "default"}
    urgent = [d for d in data if d["folder"] == "Urgent"][0]
    assert (urgent["flag"], urgent["urgent"]) == ("Urgent", True)
    assert [d["formats"] for d in data if d["folder"] == "Old"] == [["wav", "WAV"]]
    assert pbx.peer.actions == []                   # the spool is read directly


def test_list_other_boxes(pbx):
    data = body(pbx.get("voicemail/190"))["data"]           # a virtual extension's box
    assert [d["callerid"] for d in data] == [m["callerid"] for m in
                                             sorted(messages("190"), key=lambda m: -m["origtime"])]
    assert data[-1]["callerid_name"] == "UNKNOWN"
    no_name = [d for d in data if d["callerid"] == "<6175550123>"][0]
    assert (no_name["callerid_name"], no_name["callerid_number"]) == ("", "6175550123")
    assert body(pbx.get("voicemail/109"))["data"] == []      # a box with no message yet


def test_no_mailbox_is_404(pbx):
    r = pbx.get("voicemail/106")
    assert r.status_code == 404 and body(r)["message"] == "Extension 106 has no voicemail box"
    r = pbx.get("voicemail/999")
    assert r.status_code == 404 and body(r)["message"] == "Extension 999 not found"


def test_other_voicemail_context(pbx_rw):
    pbx_rw.sql("UPDATE users SET voicemail = %s WHERE extension = %s", ("sales", "109"))
    inbox = Path(pbx_rw.spool) / "sales" / "109" / "INBOX"
    inbox.mkdir(parents=True)
    m = dict(messages("101")[0], box="109", msg_id="1790000000-0000abcd")
    (inbox / "msg0000.txt").write_text(office.message_txt(m))
    (inbox / "msg0000.wav").write_bytes(b"RIFF....WAVE")
    data = body(pbx_rw.get("voicemail/109"))["data"]
    assert [(d["id"], d["vm_context"]) for d in data] == [("1790000000-0000abcd", "sales")]
    r = pbx_rw.delete("voicemail/109/1790000000-0000abcd")
    assert r.status_code == 200, body(r)
    assert sorted(os.listdir(inbox)) == []
    assert sent(pbx_rw.peer) == [("VoicemailRefresh", [("Context", "sales"), ("Mailbox", "109")])]


# --------------------------------------------------------------------------- download

def test_download_formats(pbx):
    m = [x for x in messages("101") if x["folder"] == "INBOX" and x["number"] == 0][0]
    d = folder(pbx, "101")
    r = pbx.get("voicemail/101/%s" % m["msg_id"])
    assert r.status_code == 200
    assert r.get_data() == (d / "msg0000.wav").read_bytes()
    assert r.headers["Content-Type"] == "audio/wav"
    assert r.headers["Content-Disposition"] == 'attachment; filename="voicemail-101-INBOX-msg0000.wav"'
    for fmt in ("WAV", "wav49"):
        r = pbx.get("voicemail/101/%s" % m["msg_id"], query_string={"format": fmt})
        assert r.status_code == 200
        assert r.get_data() == (d / "msg0000.WAV").read_bytes()
        assert r.get_data()[20:22] == b"\x31\x00"       # GSM 6.10 in a RIFF/WAVE container
        assert r.headers["Content-Type"] == "audio/wav"
        assert r.headers["Content-Disposition"] == 'attachment; filename="voicemail-101-INBOX-msg0000.WAV"'
    r = pbx.get("voicemail/101/%s" % m["msg_id"], query_string={"format": "gsm"})
    assert r.status_code == 404
    assert body(r) == {"status": 404, "message": "Format gsm is not available for this message",
                       "data": {"formats": ["wav", "WAV"]}}


def test_download_gsm_and_bare_file_ids(pbx):
    d = folder(pbx, "101")
    (d / "msg0001.gsm").write_bytes(office.gsm_raw())
    r = pbx.get("voicemail/101/msg0001", query_string={"format": "gsm"})      # msgNNNN = INBOX
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "audio/x-gsm"
    assert r.get_data() == office.gsm_raw()
    r = pbx.get("voicemail/101/Old-msg0000")
    assert r.status_code == 200
    assert r.get_data() == (folder(pbx, "101", "Old") / "msg0000.wav").read_bytes()
    assert pbx.get("voicemail/101/msg0007").status_code == 404
    assert pbx.get("voicemail/101/1234567890-deadbeef").status_code == 404


# --------------------------------------------------------------------------- delete

def test_delete_removes_every_file_renumbers_and_refreshes_mwi(pbx):
    inbox = folder(pbx, "101")
    target = [m for m in messages("101") if m["folder"] == "INBOX" and m["number"] == 0][0]
    survivor = [m for m in messages("101") if m["folder"] == "INBOX" and m["number"] == 1][0]
    sha = hashlib.sha1(b"x").hexdigest()
    # UCP's converted copies of both messages.
    (inbox / ("msg0000_%s.mp3" % sha)).write_bytes(b"ID3 copy of 0")
    (inbox / ("msg0001_%s.mp3" % sha)).write_bytes(b"ID3 copy of 1")
    survivor_txt = (inbox / "msg0001.txt").read_bytes()
    survivor_wav = (inbox / "msg0001.wav").read_bytes()
    others = {p: b for p, b in spool_files(pbx).items() if not p.startswith(str(inbox) + "/")}

    r = pbx.delete("voicemail/101/%s" % target["msg_id"])
    assert r.status_code == 200, body(r)
    assert body(r)["data"] == {
        "mailbox": "101", "context": "default",
        "deleted": [{"id": target["msg_id"], "folder": "INBOX", "file": "msg0000"}],
        "renumbered": {"INBOX": [{"from": "msg0001", "to": "msg0000"}]}, "mwi_refreshed": True}
    # The survivor is now msg0000 (txt, audio and its UCP copy), nothing else is left.
    assert listing(pbx, "101") == ["msg0000.txt", "msg0000.wav", "msg0000_%s.mp3" % sha]
    assert (inbox / "msg0000.txt").read_bytes() == survivor_txt
    assert (inbox / "msg0000.wav").read_bytes() == survivor_wav
    assert (inbox / ("msg0000_%s.mp3" % sha)).read_bytes() == b"ID3 copy of 1"
    assert {p: b for p, b in spool_files(pbx).items() if not p.startswith(str(inbox) + "/")} == others
    assert sent(pbx.peer) == [("VoicemailRefresh", [("Context", "default"), ("Mailbox", "101")])]
    # The stable id still finds the renumbered message.
    data = body(pbx.get("voicemail/101"))["data"]
    assert [(d["id"], d["file"]) for d in data if d["folder"] == "INBOX"] == [(survivor["msg_id"], "msg0000")]
    lines = [json.loads(l) for l in (pbx.root / "audit.log").read_text().splitlines()]
    assert [l["action"] for l in lines] == ["voicemail.delete"]


def test_bulk_delete_across_folders(pbx):
    ids = [m["msg_id"] for m in messages("190") if m["number"] in (0, 2)]
    r = pbx.post("voicemail/190", data={"messages[]": ids})
    assert r.status_code == 200, body(r)
    data = body(r)["data"]
    assert [d["file"] for d in data["deleted"]] == ["msg0000", "msg0002"]
    assert data["renumbered"] == {"INBOX": [{"from": "msg0001", "to": "msg0000"}]}
    assert listing(pbx, "190") == ["msg0000.txt", "msg0000.wav"]
    kept = [m for m in messages("190") if m["number"] == 1][0]
    assert body(pbx.get("voicemail/190"))["data"][0]["id"] == kept["msg_id"]

    old = [m for m in messages("105")]
    r = pbx.post("voicemail/105", json={"messages": ["Old-msg0000", old[1]["msg_id"], "Old-msg0000"]})
    assert r.status_code == 200, body(r)
    assert sorted(os.listdir(folder(pbx, "105", "Old"))) == []
    assert body(r)["data"]["renumbered"] == {}
    assert sent(pbx.peer) == [("VoicemailRefresh", [("Context", "default"), ("Mailbox", "190")]),
                              ("VoicemailRefresh", [("Context", "default"), ("Mailbox", "105")])]


@pytest.mark.parametrize("how", ["form-repeated", "json-string"])
def test_bulk_delete_is_all_or_nothing(pbx, how):
    before = pbx.snapshot()
    good = messages("101")[0]["msg_id"]
    ids = [good, "1111111111-00000000", "msg0042"]
    if how == "form-repeated":
        r = pbx.post("voicemail/101", data={"messages": ids})
    else:
        r = pbx.post("voicemail/101", data={"messages": json.dumps(ids)})
    assert r.status_code == 404
    assert body(r) == {"status": 404, "message": "Unknown voicemail messages: 1111111111-00000000, msg0042",
                       "data": {"unknown": ["1111111111-00000000", "msg0042"]}}
    assert pbx.snapshot() == before
    assert pbx.peer.actions == []
    assert not [p for p in Path(pbx.spool).rglob(".lock*")]


def test_asterisk_lock_is_respected(pbx, monkeypatch):
    monkeypatch.setattr(vm_service, "LOCK_WAIT_SECONDS", 0.3)
    inbox = folder(pbx, "101")
    os.link(str(inbox / "msg0000.txt"), str(inbox / ".lock"))   # Asterisk holds the folder
    before = spool_files(pbx)
    r = pbx.delete("voicemail/101/msg0000")
    assert r.status_code == 409
    assert body(r)["message"] == "Mailbox folder INBOX is locked by Asterisk; try again"
    assert spool_files(pbx) == before                          # nothing deleted, Asterisk's lock kept
    assert (inbox / ".lock").exists()
    assert pbx.peer.actions == []
    # Asterisk lets go while we wait: the delete goes through.
    monkeypatch.setattr(vm_service, "LOCK_WAIT_SECONDS", 10.0)
    threading.Timer(0.2, os.unlink, [str(inbox / ".lock")]).start()
    r = pbx.delete("voicemail/101/msg0000")
    assert r.status_code == 200, body(r)
    assert listing(pbx, "101") == ["msg0000.txt", "msg0000.wav"]
    assert not [p for p in Path(pbx.spool).rglob(".lock*")]    # our own lock and temp files are gone


def test_ami_down_still_deletes_and_says_mwi_was_not_refreshed(pbx):
    pbx.peer.stop()
    assert pbx.get("voicemail/101").status_code == 200
    r = pbx.delete("voicemail/101/msg0001")
    assert r.status_code == 200, body(r)
    data = body(r)["data"]
    assert (data["mwi_refreshed"], data["mwi_error"]) == (False, "Asterisk (AMI) is unreachable")
    assert listing(pbx, "101") == ["msg0000.WAV", "msg0000.txt", "msg0000.wav"]
    assert pbx.get("test").status_code == 200


# ----------------------------------------------------------------- unsafe paths and ids

def test_symlinks_out_of_the_spool_are_never_followed(pbx, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.wav"
    secret.write_bytes(b"TOP SECRET")
    (outside / "evil.txt").write_text("[message]\nmsg_id=evil-1\ncallerid=evil\norigtime=1\n")
    inbox = folder(pbx, "101")
    (inbox / "msg0000.wav").unlink()
    os.symlink(str(secret), str(inbox / "msg0000.wav"))
    os.symlink(str(outside / "evil.txt"), str(inbox / "msg0005.txt"))
    os.symlink(str(outside), str(folder(pbx, "101", "Work")))   # a whole folder elsewhere
    os.rename(str(outside / "evil.txt"), str(outside / "msg0000.txt"))
    os.symlink(str(outside / "msg0000.txt"), str(inbox / "msg0006.txt"))

    data = body(pbx.get("voicemail/101"))["data"]
    ids = [d["id"] for d in data]
    assert "evil-1" not in ids and not [d for d in data if d["folder"] == "Work"]
    m0 = [d for d in data if d["folder"] == "INBOX" and d["file"] == "msg0000"][0]
    assert m0["formats"] == ["WAV"]                  # the escaping .wav is not offered
    r = pbx.get("voicemail/101/msg0000", query_string={"format": "wav"})
    assert r.status_code == 404 and b"TOP SECRET" not in r.get_data()
    # Deleting a message with a file leading out of the spool touches nothing.
    before = spool_files(pbx)
    r = pbx.delete("voicemail/101/msg0000")
    assert r.status_code == 404
    assert spool_files(pbx) == before
    assert secret.read_bytes() == b"TOP SECRET" and (inbox / "msg0000.wav").is_symlink()
    assert pbx.delete("voicemail/101/evil-1").status_code == 404
    assert pbx.delete("voicemail/101/Work-msg0000").status_code == 404
    assert (outside / "msg0000.txt").exists()


def test_deleting_a_link_inside_the_spool_removes_the_link_not_its_target(pbx):
    other = folder(pbx, "102") / "msg0000.wav"
    other_bytes = other.read_bytes()
    inbox = folder(pbx, "101")
    (inbox / "msg0001.wav").unlink()
    os.symlink(os.path.relpath(str(other), str(inbox)), str(inbox / "msg0001.wav"))
    r = pbx.get("voicemail/101/msg0001")
    assert r.status_code == 200 and r.get_data() == other_bytes      # inside the spool: readable
    r = pbx.delete("voicemail/101/msg0001")
    assert r.status_code == 200, body(r)
    assert listing(pbx, "101") == ["msg0000.WAV", "msg0000.txt", "msg0000.wav"]
    assert other.read_bytes() == other_bytes


def test_mailbox_symlinked_out_of_the_spool_is_404(pbx, tmp_path):
    outside = tmp_path / "box"
    (outside / "INBOX").mkdir(parents=True)
    (outside / "INBOX" / "msg0000.txt").write_text("[message]\nmsg_id=1-1\n")
    box = Path(pbx.spool) / "default" / "109"
    os.rmdir(str(box / "INBOX"))
    os.rmdir(str(box / "Old"))
    os.rmdir(str(box))
    os.symlink(str(outside), str(box))
    assert pbx.get("voicemail/109").status_code == 404
    assert pbx.delete("voicemail/109/1-1").status_code == 404
    assert (outside / "INBOX" / "msg0000.txt").exists()


@pytest.mark.parametrize("path,status", [
    ("voicemail/101/..", (400, 404)),
    ("voicemail/101/%2e%2e", (400, 404)),
    ("voicemail/101/..%2F..%2F..%2Fetc%2Fpasswd", (400, 404)),
    ("voicemail/101/%2Fetc%2Fpasswd", (400, 404)),
    ("voicemail/101/msg0000%00", (400, 404)),
    ("voicemail/101/msg..0000", (400,)),
    ("voicemail/101/msg0000;rm", (400,)),
    ("voicemail/101/%2E%2E%5C%2E%2E%5Cwin", (400,)),
    ("voicemail/..%2F..%2Fetc/msg0000", (404,)),
    ("voicemail/101%2F..%2F102/msg0000", (404,)),
])
def test_bad_message_ids(pbx, path, status):
    before = spool_files(pbx)
    for method in ("get", "delete"):
        r = getattr(pbx, method)(path)
        assert r.status_code in status, (method, path, r.status_code)
    assert spool_files(pbx) == before
    assert pbx.peer.actions == []


def test_bad_ids_in_bulk_delete_are_400(pbx):
    before = spool_files(pbx)
    for bad in ("../../etc/passwd", "/etc/passwd", "a/b", "..", "msg0000\r\nx"):
        r = pbx.post("voicemail/101", json={"messages": [messages("101")[0]["msg_id"], bad]})
        assert r.status_code == 400, bad
        assert list(body(r)["data"]["errors"]) == ["messages"]
    assert pbx.post("voicemail/101", json={}).status_code == 400
    assert spool_files(pbx) == before
