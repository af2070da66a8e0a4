"""Every difference between what FreePBX's own code changes and what rfapi changes that
the replay tier accepts: one place, each with its reason. Anything not listed fails.

An entry matches one key of one part of the change (``rows:<table>``, ``astdb``,
``voicemail_conf``, ``spool``, ``kvstore``) by a regular expression on the key, and
names the value on each side (``ABSENT`` = the side does not change that key; ``ANY``
= whatever that side wrote). For a row, ``column`` (a regular expression) narrows it to
those columns: the rest of the row must still be identical. ``scenarios`` limits an entry to the scenarios
named (empty = every scenario).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Optional, Tuple

ABSENT = object()
ANY = object()


@dataclass(frozen=True)
class Allowed:
    part: str
    key: str            # regular expression, matched in full
    freepbx: Any
    rfapi: Any
    reason: str
    column: Optional[str] = None
    scenarios: Tuple[str, ...] = ()
    same: Optional[Callable[[Any, Any], bool]] = None  # what must still agree between the two values

    def matches(self, scenario: str, part: str, key: str, column: Optional[str] = None) -> bool:
        if (self.column is None) != (column is None):
            return False
        if column is not None and re.fullmatch(self.column, column) is None:
            return False
        return (part == self.part and re.fullmatch(self.key, key) is not None
                and (not self.scenarios or scenario in self.scenarios))

    def accepts(self, fp: Any, rf: Any) -> bool:
        return _is(self.freepbx, fp) and _is(self.rfapi, rf) and (self.same is None or self.same(fp, rf))


def _is(expected: Any, value: Any) -> bool:
    if expected is ANY:
        return value is not ABSENT
    if expected is ABSENT:
        return value is ABSENT
    return expected == value


EDITS = ("edit_name_cid_secret", "edit_voicemail_off", "edit_voicemail_on", "edit_followme_on")

ALLOWED = [
    Allowed("astdb", r"/AMPUSER/\d+/recording/ondemand", "disabled", "enabled",
            "rfapi's create defaults on-demand recording to enabled, a deliberate choice of its API "
            "(FreePBX's generateDefaultUserSettings says disabled); a request sending recOndemand gets it"),
    Allowed("kvstore", r"FreePBX_modules_Voicemail\|vmmapping\|\d+", ANY, ABSENT,
            "FreePBX mirrors each <ext>@device alias in its kvstore; rfapi writes the [pbxaliases] line "
            "itself and has no kvstore table in its schema; FreePBX's reload recreates a missing "
            "vmmapping row for every user with a mailbox"),
    Allowed("spool", r"default/105(/.*)?", None, ABSENT,
            "FreePBX's delete always removes the mailbox folder (Voicemail::delUser -> removeMailbox, rm -rf); "
            "rfapi keeps messages and greetings unless the request says deletevoicemail=yes",
            scenarios=("delete_keep_mailbox",)),
    Allowed("astdb", r"/CW/15[56]", "ENABLED", ABSENT,
            "FreePBX bug not copied: Quick Create ignores ENABLECW (generateDefaultUserSettings hard-codes "
            "callwaiting=enabled) while the Add Extension form and the setting's own description make it "
            "the default for new extensions; rfapi honours the box's ENABLECW=0",
            scenarios=("quickcreate_pjsip_device_world", "quickcreate_chansip_device_world")),
    Allowed("astdb", r"/DEVICE/154/dial", "/154", "VIRTUAL/154",
            "FreePBX bug not copied: Quick Create of a virtual extension builds the dial string from the "
            "virtual driver's empty one ('' + '/' + number); the Add Extension form leaves it empty so "
            "addDevice makes VIRTUAL/<n>, as on the office's own virtual extensions",
            scenarios=("quickcreate_virtual_full",)),
    Allowed("rows:findmefollow", r'\["101"\]', "101-5558675309#-5552224444", "101-5558675309#-5552224444#",
            "FreePBX bug not copied: Findmefollow::addSettingsById writes the list to AstDB with external "
            "numbers marked '#' (lookupSetExtensionFormat) but to SQL as given; rfapi stores the same "
            "marked list in both, as the Follow Me page does",
            column="grplist", scenarios=("followme_add_external",)),
    Allowed("rows:findmefollow", r'\["102"\]', ANY, ANY,
            "FreePBX bug not copied: enabling follow-me where no group exists, addSettingsById inserts a "
            "row with only grptime/grplist (strategy, postdest, ringing NULL, pre_ring 0) and writes three "
            "AstDB keys, a group whose dialplan has no strategy or destination; rfapi creates the group "
            "Findmefollow::add makes (FOLLOWME_* defaults), as Quick Create's hook does",
            column="strategy|postdest|ringing|pre_ring|dring|grppre|needsconf|rvolume",
            scenarios=("followme_enable_new",)),
    Allowed("astdb", r"/AMPUSER/102/followme/(annmsg|changecid|dring|fixedcid|grpconf|grppre|postdest|prering|"
                     r"remotealertmsg|ringing|rvolume|strategy|toolatemsg)", ABSENT, ANY,
            "the rest of the group Findmefollow::add writes (see the findmefollow row above)",
            scenarios=("followme_enable_new",)),
    # Bulk Handler import (Core/Findmefollow/Voicemail bulkhandlerImport) against POST /extensions/import.
    Allowed("rows:findmefollow", r'\["16[12]"\]', ANY, ABSENT,
            "FreePBX bug not copied: Findmefollow::bulkhandlerImport never resets $settings between rows, so "
            "every row after one with findmefollow_* columns gets that row's follow-me (enabled); rfapi "
            "creates a group only for the rows that ask for one",
            scenarios=("bulk_import_extensions",)),
    Allowed("astdb", r"/AMPUSER/16[12]/followme/(ddial|grplist|grptime)|/CustomDevstate/FOLLOWME16[12]", ANY, ABSENT,
            "the AstDB side of the leaked follow-me groups above",
            scenarios=("bulk_import_extensions",)),
    Allowed("rows:findmefollow", r'\["160"\]', ANY, ANY,
            "FreePBX bug not copied: the Bulk Handler's follow-me (addSettingRow) creates the same half group "
            "as addSettingsById (strategy, postdest, ringing, list NULL); rfapi creates Findmefollow::add's",
            column="strategy|postdest|ringing|pre_ring|dring|grppre|needsconf|rvolume|grplist",
            scenarios=("bulk_import_extensions",)),
    Allowed("astdb", r"/AMPUSER/160/followme/(annmsg|changecid|dring|fixedcid|grpconf|grppre|postdest|prering|"
                     r"remotealertmsg|ringing|rvolume|strategy|toolatemsg)", ABSENT, ANY,
            "the rest of the group Findmefollow::add writes (see the findmefollow row above)",
            scenarios=("bulk_import_extensions",)),
    Allowed("rows:sip", r'\["16[012]", "callerid"\]', ANY, "",
            "deliberate: rfapi's import creates each new row exactly as POST /extension/add (Quick Create, "
            "empty device callerid); the Bulk Handler keeps generateDefaultDeviceSettings' 'Name <ext>'; "
            "with force_callerid=no neither value reaches the endpoint",
            column="data", scenarios=("bulk_import_extensions",)),
    Allowed("voicemail_conf", r"default\|16[02]", ANY, ANY,
            "deliberate: rfapi's import creates the mailbox as POST /extension/add does (Quick Create's "
            "attach/saycid/envelope/delete=no, or the row's attach/saycid/envelope/vmdelete columns); the Bulk "
            "Handler writes no options, leaving [general]'s; PIN, name, e-mail and pager must still match",
            scenarios=("bulk_import_extensions",), same=lambda fp, rf: fp.rsplit(",", 1)[0] == rf.rsplit(",", 1)[0]),
    Allowed("astdb", r"/AMPUSER/16[02]/vmx/(busy|temp|unavail)/(state|vmxopts/timeout)", ANY, ABSENT,
            "the Bulk Handler's VmX import (Vmx::vmximport) stores VmX as 'blocked' per mode; rfapi stores "
            "no VmX keys, which the dialplan reads the same way: VmX off",
            scenarios=("bulk_import_extensions",)),
    # The Extensions page's edit against PUT /extension/<n>.
    Allowed("rows:sip", r'\["\d+", "[a-z0-9_]+"\]', ANY, ANY,
            "the page's save deletes and re-inserts every sip row of the device, numbering flags in the "
            "order the form posts its fields (here: the old flag order, the page's own order comes from "
            "rendering it); flags only order the lines of the generated endpoint; rfapi updates the sent "
            "rows in place. Keyword and data must still match",
            column="flags", scenarios=EDITS),
    Allowed("rows:sip", r'\["\d+", "vmexten"\]', None, ABSENT,
            "the page's save drops an empty vmexten row (convertRequest2Array skips it); an absent and an "
            "empty vmexten generate the same endpoint; rfapi leaves rows it was not asked to change",
            scenarios=EDITS),
    Allowed("astdb", r"/AMPUSER/\d+/dialopts", "", ABSENT,
            "the page's save rewrites every user key, an unset dialopts becoming ''; the dialplan reads "
            "both as no options; rfapi writes only the keys of the sent fields",
            scenarios=EDITS),
    Allowed("rows:admin", r'\["need_reload"\]', ABSENT, ANY,
            "a new follow-me group only rings after the dialplan is regenerated (ext-findmefollow has one "
            "entry per row); FreePBX's addSettingsById leaves that to the next Apply Config without "
            "saying so, rfapi sets need-reload so the GUI shows it",
            scenarios=("followme_enable_new",)),
]
