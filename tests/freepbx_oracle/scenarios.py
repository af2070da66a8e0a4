"""The oracle scenarios: one input given to FreePBX's own code and to rfapi.

Each scenario names the same change twice: ``freepbx`` = the calls FreePBX's GUI
(or its API) makes, run by tests/freepbx_oracle/run.php; ``rfapi`` = the requests
rfapi receives. ``settings`` = freepbx_settings values that differ from the fixture
office (the installer's defaults) in that scenario's world.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Tuple


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    freepbx: List[list]
    rfapi: List[Tuple[str, str, Dict[str, Any]]]
    settings: Dict[str, str] = field(default_factory=dict)


def quick_create(n: str, tech: str, *, name: str, secret: str = "", outboundcid: str = "", emergency: str = "",
                 vm: bool = False, vmpwd: str = "", email: str = "", fm: bool = False) -> list:
    """Core::processQuickCreate as the Quick Create dialog posts it (the API adds secret/emergency_cid)."""
    data = {"tech": tech, "extension": n, "name": name, "outboundcid": outboundcid, "emergency_cid": emergency,
            "vm": "yes" if vm else "no", "vmpwd": vmpwd, "email": email, "fmfm": "yes" if fm else "no"}
    if secret:
        data["secret"] = secret
    return ["core", "processQuickCreate", tech, n, data]


def add_params(n: str, exttype: str, *, name: str, secret: str = "", outboundcid: str = "", emergency: str = "",
               vm: bool = False, vmpwd: str = "", email: str = "", fm: bool = False) -> Dict[str, Any]:
    p: Dict[str, Any] = {"extension": n, "exttype": exttype, "displayname": name}
    for k, v in (("secret", secret), ("outboundcid", outboundcid), ("emergencycid", emergency),
                 ("voicemailpassword", vmpwd), ("email", email)):
        if v:
            p[k] = v
    if vm:
        p["voicemail"] = "yes"
    if fm:
        p["followme"] = "yes"
    return p


def create_pair(n: str, tech: str, exttype: str, **kw):
    return [quick_create(n, tech, **kw)], [("POST", "extension/add", add_params(n, exttype, **kw))]


_FULL = dict(outboundcid="5552230150", emergency="5552230199", vm=True, vmpwd="4150",
             email="oracle150@bayviewdental.example", fm=True)

SCENARIOS: List[Scenario] = [
    Scenario("quickcreate_pjsip_full",
             "Quick Create of a PJSIP extension with voicemail (PIN, e-mail), follow-me, outbound and "
             "emergency caller ID",
             *create_pair("150", "pjsip", "pjsip", name="Oracle Pjsip", secret="Oracle-Secret-150", **_FULL)),
]

BY_NAME = {s.name: s for s in SCENARIOS}
