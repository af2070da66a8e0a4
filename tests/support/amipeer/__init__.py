"""A fake Asterisk for tests: a real TCP server that speaks the Asterisk Manager
Interface (AMI) the way Asterisk 20.20.1 (AMI 9.0.0) does.

Every reply and event this peer writes follows the byte-exact captures in
``tests/data/ami`` (recorded from a real Asterisk; see AMI.md there): the banner, ``Key: Value\\r\\n``
lines ended by a blank line, the header *order* of each reply, where ActionID
is echoed (and that it is left out when the client sent none), event lists
(``EventList: start`` ... ``<Name>Complete``), the exact error texts and the
quirks (stray ``\\n`` inside some ``Message:`` values, the extra ``\\r\\n`` after a
failed SIPshowpeer, two ``Message:`` headers in PresenceState).

Usage (see also ``python -m tests.support.amipeer --help``)::

    peer = AmiPeer(users={"admin": "amp111"}).seed_from_transcripts().start()
    ... connect to peer.host:peer.port ...
    peer.stop()

State lives in plain dicts (``astdb``, ``hints``, ``device_states``, ...) that
tests may change at any time; take ``peer.lock`` around changes made while the
peer runs.  Stdlib only, and no import from the ``rfapi`` package: the peer
must stay an independent witness of the protocol.

State shapes (every key but the obvious ones is optional):

* ``astdb``: ``{"/AMPUSER/101/cidname": "Ext 101"}``.
* ``hints``: ``{"101": {"context": "from-internal", "hint": "PJSIP/101",
  "status": 0}}``; without ``status`` it is worked out from the device states.
* ``device_states``: ``{"PJSIP/101": "NOT_INUSE"}``, listed by DeviceStateList
  in dict order.  A PJSIP/SIP device missing here counts as NOT_INUSE when
  it has a contact / an address, else UNAVAILABLE.
* ``presence``: ``{"CustomPresence:103": {"state": "away", "subtype": "lunch",
  "message": "Back at two"}}``.
* ``pjsip_endpoints``: ``{"101": {"callerid": '"Ext 101" <101>', "auth":
  "101-auth", "aors": "101", "password": "...", "context": "from-internal",
  "mailboxes": "101@default", "transport": "", "device_state": "Not in use",
  "contacts": ["sip:..."], "aor": {"max_contacts": 1, ...}, "detail":
  {"EndpointDetail field": "value"}}}``.
* ``pjsip_contacts``: ``{"101": [{"uri", "via_addr", "via_port", "user_agent",
  "status", "roundtrip_usec", "expiration_time", "call_id",
  "qualify_frequency", "id"}]}`` keyed by AOR; wins over endpoint "contacts".
* ``sip_peers``: ``{"201": {"ip": "127.0.0.1" or "-none-", "port", "status",
  "useragent", "reg_contact", "dynamic", "callerid", "regexpire"}}``.
* ``voicemail_boxes``: ``{"101@default": {"new": 2, "old": 1, "urgent": 0,
  "fullname", "email", "pager", "timezone", "language"}}``; with a
  ``"messages": [{"folder", "callerid", "date", "duration", "flag", "id"}]``
  list the counts come from the messages instead.
* ``originate_outcomes``: ``{"PJSIP/101": "answer" | "busy" | "noanswer" |
  "unregistered"}`` (unknown channels: "unregistered").
* ``dialplan_patterns``: patterns that exist in from-internal (Originate).
* ``cli_commands``: extra ``Action: Command`` lines -> text, or
  callable(words) -> text or (success, text).

The package, one job per module: ``constants`` (protocol facts), ``wire``
(framing, parsing, capture files), ``text`` (Asterisk's text rules),
``templates`` (captured field lists), ``conn`` (a client connection),
``server`` (listen, read, dispatch), ``events`` (unsolicited events), the
handler groups ``core``, ``cli``, ``astdb``, ``state``, ``sip``, ``voicemail``,
``calls``; ``seed`` (the captured PBX), ``peer`` (``AmiPeer`` composed of them)
and ``__main__`` (the command line).
"""
from __future__ import annotations

from .conn import PeerConn
from .constants import BANNER
from .peer import AmiPeer
from .seed import transcript_seed
from .text import match_pattern
from .wire import Action, ack, error, parse_transcript, render_message, response

__all__ = [
    "AmiPeer",
    "Action",
    "parse_transcript",
    "transcript_seed",
    "match_pattern",
    "render_message",
    "BANNER",
    "PeerConn",
    "ack",
    "error",
    "response",
]
