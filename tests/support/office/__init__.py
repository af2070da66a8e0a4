"""The fixture office: a small dental practice on FreePBX 17, as FreePBX itself stores it.

"Bayview Dental Group" has 16 extensions (12 chan_pjsip, 2 virtual, 2 chan_sip),
8 voicemail boxes, Follow Me, inbound routes, an IVR, a queue, ring groups, time
conditions, a call-flow toggle, a conference, announcements, system recordings,
MoH classes, trunks, outbound routes, GUI admins and a week of call records.

Every row is written with the columns of the reference DDL and the value
conventions FreePBX uses (see tests/data/freepbx/WRITES.md, referred to
below as "WRITES §x"). The module-level constants describe what was inserted, so
tests can compare API output field by field:

    EXTENSIONS, DIDS, IVRS, QUEUES, RINGGROUPS, TIMECONDITIONS, TIMEGROUPS,
    ANNOUNCEMENTS, CONFERENCES, CALLFLOWS, OUTBOUND_ROUTES, TRUNKS, RECORDINGS,
    MOH_CLASSES, AMPUSERS, FREEPBX_SETTINGS

Outside SQL the office also has: voicemail.conf (`voicemail_conf()`), a voicemail
spool (`build_spool()`), sound files (`build_sounds()`), AstDB (`astdb()`) and the
live Asterisk state for a fake AMI (`ami_state()`).
"""
from __future__ import annotations

from .base import *  # noqa: F401,F403
from .extensions import *  # noqa: F401,F403
from .callflow import *  # noqa: F401,F403
from .settings import *  # noqa: F401,F403
from .rows import *  # noqa: F401,F403
from .cdr import *  # noqa: F401,F403
from .audio import *  # noqa: F401,F403
from .voicemail import *  # noqa: F401,F403
from .astate import *  # noqa: F401,F403

__all__ = [
    "EXTENSIONS", "EXTENSIONS_BY_NUMBER", "DIDS", "IVRS", "QUEUES", "RINGGROUPS", "TIMECONDITIONS", "TIMEGROUPS",
    "ANNOUNCEMENTS", "CONFERENCES", "CALLFLOWS", "OUTBOUND_ROUTES", "TRUNKS", "RECORDINGS", "MOH_CLASSES",
    "AMPUSERS", "FREEPBX_SETTINGS", "SETTINGS", "MODULES", "CALLERS", "SPOOL_MESSAGES", "CDR_COLUMNS",
    "load", "config_rows", "sip_rows", "cdr_rows", "voicemail_conf", "voicemail_lines", "build_spool",
    "spool_messages", "build_sounds", "astdb", "ami_state", "hint", "message_txt", "ANCHOR",
]
