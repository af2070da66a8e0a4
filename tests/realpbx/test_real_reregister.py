"""Found on the real Asterisk: registrations persisted in AstDB outlive a
deleted endpoint. An extension created again with the same number must not
inherit the deleted phone's contact (its calls would ring the old phone)."""
from __future__ import annotations

from tests.realpbx.test_real_extensions import _register


def test_recreated_extension_does_not_inherit_the_old_contact(real):
    r = real.api.post("extension/add", extension="305", exttype="pjsip", displayname="First")
    assert r.status == 201, r
    real.apply_config()
    assert _register(real, "305", r.data["secret"], "first-305") == 0
    assert real.api.get("registrations/305").data["registered"] is True
    assert any(k.startswith("/registrar/contact/305;@") for k in real.ast.astdb("registrar"))
    assert real.api.delete("extension/305").status == 200
    assert not any(k.startswith("/registrar/contact/305;@") for k in real.ast.astdb("registrar"))
    real.apply_config()
    r = real.api.post("extension/add", extension="305", exttype="pjsip", displayname="Second")
    assert r.status == 201, r
    real.apply_config()
    d = real.api.get("registrations/305").data
    assert d["registered"] is False and d["contacts"] == [], d
    assert "305/sip:" not in real.ast.rx("pjsip show contacts")
    assert real.api.delete("extension/305").status == 200
    real.apply_config()
