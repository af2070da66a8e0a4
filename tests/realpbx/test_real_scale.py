"""200 PJSIP phones (one SIPp instance, 200 users) registered with the secrets
rfapi returned, listed by one GET /registrations (one PJSIPShowContacts);
GET /pbx/asterisk/reload reloads the real Asterisk."""
from __future__ import annotations

import re
import time

from tests.realpbx import sipp
from tests.realpbx.conftest import wait_for

FIRST, COUNT = 4000, 200


def test_asterisk_reload(real):
    before = _last_reload(real)
    time.sleep(1.1)                      # CoreReloadTime has one-second resolution
    r = real.api.get("pbx/asterisk/reload")
    assert r.status == 200, r
    wait_for(lambda: _last_reload(real) > before, 10, "Asterisk's last reload time moves")


def _last_reload(real) -> str:
    ami = real.ami()
    try:
        d = dict(ami.action("CoreStatus"))
    finally:
        ami.close()
    return d["CoreReloadDate"] + " " + d["CoreReloadTime"]


def test_200_phones_in_one_registrations_answer(real):
    users = []
    t0 = time.monotonic()
    for n in range(FIRST, FIRST + COUNT):
        r = real.api.post("extension/add", extension=str(n), exttype="pjsip", displayname="Bulk %d" % n)
        assert r.status == 201, r
        users.append((str(n), r.data["secret"]))
    created = time.monotonic() - t0
    real.apply_config()
    assert len(re.findall(r"^ Endpoint:  4\d{3}/", real.ast.rx("pjsip show endpoints"), re.M)) == COUNT
    port = real.sipp_port()
    ph = sipp.Phone(real.sipp_dir, "bulk", "127.0.0.1:%d" % real.ast.pjsip_port, users, port,
                    sipp.register_scenario(), calls=COUNT, rate=100, timeout=60)
    assert ph.wait(90) == 0, ph.errors()
    ph.stop()
    real.api.get("registrations")          # both workers may have to fetch their device list
    real.api.get("registrations")
    real.ami_spy.clear()
    t1 = time.monotonic()
    r = real.api.get("registrations")
    took = time.monotonic() - t1
    sent = real.ami_spy.actions
    assert sent.count("PJSIPShowContacts") == 1, sent   # one list for every PJSIP phone
    assert r.status == 200, r
    mine = {e["extension"]: e for e in r.data if FIRST <= int(e["extension"]) < FIRST + COUNT}
    assert len(mine) == COUNT
    assert all(e["registered"] for e in mine.values()), [k for k, e in mine.items() if not e["registered"]]
    assert {e["contacts"][0]["user_agent"] for e in mine.values()} == {"rfapi-sipp %d" % n for n in
                                                                        range(FIRST, FIRST + COUNT)}
    assert {e["contacts"][0]["port"] for e in mine.values()} == {port}
    # the same contacts Asterisk lists itself
    listed = {aor for aor, _ in real.ast.contacts() if FIRST <= int(aor) < FIRST + COUNT}
    assert listed == set(mine)
    print("\n200 extensions created via the API in %.1f s; GET /registrations (%d entries) in %.0f ms"
          % (created, len(r.data), took * 1000))
