"""Every write of rfapi sends its `config` event on GET /events (docs/events.md): updates
and imports of extensions, DID updates, follow-me actions, each followed by the
need-reload value when the write sets it; a write that changes nothing sends nothing."""
from __future__ import annotations

from tests.support.world import body
from tests.test_events import first_frame, served  # noqa: F401


def _config(s, n):
    return [f.data for f in s.events(n, event="config")]


def _strip(d):
    return {k: v for k, v in d.items() if k not in ("type", "time")}


def test_extension_update_sends_updated_with_the_changed_fields_then_needreload(served):  # noqa: F811
    pbx, open_stream = served
    s = open_stream("?types=config")
    first_frame(s)
    r = pbx.put("extension/102", data={"ringtimer": "25"})
    assert r.status_code == 200 and body(r)["message"] == "Updated: ringtimer", body(r)
    # Sending what is already set writes nothing and announces nothing: the next event
    # is the DID write's.
    r = pbx.put("extension/102", data={"ringtimer": "25"})
    assert body(r)["message"].startswith("Unchanged"), body(r)
    r = pbx.put("did/5551230400", data={"mohclass": "default"})
    assert r.status_code == 200 and body(r)["message"] == "Updated: mohclass", body(r)
    got = [_strip(d) for d in _config(s, 4)]
    assert got == [
        {"what": "extension", "action": "updated", "extension": "102", "changed": ["ringtimer"]},
        {"what": "needreload", "action": "changed", "needreload": True},
        {"what": "did", "action": "updated", "did": "5551230400", "cidnum": "", "changed": ["mohclass"]},
        {"what": "needreload", "action": "changed", "needreload": True},
    ]


def test_import_sends_one_event_naming_every_extension_and_reaches_extension_filters(served):  # noqa: F811
    pbx, open_stream = served
    everything = open_stream("?types=config")
    only_151 = open_stream("?types=config&extension=151")
    first_frame(everything)
    first_frame(only_151)
    r = pbx.post("extensions/import", json={"rows": [
        {"extension": "102", "ringtimer": "15"},
        {"extension": "151", "tech": "pjsip", "displayname": "Eve", "secret": "Str0ng-Secret-151x"},
        {"extension": "110"}]})  # nothing to change: not named
    assert r.status_code == 200, body(r)
    got = [_strip(d) for d in _config(everything, 2)]
    assert got == [
        {"what": "extension", "action": "imported", "extensions": ["102", "151"], "created": ["151"],
         "updated": ["102"]},
        {"what": "needreload", "action": "changed", "needreload": True}]
    assert _strip(_config(only_151, 1)[0])["extensions"] == ["102", "151"]


def test_followme_actions_send_followme_events(served):  # noqa: F811
    pbx, open_stream = served
    s = open_stream("?types=config&extension=101,104")
    first_frame(s)
    r = pbx.post("followme/101", data={"action": "addExternal", "number": "5550001234"})
    assert r.status_code == 200, body(r)
    r = pbx.post("followme/101", data={"action": "enable"})  # already enabled: no change, no event
    assert r.status_code == 200 and body(r)["message"] == "Follow-me is already enabled", body(r)
    r = pbx.post("followme/101", data={"action": "disable"})
    assert r.status_code == 200, body(r)
    r = pbx.post("followme/104", data={"action": "enable"})  # no group yet: created with FreePBX's defaults
    assert r.status_code == 200 and body(r)["data"]["created"] is True, body(r)
    got = [_strip(d) for d in _config(s, 3)]  # need-reload events concern no extension: filtered out
    assert got == [
        {"what": "followme", "action": "updated", "extension": "101", "change": "addExternal", "enabled": True,
         "grplist": ["101", "5558675309#", "5550001234#"]},
        {"what": "followme", "action": "updated", "extension": "101", "change": "disable", "enabled": False,
         "grplist": ["101", "5558675309#", "5550001234#"]},
        {"what": "followme", "action": "created", "extension": "104", "change": "enable", "enabled": True,
         "grplist": ["104"]}]


def test_followme_enable_sends_no_needreload_but_a_list_change_does(served):  # noqa: F811
    pbx, open_stream = served
    s = open_stream("?types=config")
    first_frame(s)
    assert pbx.post("followme/101", data={"action": "disable"}).status_code == 200
    assert pbx.post("followme/101", data={"action": "removeExternal", "number": "5558675309"}).status_code == 200
    got = [(d["what"], d.get("change"), d.get("needreload")) for d in _config(s, 3)]
    assert got == [("followme", "disable", None), ("followme", "removeExternal", None),
                   ("needreload", None, True)]
