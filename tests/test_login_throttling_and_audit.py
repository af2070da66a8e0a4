"""Failed-login throttling (shared by every worker), the fail2ban line, the audit log."""
from __future__ import annotations

import json

from rfapi import create_app
from rfapi.audit import redact
from tests.support.world import API_PASSWORD, API_USER, basic, body


def limit(pbx, n=3, cooldown=600):
    pbx.ini.write_text(pbx.ini.read_text().replace(
        "[api]\n", "[api]\nauth_fail_limit = %d\nauth_fail_window = 60\nauth_fail_cooldown = %d\n" % (n, cooldown), 1))


def from_addr(addr, headers=None):
    h = {"X-Forwarded-For": addr}
    h.update(headers or {})
    return h


def test_repeated_failures_block_that_address_only(pbx):
    limit(pbx, 3)
    bad = basic(API_USER, "guess")
    good = basic(API_USER, API_PASSWORD)
    for _ in range(3):
        r = pbx.get("test", auth=False, headers=from_addr("192.0.2.10", bad))
        assert r.status_code == 401
    # Now even the right password is refused from that address, for the cool-down.
    r = pbx.get("test", auth=False, headers=from_addr("192.0.2.10", good))
    assert r.status_code == 429
    assert body(r)["message"] == "Too many failed logins from this address; try again later"
    assert r.headers["Retry-After"] == "600"
    # Another client is unaffected.
    assert pbx.get("test", auth=False, headers=from_addr("192.0.2.11", good)).status_code == 200


def test_failures_counted_across_workers(pbx):
    """Two app instances (two gunicorn workers) share one count through the cache dir."""
    limit(pbx, 4)
    other = create_app(str(pbx.ini)).test_client()
    bad = from_addr("192.0.2.20", basic("admin", "nope"))
    for client in (pbx.client, other, pbx.client, other):
        assert client.get("/api/v1/test", headers=bad).status_code == 401
    good = from_addr("192.0.2.20", basic(API_USER, API_PASSWORD))
    assert pbx.get("test", auth=False, headers=good).status_code == 429
    assert other.get("/api/v1/test", headers=good).status_code == 429


def test_successes_do_not_count_and_window_is_per_address(pbx):
    limit(pbx, 3)
    good = basic(API_USER, API_PASSWORD)
    for i in range(2):
        assert pbx.get("test", auth=False, headers=from_addr("192.0.2.30", basic("x", "y"))).status_code == 401
        assert pbx.get("test", auth=False, headers=from_addr("192.0.2.31", basic("x", "y"))).status_code == 401
    for _ in range(5):
        assert pbx.get("test", auth=False, headers=from_addr("192.0.2.30", good)).status_code == 200


def test_fail2ban_line_per_failure(pbx, caplog):
    caplog.set_level("WARNING", logger="rfapi.auth")
    pbx.get("test", auth=False, headers=from_addr("198.51.100.7", basic("root", "toor")))
    pbx.get("test", auth=False, headers=from_addr("198.51.100.7", basic("we ird\"user", "x")))
    msgs = [r.getMessage() for r in caplog.records if r.name == "rfapi.auth"]
    assert msgs == ["rfapi auth failure from 198.51.100.7 user=root reason=bad credentials",
                    "rfapi auth failure from 198.51.100.7 user=we?ird?user reason=bad credentials"]
    assert "toor" not in caplog.text


def test_forwarded_for_ignored_from_a_non_proxy_peer(pbx):
    """X-Forwarded-For counts only when the TCP peer is the local proxy."""
    limit(pbx, 2)
    bad = basic(API_USER, "guess")
    env = {"REMOTE_ADDR": "203.0.113.5"}
    for fake in ("10.9.9.1", "10.9.9.2"):
        r = pbx.client.get("/api/v1/test", headers=from_addr(fake, bad), environ_base=env)
        assert r.status_code == 401
    # Both failures were charged to the real peer, not to the forged addresses.
    good = basic(API_USER, API_PASSWORD)
    assert pbx.client.get("/api/v1/test", headers=good, environ_base=env).status_code == 429
    assert pbx.get("test", auth=False, headers=from_addr("10.9.9.1", good)).status_code == 200


def test_audit_line_for_a_write(pbx_rw):
    r = pbx_rw.post("pbx/framework/needreload", headers={"X-Forwarded-For": "192.0.2.99"})
    assert r.status_code == 200
    lines = (pbx_rw.root / "audit.log").read_text().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["user"] == API_USER and entry["client"] == "192.0.2.99"
    assert entry["method"] == "POST" and entry["route"] == "/api/v1/pbx/framework/needreload"
    assert entry["action"] == "needreload" and entry["result"] is True
    assert entry["request_id"] == r.headers["X-Request-Id"]
    # Reads are not audited.
    pbx_rw.get("pbx/framework/needreload")
    assert len((pbx_rw.root / "audit.log").read_text().splitlines()) == 1


def test_audit_redacts_secrets():
    out = redact({"extension": "101", "secret": "s3cr3t-s3cr3t", "voicemailpassword": "1234", "pin": "",
                  "dest": "2125550147", "custom": "x"}, secret_names=("custom",))
    assert out == {"extension": "101", "secret": "***", "voicemailpassword": "***", "pin": "",
                   "dest": "2125550147", "custom": "***"}


def test_trusted_proxy_networks_configurable(pbx):
    """With only 10.1.0.0/16 trusted, loopback clients' X-Forwarded-For is ignored."""
    pbx.ini.write_text(pbx.ini.read_text().replace("[api]\n", "[api]\ntrusted_proxy_networks = 10.1.0.0/16\n", 1))
    limit(pbx, 2)
    bad = basic(API_USER, "guess")
    for fake in ("192.0.2.50", "192.0.2.51"):
        assert pbx.get("test", auth=False, headers=from_addr(fake, bad)).status_code == 401
    good = basic(API_USER, API_PASSWORD)
    # Charged to 127.0.0.1 (the real peer), whatever the header claimed.
    assert pbx.get("test", auth=False, headers=from_addr("192.0.2.52", good)).status_code == 429
    env = {"REMOTE_ADDR": "10.1.2.3"}
    r = pbx.client.get("/api/v1/test", headers=from_addr("192.0.2.53", good), environ_base=env)
    assert r.status_code == 200


def test_ipv4_mapped_loopback_is_loopback():
    from rfapi.proxy import TrustedProxy

    seen = {}

    def app(environ, start_response):
        seen["addr"] = environ["REMOTE_ADDR"]
        return []

    mw = TrustedProxy(app)
    mw({"REMOTE_ADDR": "::ffff:127.0.0.1", "HTTP_X_FORWARDED_FOR": "192.0.2.9"}, None)
    assert seen["addr"] == "192.0.2.9"
    mw({"REMOTE_ADDR": "::ffff:192.0.2.1", "HTTP_X_FORWARDED_FOR": "192.0.2.9"}, None)
    assert seen["addr"] == "192.0.2.1"  # not trusted, and counted/logged in its one spelling
