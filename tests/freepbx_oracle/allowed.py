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
from typing import Any, Optional, Tuple

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

    def matches(self, scenario: str, part: str, key: str, column: Optional[str] = None) -> bool:
        if (self.column is None) != (column is None):
            return False
        if column is not None and re.fullmatch(self.column, column) is None:
            return False
        return (part == self.part and re.fullmatch(self.key, key) is not None
                and (not self.scenarios or scenario in self.scenarios))

    def accepts(self, fp: Any, rf: Any) -> bool:
        return _is(self.freepbx, fp) and _is(self.rfapi, rf)


def _is(expected: Any, value: Any) -> bool:
    if expected is ANY:
        return value is not ABSENT
    if expected is ABSENT:
        return value is ABSENT
    return expected == value


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
    Allowed("rows:admin", r'\["need_reload"\]', ABSENT, ANY,
            "a new follow-me group only rings after the dialplan is regenerated (ext-findmefollow has one "
            "entry per row); FreePBX's addSettingsById leaves that to the next Apply Config without "
            "saying so, rfapi sets need-reload so the GUI shows it",
            scenarios=("followme_enable_new",)),
]
