"""Extension create -> config generated from its rows -> Apply Config -> a real
SIPp phone registers with the secret rfapi returned -> /registrations shows it;
a wrong secret does not register; delete -> no registration, no AstDB key left."""
from __future__ import annotations

import pytest

from tests.realpbx import freepbx, sipp
from tests.realpbx.conftest import wait_for


def _register(real, ext: str, secret: str, name: str) -> int:
    port = real.sipp_port()
    ph = sipp.Phone(real.sipp_dir, name, "127.0.0.1:%d" % _sip_port(real, ext), [(ext, secret)], port,
                    sipp.register_scenario(), timeout=10)
    rc = ph.wait(20)
    ph.stop()
    return rc


def _sip_port(real, ext: str) -> int:
    tech = real.sql("SELECT tech FROM devices WHERE id = %s", (ext,))
    return real.ast.chansip_port if tech and tech[0]["tech"] == "sip" else real.ast.pjsip_port


@pytest.mark.parametrize("ext,exttype,tech", [("301", "pjsip", "pjsip"), ("311", "chansip", "sip")])
def test_create_register_delete(real, ext, exttype, tech):
    before = real.ast.astdb()
    r = real.api.post("extension/add", extension=ext, exttype=exttype, displayname="Real %s" % ext,
                      voicemail="yes", voicemailpassword="4321", email="r%s@example.com" % ext)
    assert r.status == 201, r
    secret = r.data["secret"]
    assert len(secret) == 32
    # the rfapi rows are what the generator reads: every key it needs exists
    conn_files = _generated(real)
    if tech == "pjsip":
        ep = _section(conn_files["pjsip.endpoint.conf"], ext)
        assert "auth=%s-auth" % ext in ep and "context=from-internal" in ep
        assert "callerid=Real %s <%s>" % (ext, ext) in ep      # map_dev_user: users.name
        assert "mailboxes=%s@default" % ext in ep              # <ext>@device -> users.voicemail context
        auth = _section(conn_files["pjsip.auth.conf"], ext + "-auth")
        assert auth == ["type=auth", "auth_type=userpass", "password=%s" % secret, "username=%s" % ext]
        aor = _section(conn_files["pjsip.aor.conf"], ext)
        assert "max_contacts=1" in aor and "remove_existing=yes" in aor and "qualify_frequency=60" in aor
    else:
        peer = _section(conn_files["sip_additional.conf"], ext)
        assert peer[0] == "deny=0.0.0.0/0.0.0.0"             # deny moved first, as FreePBX does
        assert "secret=%s" % secret in peer and "host=dynamic" in peer and "type=friend" in peer
        assert "nat=force_rport,comedia" in peer and "transport=udp" in peer
        assert "mailbox=%s@default" % ext in peer

    # Apply Config through rfapi: the tier's fwconsole writes the files and reloads
    real.apply_config()
    assert real.sql("SELECT value FROM admin WHERE variable = 'need_reload'")[0]["value"] == "false"
    if tech == "pjsip":
        assert "Endpoint:  %s/%s" % (ext, ext) in real.ast.rx("pjsip show endpoint %s" % ext)
    else:
        assert "Secret       : <Set>" in real.ast.rx("sip show peer %s" % ext)

    # a wrong secret does not register, the returned one does
    assert _register(real, ext, "wrong-" + secret[:10], "bad-" + ext) != 0
    assert real.api.get("registrations/%s" % ext).data["registered"] is False
    assert _register(real, ext, secret, "reg-" + ext) == 0

    def registered():
        d = real.api.get("registrations/%s" % ext).data
        return d if d["registered"] else None

    d = wait_for(registered, 10, "registration of %s visible in /registrations" % ext)
    assert d["tech"] == tech
    c = d["contacts"][0]
    assert c["user_agent"] == "rfapi-sipp %s" % ext
    assert c["ip"] == "127.0.0.1"
    written = {k: v for k, v in real.ast.astdb().items() if k not in before}
    assert written["/AMPUSER/%s/cidname" % ext] == "Real %s" % ext
    assert written["/DEVICE/%s/dial" % ext] == ("PJSIP/%s" % ext if tech == "pjsip" else "SIP/%s" % ext)

    # delete: every key rfapi wrote is gone, the phone can no longer register
    r = real.api.delete("extension/%s" % ext, deletevoicemail="yes")
    assert r.status == 200, r
    real.apply_config()
    after = real.ast.astdb()
    left = sorted(k for k in written if k in after)
    assert left == [], left
    assert _register(real, ext, secret, "gone-" + ext) != 0
    if tech == "pjsip":
        assert "Unable to find object %s" % ext in real.ast.rx("pjsip show endpoint %s" % ext)
    else:
        assert "Peer %s not found" % ext in real.ast.rx("sip show peer %s" % ext)


def _generated(real):
    with real.dbconn() as conn:
        files = freepbx.pjsip_files(conn)
        files["sip_additional.conf"] = freepbx.sip_additional(conn)
    return files


def _section(text: str, name: str):
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("["):
            inside = line == "[%s]" % name
            continue
        if inside and line.strip():
            lines.append(line)
    assert lines, "no [%s] section in\n%s" % (name, text[:2000])
    return lines
