"""Auth abuse beyond tests/test_login_throttling_and_audit.py: what an attacker without credentials
gets from every route, wrong /call secrets counting as failed logins,
constant-time comparison of every secret, and no secret in logs or answers."""
from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import pytest

from rfapi import resources
from rfapi.resources import all_specs
from tests.support import office
from tests.support.world import API_PASSWORD, API_USER, basic, body

ROOT = Path(__file__).resolve().parents[1]
SECRET_101 = office.EXTENSIONS_BY_NUMBER["101"]["secret"]


def limit(pbx, n=3, cooldown=600):
    pbx.ini.write_text(pbx.ini.read_text().replace(
        "[api]\n", "[api]\nauth_fail_limit = %d\nauth_fail_window = 60\nauth_fail_cooldown = %d\n" % (n, cooldown), 1))


def xff(addr, headers=None):
    h = {"X-Forwarded-For": addr}
    h.update(headers or {})
    return h


def concrete(rule: str) -> str:
    """A request path for a route rule (path arguments filled with real office values)."""
    values = {"did": office.MAIN_DID, "extension": "101", "ext": "101", "username": "admin", "entry": "5558675309",
              "message": "msg0000", "name": "Welcome%20Greeting", "context": "all"}
    return re.sub(r"<(?:[a-z]+:)?([A-Za-z_]+)>", lambda m: values.get(m.group(1), "x"), rule)


def test_without_credentials_every_route_is_401_and_does_nothing(pbx_rw):
    """No credentials, a wrong password, a wrong user, or another scheme: 401 on
    every operation (only the OpenAPI document is public), nothing changes,
    nothing reaches Asterisk or fwconsole."""
    resources.load()
    before = pbx_rw.snapshot()
    n = len(pbx_rw.peer.actions)
    attempts = [{}, basic(API_USER, "wrong"), basic("nobody", API_PASSWORD), basic("admin", ""),
                {"Authorization": "Bearer " + API_PASSWORD}, {"Authorization": "Basic !!!notbase64"}]
    checked = 0
    for spec in all_specs():
        path = "/api/v1" + concrete(spec.rule)
        for i, headers in enumerate(attempts):
            # Rotate client addresses so the throttle (tested elsewhere) does not turn these into 429.
            h = xff("192.0.2.%d" % (checked % 200 + 1), headers)
            checked += 1
            r = pbx_rw.client.open(path, method=spec.method, headers=h)
            if not spec.auth:
                assert r.status_code == 200, path
                continue
            assert r.status_code == 401, (spec.method, path, headers, r.status_code)
            assert body(r) == {"status": 401, "message": "Unauthorized", "data": None}
            # A refused API token is told so (RFC 6750); anything else gets the Basic challenge.
            assert r.headers["WWW-Authenticate"] == (
                'Bearer realm="PBX API", error="invalid_token"'
                if headers.get("Authorization", "").startswith("Bearer ") else 'Basic realm="PBX API"')
    assert checked > 200
    assert pbx_rw.snapshot() == before
    assert pbx_rw.peer.actions[n:] == []
    assert pbx_rw.fwconsole_calls() == []
    assert not (pbx_rw.root / "audit.log").exists()


def test_wrong_call_secret_counts_as_a_failed_login(pbx, caplog):
    caplog.set_level("WARNING", logger="rfapi.auth")
    limit(pbx, 3)
    good_auth = basic(API_USER, API_PASSWORD)
    for guess in ("0000", "1234", SECRET_101[:-1]):
        r = pbx.post("call", auth=False, headers=xff("192.0.2.50", good_auth),
                     data={"ext": "101", "secret": guess, "dest": "2125550147"})
        assert r.status_code == 403
        assert body(r)["message"] == "Forbidden: wrong secret for extension 101"
    # That address is now cooling down, for /call with the right secret and everything else.
    r = pbx.post("call", auth=False, headers=xff("192.0.2.50", good_auth),
                 data={"ext": "101", "secret": SECRET_101, "dest": "2125550147"})
    assert r.status_code == 429
    assert pbx.get("test", auth=False, headers=xff("192.0.2.50", good_auth)).status_code == 429
    assert [a.name for a in pbx.peer.actions if a.name == "Originate"] == []
    # Another address is not affected, and its call goes out.
    r = pbx.post("call", auth=False, headers=xff("192.0.2.51", good_auth),
                 data={"ext": "101", "secret": SECRET_101, "dest": "2125550147"})
    assert r.status_code == 200, body(r)
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "rfapi.auth"]
    assert lines == ["rfapi auth failure from 192.0.2.50 user=101 reason=bad call secret"] * 3
    for secret in ("0000", "1234", SECRET_101, API_PASSWORD):
        assert secret not in caplog.text


def test_secrets_never_in_logs_audit_or_answers(pbx_rw, caplog):
    caplog.set_level("DEBUG")
    r = pbx_rw.post("call", data={"ext": "101", "secret": SECRET_101, "dest": "2125550147"})
    assert r.status_code == 200
    r = pbx_rw.post("ampusers/add", json={"username": "auditme", "password": "Very-Secret-Pass-42",
                                          "sections": ["*"]})
    assert r.status_code == 201
    pbx_rw.get("test", auth=False, headers=basic("auditme", "Wrong-Pass-Guess-99"))
    audit = [json.loads(line) for line in (pbx_rw.root / "audit.log").read_text().splitlines()]
    assert [a["action"] for a in audit] == ["call.originate", "ampusers.add"]
    assert audit[0]["params"]["secret"] == "***" and audit[1]["params"]["password"] == "***"
    everything = caplog.text + (pbx_rw.root / "audit.log").read_text() + r.get_data(as_text=True)
    for secret in (SECRET_101, "Very-Secret-Pass-42", "Wrong-Pass-Guess-99", API_PASSWORD):
        assert secret not in everything
    # Nor the stored hashes.
    assert "password_sha1" not in json.dumps(body(pbx_rw.get("ampusers")))


SECRETISH = re.compile(r"(secret|passw|pwd|hash|sha1|sha256|digest|token|credential)", re.I)


def _non_constant_time_compares():
    """``==``/``!=`` between two non-literal operands where one side names a
    secret: such a comparison stops at the first differing byte."""
    found = []
    for path in sorted((ROOT / "rfapi").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Compare):
                continue
            operands = [node.left] + list(node.comparators)
            for op, a, b in zip(node.ops, operands, operands[1:]):
                if not isinstance(op, (ast.Eq, ast.NotEq)):
                    continue
                if isinstance(a, ast.Constant) or isinstance(b, ast.Constant):
                    continue  # "is it empty/None?" reveals nothing about the secret's value
                if SECRETISH.search(ast.unparse(a)) or SECRETISH.search(ast.unparse(b)):
                    found.append("%s:%d: %s" % (path.relative_to(ROOT), node.lineno, ast.unparse(node)))
    return found


def test_every_secret_comparison_is_constant_time():
    assert _non_constant_time_compares() == []
    # And the places that do compare secrets use hmac.compare_digest.
    for rel, needle in (("rfapi/auth.py", "compare_digest(password"), ("rfapi/auth.py", "compare_digest(sha1_hex"),
                        ("rfapi/services/call.py", "compare_digest(secret")):
        assert needle in (ROOT / rel).read_text(), rel


def test_the_scan_finds_a_plain_comparison(tmp_path, monkeypatch):
    """The scanner itself can fail: a module comparing a secret with == is reported."""
    fake = tmp_path / "rfapi"
    fake.mkdir()
    (fake / "bad.py").write_text("def ok(secret, stored):\n    return secret == stored and stored != ''\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _non_constant_time_compares() == ["rfapi/bad.py:2: secret == stored"]


@pytest.mark.parametrize("who", ["api-user", "admin"])
def test_a_throttled_address_learns_nothing_from_more_guesses(pbx, who, caplog):
    """While cooling down, right and wrong credentials get the same 429 (further
    guesses reveal nothing), and they are not even counted or logged."""
    caplog.set_level("WARNING", logger="rfapi.auth")
    limit(pbx, 2)
    for _ in range(2):
        assert pbx.get("test", auth=False, headers=xff("192.0.2.77", basic("admin", "nope"))).status_code == 401
    admin = next(u for u in office.AMPUSERS if "*" in str(u["sections"]))
    right = basic(API_USER, API_PASSWORD) if who == "api-user" else basic(admin["username"], admin["password"])
    wrong = basic(API_USER, "nope") if who == "api-user" else basic(admin["username"], "nope")
    answers = []
    for creds in (right, wrong, right):
        r = pbx.get("test", auth=False, headers=xff("192.0.2.77", creds))
        answers.append((r.status_code, body(r), r.headers.get("Retry-After")))
    assert answers == [(429, {"status": 429, "data": None,
                              "message": "Too many failed logins from this address; try again later"}, "600")] * 3
    assert len([rec for rec in caplog.records if rec.name == "rfapi.auth"]) == 2
