"""The oracle scenarios: one input given to FreePBX's own code and to rfapi.

Each scenario names the same change twice: ``freepbx`` = the calls FreePBX's GUI
(or its API) makes, run by tests/freepbx_oracle/run.php; ``rfapi`` = the requests
rfapi receives. ``settings`` = freepbx_settings values that differ from the fixture
office (the installer's defaults) in that scenario's world.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Tuple


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    freepbx: List[list]
    rfapi: List[Tuple[str, str, Dict[str, Any]]]
    settings: Dict[str, str] = field(default_factory=dict)
    # FreePBX modules the run loads (their module.xml hooks run, their BMO objects exist).
    modules: Tuple[str, ...] = ("core", "findmefollow", "voicemail")


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


def delete_ext(n: str) -> List[list]:
    """The Extensions list's delete (Core ajax 'delete', type extensions): delUser, delDevice, needreload."""
    return [["core", "delUser", n], ["core", "delDevice", n], ["function", "needreload"]]


# Settings a box may have changed from the installer's: device defaults, call waiting, follow-me.
DEVICE_WORLD = {"ENABLECW": "0", "DEVICE_SIP_DTMF": "info", "DEVICE_SIP_TRUSTRPID": "no",
                "DEVICE_SIP_SENDRPID": "rpid", "DEVICE_SIP_QUALIFYFREQ": "30", "DEVICE_ALLOW": "ulaw&alaw&g722",
                "DEVICE_DISALLOW": "all", "DEVICE_CALLGROUP": "1", "DEVICE_PICKUPGROUP": "1&2",
                "CONCURRENCYLIMITDEFAULT": "7", "CFRINGTIMERDEFAULT": "15", "DEVICE_SIP_NAT": "never",
                "DEVICE_SIP_CANREINVITE": "nonat", "DEVICE_SIP_ENCRYPTION": "yes", "DEVICE_QUALIFY": "2000"}
FOLLOWME_WORLD = {"FOLLOWME_TIME": "33", "FOLLOWME_PRERING": "9", "FOLLOWME_RG_STRATEGY": "hunt",
                  "FOLLOWME_AUTO_CREATE": "1", "FOLLOWME_DISABLED": "0"}

# Columns are Bulk Handler's names, which rfapi's import also takes.
BULK_ROWS = [
    {"extension": "160", "name": "Bulk One", "tech": "pjsip", "secret": "Bulk-Secret-0160",
     "outboundcid": "5552230160", "voicemail_enable": "yes", "voicemail_vmpwd": "1601",
     "voicemail_email": "bulk160@bayviewdental.example", "findmefollow_enabled": "yes",
     "findmefollow_grptime": "25"},
    {"extension": "161", "name": "Bulk Two", "tech": "pjsip", "secret": "Bulk-Secret-0161"},
    {"extension": "162", "name": "Bulk Three", "tech": "sip", "secret": "Bulk-Secret-0162",
     "voicemail_enable": "yes", "voicemail_vmpwd": "1622"},
]

SCENARIOS: List[Scenario] = [
    Scenario("quickcreate_pjsip_full",
             "Quick Create of a PJSIP extension with voicemail (PIN, e-mail), follow-me, outbound and "
             "emergency caller ID",
             *create_pair("150", "pjsip", "pjsip", name="Oracle Pjsip", secret="Oracle-Secret-150", **_FULL)),
    Scenario("quickcreate_pjsip_bare",
             "Quick Create of a PJSIP extension with only a name and secret: no voicemail, follow-me or caller IDs",
             *create_pair("151", "pjsip", "pjsip", name="Oracle Bare", secret="Oracle-Secret-151")),
    Scenario("quickcreate_pjsip_vm_no_email",
             "Quick Create of a PJSIP extension with voicemail but no e-mail, and an outbound caller ID only",
             *create_pair("152", "pjsip", "pjsip", name="Oracle NoMail", secret="Oracle-Secret-152",
                          outboundcid="5552230152", vm=True, vmpwd="1522")),
    Scenario("quickcreate_chansip_full",
             "Quick Create of a chan_sip extension with voicemail, follow-me, outbound and emergency caller ID",
             *create_pair("153", "sip", "chansip", name="Oracle Chansip", secret="Oracle-Secret-153",
                          outboundcid="5552230153", emergency="5552230198", vm=True, vmpwd="1533",
                          email="oracle153@bayviewdental.example", fm=True)),
    Scenario("quickcreate_virtual_full",
             "Quick Create of a virtual extension (no device) with voicemail, follow-me and outbound caller ID",
             *create_pair("154", "virtual", "virtual", name="Oracle Virtual", outboundcid="5552230154", vm=True,
                          vmpwd="1544", email="oracle154@bayviewdental.example", fm=True)),
    Scenario("quickcreate_pjsip_device_world",
             "Quick Create of a PJSIP extension on a box whose device defaults, call waiting, concurrency "
             "and call-forward ring time differ from the installer's",
             *create_pair("155", "pjsip", "pjsip", name="Oracle DevWorld", secret="Oracle-Secret-155", fm=True),
             settings=DEVICE_WORLD),
    Scenario("quickcreate_chansip_device_world",
             "Quick Create of a chan_sip extension on the same box with changed device defaults",
             *create_pair("156", "sip", "chansip", name="Oracle DevWorld SIP", secret="Oracle-Secret-156"),
             settings=DEVICE_WORLD),
    Scenario("quickcreate_followme_world",
             "Quick Create on a box whose follow-me defaults differ (ring time, pre-ring, strategy, "
             "created for every new extension, enabled): one asking for follow-me, one not",
             [quick_create("157", "pjsip", name="Oracle FM On", secret="Oracle-Secret-157", fm=True),
              quick_create("158", "pjsip", name="Oracle FM Off", secret="Oracle-Secret-158")],
             [("POST", "extension/add", add_params("157", "pjsip", name="Oracle FM On", secret="Oracle-Secret-157",
                                                   fm=True)),
              ("POST", "extension/add", add_params("158", "pjsip", name="Oracle FM Off",
                                                   secret="Oracle-Secret-158"))],
             settings=FOLLOWME_WORLD),
    Scenario("delete_with_mailbox",
             "Delete of office extension 101 (PJSIP, voicemail with messages, follow-me with an external "
             "number); FreePBX's delete always removes the mailbox folder, rfapi's with deletevoicemail=yes",
             delete_ext("101"), [("DELETE", "extension/101", {"deletevoicemail": "yes"})]),
    Scenario("delete_keep_mailbox",
             "Delete of office extension 105 (voicemail with a pager address and time zone) keeping its "
             "messages: rfapi's default; FreePBX has no such choice and removes the folder",
             delete_ext("105"), [("DELETE", "extension/105", {})]),
    Scenario("did_add",
             "Inbound route for a new DID to extension 101 (Core::addDID with the DID page's defaults, then "
             "needreload as the page does)",
             [["core", "addDID", {"extension": "5552239999", "cidnum": "", "description": "Oracle DID",
                                  "destination": "from-did-direct,101,1", "mohclass": "default"}],
              ["function", "needreload"]],
             [("POST", "did/add", {"did": "5552239999", "description": "Oracle DID",
                                   "destination": "from-did-direct,101,1", "mohclass": "default"})]),
    Scenario("did_add_defaults",
             "Inbound route with only the DID: rfapi's defaults (hang up, default music, the DID as "
             "description) given to Core::addDID",
             [["core", "addDID", {"extension": "5552239998", "cidnum": "", "description": "5552239998",
                                  "destination": "app-blackhole,hangup,1", "mohclass": "default"}],
              ["function", "needreload"]],
             [("POST", "did/add", {"did": "5552239998"})]),
    Scenario("did_edit",
             "Edit of the any-caller route of 5551230102: destination, description and music class "
             "(Core::editDIDProperties, then needreload)",
             [["core", "editDIDProperties", {"extension": "5551230102", "cidnum": "",
                                             "destination": "from-did-direct,103,1",
                                             "description": "Bob moved to Carol", "mohclass": "jazz"}],
              ["function", "needreload"]],
             [("PUT", "did/5551230102", {"cidnum": "", "destination": "from-did-direct,103,1",
                                          "description": "Bob moved to Carol", "mohclass": "jazz"})]),
    Scenario("did_delete",
             "Delete of DID 5551230102 with its two routes (any caller, and caller ID 5559876543): "
             "Core::delDID for each, then needreload",
             [["core", "delDID", "5551230102", ""], ["core", "delDID", "5551230102", "5559876543"],
              ["function", "needreload"]],
             [("DELETE", "did/5551230102", {})]),
    Scenario("admin_add",
             "Administrators page add (core_ampusers_add -> Core::addAMPUser, no extension range, no department)",
             [["core", "addAMPUser", "oracleadmin", "Oracle-Admin-Pass-1", "", "", "", ["extensions", "did"]]],
             [("POST", "ampusers/add", {"username": "oracleadmin", "password": "Oracle-Admin-Pass-1",
                                         "sections": '["extensions", "did"]'})]),
    Scenario("admin_delete",
             "Administrators page delete of 'auditor' (core_ampusers_del)",
             [["modules", "loadFunctionsInc", "core"], ["function", "core_ampusers_del", "auditor"]],
             [("DELETE", "ampusers/auditor", {})]),
    Scenario("followme_add_external",
             "Follow-me list of 101 gets an external number (Findmefollow::addSettingsById grplist, as UCP "
             "saves the list: the current list plus the number)",
             [["findmefollow", "addSettingsById", "101", {"grplist": ["101", "5558675309#", "5552224444"]}]],
             [("POST", "followme/101", {"action": "addExternal", "number": "5552224444"})]),
    Scenario("followme_remove_external",
             "Follow-me list of 107 loses its external number (addSettingsById grplist without it)",
             [["findmefollow", "addSettingsById", "107", {"grplist": ["107", "102"]}]],
             [("POST", "followme/107", {"action": "removeExternal", "number": "5552223333"})]),
    Scenario("followme_disable",
             "Follow-me of 101 turned off (addSettingsById ddial=CHECKED: ring the extension first)",
             [["findmefollow", "addSettingsById", "101", {"ddial": "CHECKED"}]],
             [("POST", "followme/101", {"action": "disable"})]),
    Scenario("followme_enable",
             "Follow-me of 103 (present, off) turned on (addSettingsById ddial='')",
             [["findmefollow", "addSettingsById", "103", {"ddial": ""}]],
             [("POST", "followme/103", {"action": "enable"})]),
    Scenario("followme_enable_new",
             "Follow-me turned on for 102, which has no group yet (addSettingsById ddial='' creates it)",
             [["findmefollow", "addSettingsById", "102", {"ddial": ""}]],
             [("POST", "followme/102", {"action": "enable"})]),
    Scenario("bulk_import_extensions",
             "Bulk Handler import of three new extensions (Bulkhandler's import hook: Core, Findmefollow, "
             "Voicemail bulkhandlerImport, replace off, then needreload): PJSIP with voicemail, e-mail, "
             "outbound CID and follow-me; PJSIP bare; chan_sip with voicemail",
             [["hooks", "processHooksByClassMethod", "FreePBX\\modules\\Bulkhandler", "import",
               ["extensions", BULK_ROWS, False]], ["function", "needreload"]],
             [("POST", "extensions/import", {"rows": json.dumps(BULK_ROWS), "mode": "create"})]),
    Scenario("edit_name_cid_secret",
             "Extensions page edit of 104 (PJSIP, no voicemail): display name, outbound caller ID, secret",
             [["function", "oracle_extensions_page_edit", "104",
               {"name": "David Brown Jr", "outboundcid": "5552230104", "devinfo_secret": "Oracle-Edit-Secret-104"}]],
             [("PUT", "extension/104", {"displayname": "David Brown Jr", "outboundcid": "5552230104",
                                         "secret": "Oracle-Edit-Secret-104"})]),
    Scenario("edit_voicemail_off",
             "Extensions page edit of 102 (PJSIP with voicemail): voicemail disabled",
             [["function", "oracle_extensions_page_edit", "102", {"vm": "disabled"}]],
             [("PUT", "extension/102", {"voicemail": "no"})]),
    Scenario("edit_voicemail_on",
             "Extensions page edit of 106 (PJSIP, no voicemail): voicemail enabled with PIN and e-mail",
             [["function", "oracle_extensions_page_edit", "106",
               {"vm": "enabled", "vmpwd": "1066", "email": "frank@bayviewdental.example", "attach": "attach=no",
                "saycid": "saycid=no", "envelope": "envelope=no", "vmdelete": "vmdelete=no",
                "passlogin": "passlogin=no"}]],
             [("PUT", "extension/106", {"voicemail": "yes", "voicemailpassword": "1066",
                                         "email": "frank@bayviewdental.example"})]),
    Scenario("edit_followme_on",
             "Extensions page edit of 104 (no follow-me): follow-me enabled with the form's defaults",
             [["function", "oracle_extensions_page_edit", "104",
               {"fmfm_ddial": "enabled", "fmfm_grplist": "104", "fmfm_strategy": "ringallv2-prim",
                "fmfm_grptime": "20", "fmfm_pre_ring": "7", "fmfm_ringing": "Ring", "fmfm_changecid": "default",
                "fmfm_needsconf": "disabled", "fmfm_goto": "fmfm_goto_sel", "fmfm_goto_sel": "Extensions",
                "Extensionsfmfm": "ext-local,104,dest"}]],
             [("PUT", "extension/104", {"followme": "yes"})]),
    Scenario("delete_chansip_no_voicemail",
             "Delete of office extension 202 (chan_sip, no voicemail)",
             delete_ext("202"), [("DELETE", "extension/202", {"deletevoicemail": "yes"})]),
]

# Call services: the BMO methods the User Control Panel and FreePBX's API call, against the
# PUTs of rfapi's call-service routes. Office: 108 in DND, 110 without call waiting, 112
# forwarding to 5559871234, call flow control 0 in DAY.
SCENARIOS += [
    Scenario("callforward_set_all",
             "Call forward of 101: unconditional, busy and unavailable numbers set "
             "(Callforward::setNumberByExtension CF, CFB, CFU)",
             [["callforward", "setNumberByExtension", "101", "5551234567", "CF"],
              ["callforward", "setNumberByExtension", "101", "*97", "CFB"],
              ["callforward", "setNumberByExtension", "101", "+4420#", "CFU"]],
             [("PUT", "callforward/101", {"unconditional": "5551234567", "busy": "*97", "unavailable": "+4420#"})],
             modules=("callforward",)),
    Scenario("callforward_clear",
             "Unconditional call forward of 112 cleared (Callforward::delNumberByExtension CF)",
             [["callforward", "delNumberByExtension", "112", "CF"]],
             [("PUT", "callforward/112", {"unconditional": ""})],
             modules=("callforward",)),
    Scenario("donotdisturb_on",
             "Do-not-disturb of 101 turned on (Donotdisturb::setStatusByExtension YES)",
             [["donotdisturb", "setStatusByExtension", "101", "YES"]],
             [("PUT", "donotdisturb/101", {"enabled": "yes"})],
             modules=("donotdisturb",)),
    Scenario("donotdisturb_off",
             "Do-not-disturb of 108 turned off (Donotdisturb::setStatusByExtension with no state)",
             [["donotdisturb", "setStatusByExtension", "108"]],
             [("PUT", "donotdisturb/108", {"enabled": "no"})],
             modules=("donotdisturb",)),
    Scenario("callwaiting_on",
             "Call waiting of 110 turned on (Callwaiting::setStatusByExtension ENABLED)",
             [["callwaiting", "setStatusByExtension", "110", "ENABLED"]],
             [("PUT", "callwaiting/110", {"enabled": "yes"})],
             modules=("callwaiting",)),
    Scenario("callwaiting_off",
             "Call waiting of 101 turned off (Callwaiting::setStatusByExtension with no state)",
             [["callwaiting", "setStatusByExtension", "101"]],
             [("PUT", "callwaiting/101", {"enabled": "no"})],
             modules=("callwaiting",)),
    Scenario("daynight_toggle",
             "Call flow control 0 (in DAY) toggled to NIGHT (Daynight::setState NIGHT; rfapi's state=toggle)",
             [["daynight", "setState", "0", "NIGHT"]],
             [("PUT", "callflowcontrols/0", {"state": "toggle"})],
             modules=("daynight",)),
    Scenario("daynight_day_again",
             "Call flow control 0 set to DAY while in DAY: the mode stays, the BLF lamp's device state "
             "is set (Daynight::setState DAY)",
             [["daynight", "setState", "0", "DAY"]],
             [("PUT", "callflowcontrols/0", {"state": "day"})],
             modules=("daynight",)),
]

BY_NAME = {s.name: s for s in SCENARIOS}
