"""Voicemail recorded by the real app_voicemail: listed with its real metadata,
downloaded byte-identical, deleted; MailboxCount / VoicemailUsersList agree
afterwards, and the renumbering is what app_voicemail expects (the next real
message lands as the next number)."""
from __future__ import annotations

import configparser

import pytest

from tests.realpbx.conftest import wait_for
from tests.support import office

BOX = "351"


@pytest.fixture(scope="module")
def mailbox(real):
    r = real.api.post("extension/add", extension=BOX, exttype="pjsip", displayname="Voicemail Box",
                      voicemail="yes", voicemailpassword="8642", email="vm351@example.com")
    assert r.status == 201, r
    real.apply_config()   # voicemail reload: app_voicemail now knows the box rfapi wrote
    (real.ast.sounds / "rfapi-tone.wav").write_bytes(office.wav_pcm(seconds=3.0))
    # The lab build has no sound files, and app_voicemail hangs up when a prompt
    # is missing: give it the few prompts leaving a message plays (short tones).
    (real.ast.sounds / "digits").mkdir(exist_ok=True)
    for name in ["beep", "vm-intro", "vm-theperson", "vm-isunavail", "vm-isonphone", "vm-goodbye",
                 "vm-msgsaved", "auth-thankyou", "vm-review"] + ["digits/%d" % i for i in range(10)]:
        (real.ast.sounds / (name + ".wav")).write_bytes(office.wav_pcm(seconds=0.1, freq=880.0))
    yield real.ast.spool / "voicemail" / "default" / BOX
    real.api.delete("extension/%s" % BOX, deletevoicemail="yes")
    real.apply_config()


def _leave_message(real, inbox, expect: str) -> dict:
    """A caller reaches vmu<box> (FreePBX's 'unavailable' entry) and plays 3 s of tone."""
    real.ast.rx("channel originate Local/vmu%s@ext-local application Playback rfapi-tone" % BOX)
    wait_for(lambda: (inbox / (expect + ".txt")).exists() and (inbox / (expect + ".wav")).exists()
             and "0 active channels" in real.ast.rx("core show channels count"), 20, "message %s" % expect)
    meta = configparser.ConfigParser(interpolation=None)
    meta.read(inbox / (expect + ".txt"))
    return dict(meta["message"])


def _mailbox_count(real):
    ami = real.ami()
    try:
        d = dict(ami.action("MailboxCount", Mailbox="%s@default" % BOX))
        _, users = ami.action_list("VoicemailUsersList")
    finally:
        ami.close()
    mine = [dict(u) for u in users if dict(u).get("VoiceMailbox") == BOX]
    return int(d["NewMessages"]), int(mine[0]["NewMessageCount"]) if mine else None


def test_real_messages_listed_downloaded_deleted(real, mailbox):
    inbox = mailbox / "INBOX"
    m0 = _leave_message(real, inbox, "msg0000")
    m1 = _leave_message(real, inbox, "msg0001")
    assert _mailbox_count(real) == (2, 2)

    r = real.api.get("voicemail/%s" % BOX)
    assert r.status == 200, r
    listed = {m["file"]: m for m in r.data if m["folder"] == "INBOX"}
    assert sorted(listed) == ["msg0000", "msg0001"]
    for name, meta in (("msg0000", m0), ("msg0001", m1)):
        m = listed[name]
        assert m["origtime"] == int(meta["origtime"])
        assert m["duration"] == int(meta["duration"]) and m["duration"] >= 2
        assert m["callerid"] == meta["callerid"]
        assert m["msg_id"] == meta["msg_id"]
        assert m["callerchan"] == meta["callerchan"]
        assert "wav" in m["formats"] and "WAV" in m["formats"]   # format=wav49|wav
        # download: the bytes app_voicemail wrote
        a = real.api.get("voicemail/%s/%s" % (BOX, m["id"]), format="wav")
        assert a.status == 200 and a.ctype.startswith("audio/")
        assert a.raw == (inbox / (name + ".wav")).read_bytes()
        w = real.api.get("voicemail/%s/%s" % (BOX, m["id"]), format="WAV")
        assert w.raw == (inbox / (name + ".WAV")).read_bytes()

    # delete the older one: the other is renumbered to msg0000, as app_voicemail keeps folders
    d = real.api.delete("voicemail/%s/%s" % (BOX, listed["msg0000"]["id"]))
    assert d.status == 200, d
    assert sorted(p.name for p in inbox.iterdir()) == ["msg0000.WAV", "msg0000.txt", "msg0000.wav"]
    kept = configparser.ConfigParser(interpolation=None)
    kept.read(inbox / "msg0000.txt")
    assert kept["message"]["msg_id"] == m1["msg_id"]
    assert _mailbox_count(real) == (1, 1)
    r = real.api.get("voicemail/%s" % BOX)
    assert [(m["file"], m["msg_id"]) for m in r.data if m["folder"] == "INBOX"] == [("msg0000", m1["msg_id"])]

    # the next real message is msg0001: app_voicemail agrees with the renumbering
    m2 = _leave_message(real, inbox, "msg0001")
    assert m2["msg_id"] not in (m0["msg_id"], m1["msg_id"])
    assert _mailbox_count(real) == (2, 2)
    r = real.api.get("voicemail/%s" % BOX)
    assert sorted((m["file"], m["msg_id"]) for m in r.data if m["folder"] == "INBOX") == [
        ("msg0000", m1["msg_id"]), ("msg0001", m2["msg_id"])]
