"""A fake Asterisk for tests: a real TCP server that speaks the Asterisk Manager
Interface (AMI) the way Asterisk 20.20.1 (AMI 9.0.0) does.

Every reply and event this peer writes follows the byte-exact captures in
``shared/reference/ami`` (see AMI.md there): the banner, ``Key: Value\\r\\n``
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
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import select
import signal
import socket
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

__all__ = [
    "AmiPeer",
    "Action",
    "parse_transcript",
    "transcript_seed",
    "match_pattern",
    "render_message",
    "BANNER",
]

Headers = List[Tuple[str, str]]

BANNER = b"Asterisk Call Manager/9.0.0\r\n"
AMI_VERSION = "9.0.0"
ASTERISK_VERSION = "20.20.1"
# The build host in the captures was called "vm"; the peer claims the same build.
VERSION_LINE = ("Asterisk 20.20.1 built by root @ vm on a x86_64 running Linux "
                "on 2026-11-26 19:16:14 UTC")

# FreePBX's manager class list (AMI.md "Manager users").  A user given as a
# plain secret string gets these for both read and write.
ALL_CLASSES = frozenset((
    "system", "call", "log", "verbose", "command", "agent", "user", "config",
    "dtmf", "reporting", "cdr", "dialplan", "originate", "message",
))

# Write class an action needs (Asterisk registers each action with one; any
# overlap with the user's write classes is enough).  Actions not listed need
# none, like Ping.  Taken from Asterisk's action registrations; the ones the
# captures prove: Command, DBGet and Originate are refused for write=call,
# Ping is allowed.
ACTION_CLASSES: Dict[str, frozenset] = {
    name: frozenset(classes.split(","))
    for name, classes in {
        "command": "command",
        "originate": "originate",
        "setvar": "call",
        "coresettings": "system,reporting",
        "corestatus": "system,reporting",
        "coreshowchannels": "system,reporting",
        "dbget": "system,reporting",
        "dbgettree": "system,reporting",
        "dbput": "system",
        "dbdel": "system",
        "dbdeltree": "system",
        "reload": "system,config",
        "extensionstate": "call,reporting",
        "extensionstatelist": "call,reporting",
        "devicestatelist": "call,reporting",
        "presencestate": "call,reporting",
        "presencestatelist": "call,reporting",
        "pjsipshowendpoints": "system",
        "pjsipshowendpoint": "system",
        "pjsipshowcontacts": "system",
        "pjsipshowaors": "system",
        "pjsipshowregistrationsinbound": "system",
        "pjsipshowregistrationinboundcontactstatuses": "system",
        "sippeers": "system,reporting",
        "sipshowpeer": "system,reporting",
        "mailboxcount": "call,reporting",
        "mailboxstatus": "call,reporting",
        "voicemailuserslist": "call,reporting",
        "voicemailuserstatus": "call,reporting",
        "voicemailboxsummary": "call,reporting",
        "voicemailrefresh": "user",
        "voicemailmove": "user",
        "voicemailremove": "user",
        "voicemailforward": "user",
    }.items()
}

# Extension state numbers -> the text ExtensionState/ExtensionStatus show
# (Asterisk's pbx.c table; anything else reads "Unknown").
EXTENSION_STATE_TEXT = {
    0: "Idle",
    1: "InUse",
    2: "Busy",
    4: "Unavailable",
    8: "Ringing",
    9: "InUse&Ringing",
    16: "Hold",
    17: "InUse&Hold",
}

# Device state names (DeviceStateChange/DeviceStateList) -> the prose form
# PJSIPShowEndpoint(s) print in ``DeviceState:``.
DEVICE_STATE_TEXT = {
    "UNKNOWN": "Unknown",
    "NOT_INUSE": "Not in use",
    "INUSE": "In use",
    "BUSY": "Busy",
    "INVALID": "Invalid",
    "UNAVAILABLE": "Unavailable",
    "RINGING": "Ringing",
    "RINGINUSE": "Ring+Inuse",
    "ONHOLD": "On Hold",
}

PRESENCE_STATES = ("not_set", "unavailable", "available", "away", "xa", "chat", "dnd")

# Voicemail folders in the order app_voicemail walks them.
VOICEMAIL_FOLDERS = ("INBOX", "Old", "Work", "Family", "Friends",
                     "Cust1", "Cust2", "Cust3", "Cust4", "Cust5", "Deleted", "Urgent")

DEFAULT_DIALPLAN_PATTERNS = ("_1XX", "_2XX", "_NXXNXXXXXX")

DEFAULT_MODULES = frozenset((
    "app_voicemail", "chan_pjsip", "chan_sip", "res_pjsip", "pbx_config",
    "manager", "res_pjsip_registrar", "res_pjsip_outbound_registration",
    "func_db", "app_dial", "cdr", "features", "dnsmgr", "http", "logger",
))

# CLI command word lists the peer pretends to have.  Only used to word the
# "No such command" complaint the way Asterisk does (see _cli_best_prefix).
KNOWN_CLI_COMMANDS = tuple(tuple(c.split()) for c in (
    "core show version", "core reload", "core show channels", "core show help",
    "core show uptime", "core show settings", "core restart now", "core stop now",
    "database show", "database showkey", "database put", "database get",
    "database del", "database deltree", "database query",
    "pjsip show contacts", "pjsip show endpoints", "pjsip show endpoint",
    "pjsip show aors", "pjsip show registrations", "pjsip reload",
    "sip show peers", "sip show peer", "sip reload",
    "module reload", "module show", "module load", "module unload",
    "dialplan reload", "dialplan show", "voicemail reload", "voicemail show users",
    "presencestate change", "presencestate list", "devstate change", "devstate list",
    "manager show connected", "manager reload", "reload", "help",
))

_TRUE = ("yes", "true", "y", "t", "1", "on")
_FALSE = ("no", "false", "n", "f", "0", "off")


def _ast_true(value: Optional[str]) -> bool:
    return (value or "").strip().lower() in _TRUE


# --------------------------------------------------------------------------
# Wire format
# --------------------------------------------------------------------------

def render_message(headers: Iterable[Tuple[str, Any]]) -> bytes:
    """One AMI message: ``Key: Value\\r\\n`` per header, then ``\\r\\n``.

    Values are written as given; a value that ends in ``\\n`` produces the
    ``...\\n\\r\\n`` line Asterisk sends for some Message texts.
    """
    out = "".join("%s: %s\r\n" % (k, v) for k, v in headers) + "\r\n"
    return out.encode("utf-8")


def _aid(action_id: str) -> Headers:
    # Asterisk writes ActionID only when the client sent a non-empty one.
    return [("ActionID", action_id)] if action_id else []


def _response(status: str, action_id: str, fields: Headers = ()) -> bytes:
    return render_message([("Response", status)] + _aid(action_id) + list(fields))


def _error(action_id: str, message: str) -> bytes:
    return _response("Error", action_id, [("Message", message)])


def _ack(action_id: str, message: str) -> bytes:
    return _response("Success", action_id, [("Message", message)])


def _list_start(action_id: str, message: str) -> bytes:
    return _response("Success", action_id, [("EventList", "start"), ("Message", message)])


def _list_event(name: str, action_id: str, fields: Headers) -> bytes:
    return render_message([("Event", name)] + _aid(action_id) + list(fields))


def _list_complete(name: str, action_id: str, count: int) -> bytes:
    return render_message([("Event", name)] + _aid(action_id)
                          + [("EventList", "Complete"), ("ListItems", str(count))])


def _event_list(action_id: str, start_message: str, item_event: Optional[str],
                items: Sequence[Headers], complete_event: str) -> bytes:
    """A whole event list, built as one buffer so it goes out contiguously
    (in every capture an action's own list events were never split)."""
    parts = [_list_start(action_id, start_message)]
    for item in items:
        if item_event is None:      # item carries its own Event header first
            parts.append(render_message([item[0]] + _aid(action_id) + list(item[1:])))
        else:
            parts.append(_list_event(item_event, action_id, item))
    parts.append(_list_complete(complete_event, action_id, len(items)))
    return b"".join(parts)


def _parse_headers(lines: List[str]) -> Headers:
    headers: Headers = []
    for line in lines:
        key, sep, value = line.partition(":")
        if not sep:
            # Asterisk keeps such a line but no lookup ever matches it.
            headers.append((line.strip(), ""))
            continue
        # Asterisk skips the blanks after the colon and keeps the rest as is.
        headers.append((key.strip(), value.lstrip(" \t")))
    return headers


class Action:
    """One message a client sent (normally an action)."""

    __slots__ = ("name", "headers", "raw", "conn_id", "user", "received_at")

    def __init__(self, name: str, headers: Headers, raw: bytes, conn_id: int,
                 user: Optional[str]) -> None:
        self.name = name
        self.headers = headers
        self.raw = raw
        self.conn_id = conn_id
        self.user = user
        self.received_at = time.time()

    def get(self, key: str, default: Optional[str] = None) -> Optional[str]:
        """First value of ``key`` (case-insensitive, like Asterisk)."""
        k = key.lower()
        for hk, hv in self.headers:
            if hk.lower() == k:
                return hv
        return default

    def getall(self, key: str) -> List[str]:
        """Every value of a header that may repeat (Variable, ...)."""
        k = key.lower()
        return [hv for hk, hv in self.headers if hk.lower() == k]

    def __repr__(self) -> str:
        return "Action(%r, conn=%d, user=%r, headers=%r)" % (
            self.name, self.conn_id, self.user, self.headers)


def parse_transcript(path) -> List[Tuple[str, bytes]]:
    """Read a capture file (AMI.md "Transcript file format").

    Returns ``(direction, payload)`` tuples in file order: ``"<<<"`` for bytes
    Asterisk sent, ``">>>"`` for bytes the client sent, and ``"==="`` for the
    connection markers with payload ``b"connect"``, ``b"closed by server"`` or
    ``b"client closed"``.  Comment lines (``#``) are skipped.
    """
    data = Path(path).read_bytes()
    out: List[Tuple[str, bytes]] = []
    pos = 0
    marker = re.compile(rb"^(<<<|>>>) \S+ t=\S+ len=(\d+)$")
    while pos < len(data):
        end = data.index(b"\n", pos)
        line = data[pos:end]
        pos = end + 1
        m = marker.match(line)
        if m:
            n = int(m.group(2))
            out.append((m.group(1).decode(), data[pos:pos + n]))
            pos += n
        elif line.startswith(b"=== "):
            what = re.sub(rb" t=\S+$", b"", line[4:])
            out.append(("===", what))
        elif line.startswith(b"#") or not line:
            continue
        else:
            raise ValueError("%s: unexpected line %r" % (path, line))
    return out


# --------------------------------------------------------------------------
# Dialplan patterns and small helpers
# --------------------------------------------------------------------------

_pattern_cache: Dict[str, "re.Pattern[str]"] = {}


def match_pattern(pattern: str, exten: str) -> bool:
    """Asterisk extension matching: a plain name matches itself; ``_`` starts
    a pattern with X (0-9), Z (1-9), N (2-9), ``[...]`` classes with ranges,
    ``.`` (one or more of anything) and ``!`` (zero or more); ``-`` is ignored."""
    if not pattern.startswith("_"):
        return pattern == exten
    rx = _pattern_cache.get(pattern)
    if rx is None:
        parts = []
        p = pattern[1:]
        i = 0
        while i < len(p):
            c = p[i]
            if c in "Xx":
                parts.append("[0-9]")
            elif c in "Zz":
                parts.append("[1-9]")
            elif c in "Nn":
                parts.append("[2-9]")
            elif c == "[" and "]" in p[i + 1:]:
                j = p.index("]", i + 1)
                body = p[i + 1:j]
                cls = []
                for k, ch in enumerate(body):
                    if ch == "-" and 0 < k < len(body) - 1:
                        cls.append("-")
                    else:
                        cls.append(re.escape(ch))
                parts.append("[" + "".join(cls) + "]")
                i = j
            elif c == ".":
                parts.append(".+")
            elif c == "!":
                parts.append(".*")
            elif c == "-":
                pass
            else:
                parts.append(re.escape(c))
            i += 1
        rx = re.compile("".join(parts))
        _pattern_cache[pattern] = rx
    return rx.fullmatch(exten) is not None


def _split_callerid(value: str) -> Tuple[str, str]:
    """``"Name" <num>`` -> (name, num); a bare number is a number."""
    value = (value or "").strip()
    m = re.match(r'^\s*(?:"([^"]*)"|([^<]*?))\s*<([^>]*)>\s*$', value)
    if m:
        name = m.group(1) if m.group(1) is not None else (m.group(2) or "")
        return name.strip(), m.group(3).strip()
    if re.fullmatch(r"[0-9*#+]+", value):
        return "", value
    return value, ""


def _separate_args(value: str, delim: str = ",") -> List[str]:
    """Split like Asterisk's __ast_app_separate_args with remove_chars (what
    manager.c uses for each Originate ``Variable:`` header): the delimiter does
    not split inside (...), [...] or "..."; double quotes are removed and a
    backslash makes the next character literal."""
    args: List[str] = []
    cur: List[str] = []
    paren = bracket = 0
    quote = False
    i = 0
    while i < len(value):
        c = value[i]
        if c == "(":
            paren += 1
        elif c == ")":
            paren = max(0, paren - 1)
        elif c == "[":
            bracket += 1
        elif c == "]":
            bracket = max(0, bracket - 1)
        elif c == '"' and delim != '"':
            quote = not quote
            i += 1
            continue
        elif c == "\\":
            i += 1
            if i < len(value):
                cur.append(value[i])
            i += 1
            continue
        elif c == delim and not paren and not quote and not bracket:
            args.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    if cur or value.endswith(delim):
        args.append("".join(cur))
    return args


def _cli_words(line: str) -> List[str]:
    """Split a CLI line like Asterisk: whitespace, double quotes, backslash."""
    words: List[str] = []
    cur: List[str] = []
    have = quoted = escaped = False
    for ch in line:
        if escaped:
            cur.append(ch)
            escaped = False
            have = True
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
            have = True
        elif ch.isspace() and not quoted:
            if have:
                words.append("".join(cur))
                cur, have = [], False
        else:
            cur.append(ch)
            have = True
    if have:
        words.append("".join(cur))
    return words


def _cli_best_prefix(words: List[str]) -> str:
    """The words Asterisk's find_best() echoes in "core show help ...": it adds
    words while a command with exactly that many words shares all the earlier
    ones, and keeps the first word that fails.  One-word commands exist, so
    the first word always passes (hence 'no such' for 'no such cli command')."""
    lowered = [w.lower() for w in words]
    best = []
    for x, word in enumerate(words):
        best.append(word)
        if x == 0:
            continue
        if not any(len(c) == x + 1 and list(c[:x]) == lowered[:x] for c in KNOWN_CLI_COMMANDS):
            break
    return " ".join(best)


def _command_output_lines(text: str) -> List[str]:
    """CLI text -> the list of ``Output:`` values (Asterisk >= 14 format):
    one per line, the final newline does not add an empty one, and empty
    output still gives one empty ``Output:``."""
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return lines or [""]


def _ast_dates(ts: float) -> Tuple[str, str]:
    t = time.localtime(ts)
    return time.strftime("%Y-%m-%d", t), time.strftime("%H:%M:%S", t)


def _template(text: str) -> Headers:
    """Parse a ``Key: value`` per line block (used for the long field lists)."""
    out: Headers = []
    for line in text.strip("\n").split("\n"):
        k, _, v = line.partition(":")
        out.append((k, v[1:] if v.startswith(" ") else v))
    return out


# Field order and default values of EndpointDetail, as captured for 101
# (pjsip-show-endpoint-101.txt).  "{...}" values are filled per endpoint.
_ENDPOINT_DETAIL = _template("""
ObjectType: endpoint
ObjectName: {name}
RpidImmediate: false
Webrtc: no
Ignore183WithoutSdp: false
SendAoc: false
DeviceStateBusyAt: 1
T38UdptlMaxdatagram: 0
CodecPrefsIncomingAnswer: prefer:pending, operation:intersect, keep:all, transcode:allow
SecurityNegotiation: no
DtlsRekey: 0
RtpPortEnd: 0
NamedPickupGroup: 
DirectMediaMethod: invite
SendRpid: false
PickupGroup: 
SdpSession: Asterisk
DtlsVerify: No
MessageContext: 
Tenantid: 
Mailboxes: {mailboxes}
RecordOnFeature: automixmon
DtlsPrivateKey: 
DtlsFingerprint: SHA-256
OverlapContext: 
OutgoingCallOfferPref: remote_merge
RtpPortStart: 0
FromDomain: 
TimersSessExpires: 1800
NamedCallGroup: 
DtlsCipher: 
MediaEncryptionOptimistic: false
SuppressQ850ReasonHeaders: false
Aors: {aors}
IdentifyBy: username,ip
CalleridPrivacy: allowed_not_screened
MwiSubscribeReplacesUnsolicited: no
CosAudio: 0
FollowEarlyMediaFork: true
Context: {context}
RtpSymmetric: true
Transport: {transport}
MohSuggest: default
T38Udptl: false
FaxDetect: false
T38BindUdptlToMediaAddress: false
TosVideo: 0
SrtpTag32: false
ReferBlindProgress: true
MaxAudioStreams: 1
Bundle: false
UseAvpf: false
CallGroup: 
SendConnectedLine: yes
FaxDetectTimeout: 0
SdpOwner: -
ForceRport: true
CalleridTag: 
RtpTimeoutHold: 0
SuppressMohOnSendonly: false
UsePtime: false
MediaAddress: 127.0.0.1
VoicemailExtension: 
RtpTimeout: 0
StirShaken: no
SetVar: 
ContactAcl: 
PreferredCodecOnly: false
GeolocOutgoingCallProfile: 
ForceAvp: false
RecordOffFeature: automixmon
FromUser: 
SendDiversion: true
SendHistoryInfo: false
T38UdptlIpv6: false
ToneZone: 
Language: 
AllowSubscribe: true
RtpIpv6: false
Callerid: {callerid}
MohPassthrough: false
CosVideo: 0
DtlsAutoGenerateCert: No
AsymmetricRtpCodec: false
GeolocIncomingCallProfile: 
IceSupport: false
AggregateMwi: true
OneTouchRecording: false
MwiFromUser: 
RedirectMethod: user
Accountcode: 
CodecPrefsOutgoingAnswer: prefer:pending, operation:intersect, keep:all, transcode:allow
Allow: (ulaw|alaw)
RewriteContact: true
UserEqPhone: false
RtpEngine: asterisk
FollowRedirectMethods: 
SubscribeContext: 
NotifyEarlyInuseRinging: false
IncomingMwiMailbox: 
IncomingCallOfferPref: local
AllowUnauthenticatedOptions: false
Auth: {auth}
DirectMediaGlareMitigation: none
TrustIdInbound: false
StirShakenProfile: 
BindRtpToMediaAddress: true
DisableDirectMediaOnNat: false
MediaEncryption: no
MediaUseReceivedTransport: false
AllowOverlap: true
DtmfMode: rfc4733
OutboundAuth: 
TosAudio: 0
DtlsCertFile: 
DtlsCaPath: 
DtlsSetup: active
ConnectedLineMethod: invite
G726NonStandard: false
100rel: yes
Timers: yes
DirectMedia: false
Acl: 
TimersMinSe: 90
TrustIdOutbound: false
SubMinExpiry: 0
RtcpMux: false
MaxVideoStreams: 1
AcceptMultipleSdpAnswers: false
CodecPrefsIncomingOffer: prefer:pending, operation:intersect, keep:all, transcode:allow
CodecPrefsOutgoingOffer: prefer:pending, operation:union, keep:all, transcode:allow
TrustConnectedLine: yes
SendPai: false
RtpKeepalive: 0
T38UdptlEc: none
T38UdptlNat: false
AllowTransfer: true
DtlsCaFile: 
OutboundProxy: 
InbandProgress: false
DeviceState: {device_state}
ActiveChannels: {active_channels}
""")

# SIPshowpeer's single Response (sip-show-peer-201.txt), after ActionID.
_SIP_SHOW_PEER = _template("""
Channeltype: SIP
ObjectName: {name}
ChanObjectType: peer
SecretExist: Y
RemoteSecretExist: N
MD5SecretExist: N
Context: {context}
Language: 
ToneZone: <Not set>
AMAflags: Unknown
CID-CallingPres: Presentation Allowed, Not Screened
Callgroup: 
Pickupgroup: 
Named Callgroup: 
Named Pickupgroup: 
MOHSuggest: 
VoiceMailbox: {voicemailbox}
TransferMode: open
LastMsgsSent: -1
Maxforwards: 0
Call-limit: 0
Busy-level: 0
MaxCallBR: 384 kbps
Dynamic: {dynamic_yn}
Callerid: {callerid}
RegExpire: {regexpire} seconds
SIP-AuthInsecure: no
SIP-Forcerport: a
SIP-Comedia: N
ACL: N
SIP-CanReinvite: Y
SIP-DirectMedia: Y
SIP-PromiscRedir: N
SIP-UserPhone: N
SIP-VideoSupport: N
SIP-TextSupport: N
SIP-T.38Support: N
SIP-T.38EC: Unknown
SIP-T.38MaxDtgrm: 4294967295
SIP-Sess-Timers: Accept
SIP-Sess-Refresh: uas
SIP-Sess-Expires: 1800
SIP-Sess-Min: 90
SIP-RTP-Engine: asterisk
SIP-Encryption: N
SIP-RTCP-Mux: N
SIP-DTMFmode: rfc2833
ToHost: 
Address-IP: {address_ip}
Address-Port: {address_port}
Default-addr-IP: (null)
Default-addr-port: 0
Default-Username: {default_username}
Codecs: (ulaw)
Status: {status}
SIP-Useragent: {useragent}
Reg-Contact: {reg_contact}
QualifyFreq: 60000 ms
Parkinglot: 
SIP-Use-Reason-Header: N
Description: 
""")

# VoicemailUserEntry / VoicemailUserDetail body (voicemail-users-list.txt).
_VOICEMAIL_USER = _template("""
VMContext: {context}
VoiceMailbox: {mailbox}
Fullname: {fullname}
Email: {email}
Pager: {pager}
ServerEmail: asterisk
FromString: 
MailCommand: /usr/sbin/sendmail -t
Language: {language}
TimeZone: {timezone}
Callback: 
Dialout: 
UniqueID: 
ExitContext: 
SayDurationMinimum: 2
SayEnvelope: Yes
SayCID: No
AttachMessage: No
AttachmentFormat: 
DeleteMessage: No
VolumeGain: 0.00
CanReview: No
CanMarkUrgent: Yes
CallOperator: No
MaxMessageCount: 100
MaxMessageLength: 180
NewMessageCount: {new}
OldMessageCount: {old}
""")


def _fill(template: Headers, values: Dict[str, Any], overrides: Optional[Dict[str, Any]] = None) -> Headers:
    out: Headers = []
    for k, v in template:
        if overrides and k in overrides:
            v = overrides[k]
        elif v.startswith("{") and v.endswith("}"):
            v = values[v[1:-1]]
        elif "{" in v:
            v = v.format(**values)
        out.append((k, str(v)))
    return out


# --------------------------------------------------------------------------
# Connections and simulated channels
# --------------------------------------------------------------------------

class _User:
    __slots__ = ("name", "secret", "read", "write")

    def __init__(self, name: str, spec: Any) -> None:
        self.name = name
        if isinstance(spec, dict):
            self.secret = str(spec.get("secret", ""))
            self.read = _classes(spec.get("read", "all"))
            self.write = _classes(spec.get("write", "all"))
        else:
            self.secret = str(spec)
            self.read = self.write = ALL_CLASSES


def _classes(value: Any) -> frozenset:
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [str(v).strip().lower() for v in value]
    else:
        items = [v.strip().lower() for v in str(value).split(",")]
    if "all" in items:
        return ALL_CLASSES
    return frozenset(i for i in items if i)


def _event_mask(value: str) -> Optional[frozenset]:
    """The Events/EventMask header -> enabled classes (None = invalid)."""
    v = value.strip().lower()
    if v in ("on",) + _TRUE:
        return ALL_CLASSES
    if v in ("off",) + _FALSE or v == "":
        return frozenset()
    if v.isdigit():
        return ALL_CLASSES if int(v) else frozenset()
    classes = _classes(v)
    return classes if classes else None


class _Conn:
    """One client connection.  Writes go through ``send`` so that a whole
    message (or a whole event list) is never interleaved with an event from
    another thread."""

    def __init__(self, sock: socket.socket, conn_id: int, addr: Any) -> None:
        self.sock = sock
        self.id = conn_id
        self.addr = addr
        self.user: Optional[str] = None
        self.read: frozenset = frozenset()
        self.write: frozenset = frozenset()
        self.events: frozenset = frozenset()
        self.send_lock = threading.Lock()
        self.closed = threading.Event()
        self.thread: Optional[threading.Thread] = None

    def wants(self, privilege: str) -> bool:
        if self.user is None or self.closed.is_set():
            return False
        classes = {c.strip().lower() for c in privilege.split(",")} - {"all"}
        return bool(classes & self.events & self.read)

    def send(self, data: bytes) -> bool:
        if not data or self.closed.is_set():
            return False
        with self.send_lock:
            try:
                self.sock.sendall(data)
                return True
            except OSError:
                self.shutdown()
                return False

    def shutdown(self) -> None:
        """Abrupt end (drop_connections/stop): wake the reader; the reader
        thread closes the socket itself."""
        self.closed.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def finish(self) -> None:
        """Orderly end after Goodbye / Authentication failed: send FIN after
        the reply and drain what the client already sent, so that closing
        does not turn into an RST that could discard the reply in flight."""
        with self.send_lock:
            self.closed.set()
            try:
                self.sock.shutdown(socket.SHUT_WR)
                self.sock.setblocking(False)
                while self.sock.recv(65536):
                    pass
            except OSError:
                pass

    def pause(self, seconds: float, stopping: threading.Event) -> bool:
        """Sleep; True if the connection or the peer went away meanwhile."""
        deadline = time.monotonic() + seconds
        while True:
            if self.closed.is_set() or stopping.is_set():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            stopping.wait(min(left, 0.05))


class _Channel:
    """A simulated channel during an originated call."""

    STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}

    def __init__(self, name: str, uniqueid: str, cid: Tuple[str, str], context: str,
                 device: str, endpoint: str) -> None:
        self.name = name
        self.uniqueid = uniqueid
        self.linkedid = uniqueid
        self.state = 0
        self.cid_name, self.cid_num = cid
        self.conn_name, self.conn_num = "<unknown>", "<unknown>"
        self.context = context
        self.exten = "s"
        self.priority = 1
        self.device = device
        self.endpoint = endpoint
        self.vars: Dict[str, str] = {}
        self.functions: List[Tuple[str, str]] = []   # function writes from Originate Variable:
        self.application = "AppDial2"
        self.appdata = "(Outgoing Line)"
        self.created = time.time()


# --------------------------------------------------------------------------
# The peer
# --------------------------------------------------------------------------

class AmiPeer:
    """A fake Asterisk manager on ``host:port`` (port 0 = pick a free one)."""

    _MAX_BUFFER = 1 << 20   # a client that sends 1 MiB without a blank line is garbage

    def __init__(self, users: Optional[Dict[str, Any]] = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        # users: name -> secret (full FreePBX classes) or
        #        name -> {"secret": ..., "read": "call,...", "write": "call,..."}
        self.users: Dict[str, Any] = dict(users) if users is not None else {"admin": "amp111"}
        self.host = host
        self.port = int(port)
        self.lock = threading.RLock()

        # Behaviour controls.
        self.refuse_login = False
        self.login_fail_delay = 1.0
        self.stall = False
        self.response_delay = 0.0
        self.chan_sip = True
        self.originate_delay = 0.05
        self.call_duration = 0.05       # how long an answered call stays up
        self.channelvars: List[str] = []  # manager.conf channelvars (ChanVariable headers)

        # PBX state.
        self.astdb: Dict[str, str] = {}
        self.hints: Dict[str, Dict[str, Any]] = {}
        self.device_states: Dict[str, str] = {}
        self.presence: Dict[str, Dict[str, str]] = {}
        self.pjsip_endpoints: Dict[str, Dict[str, Any]] = {}
        self.pjsip_contacts: Dict[str, List[Dict[str, Any]]] = {}
        self.sip_peers: Dict[str, Dict[str, Any]] = {}
        self.dialplan_patterns: List[str] = list(DEFAULT_DIALPLAN_PATTERNS)
        self.originate_outcomes: Dict[str, str] = {}
        self.shutting_down = False   # answer every action "Asterisk is shutting down"
        self.voicemail_boxes: Dict[str, Dict[str, Any]] = {}
        self.modules = set(DEFAULT_MODULES)
        # Extra CLI commands for Action: Command: "words" -> output text, or a
        # callable(words) -> text or (success_bool, text).
        self.cli_commands: Dict[str, Any] = {}

        # Observations.
        self._actions: List[Action] = []
        self._action_cond = threading.Condition(self.lock)
        self.connections_opened = 0
        self.logins: List[Tuple[str, bool, Optional[str]]] = []
        self.reload_count = 0

        # Runtime.
        self._stopping = threading.Event()
        self._listener: Optional[socket.socket] = None
        self._listen_thread: Optional[threading.Thread] = None
        self._conns: Dict[int, _Conn] = {}
        self._threads: List[threading.Thread] = []
        self._next_conn_id = 0
        self._chan_seq = 0
        self._uid_seq = 0
        self._channels: Dict[str, _Channel] = {}
        self.processed_calls = 0
        self.started_at = time.time()
        self.reloaded_at = self.started_at

        self._handlers: Dict[str, Callable[[_Conn, Action, str], bool]] = {
            "login": self._a_login,
            "setvar": self._a_setvar,
            "logoff": self._a_logoff,
            "ping": self._a_ping,
            "events": self._a_events,
            "coresettings": self._a_coresettings,
            "corestatus": self._a_corestatus,
            "coreshowchannels": self._a_coreshowchannels,
            "command": self._a_command,
            "originate": self._a_originate,
            "extensionstate": self._a_extensionstate,
            "extensionstatelist": self._a_extensionstatelist,
            "devicestatelist": self._a_devicestatelist,
            "presencestate": self._a_presencestate,
            "presencestatelist": self._a_presencestatelist,
            "pjsipshowendpoints": self._a_pjsipshowendpoints,
            "pjsipshowendpoint": self._a_pjsipshowendpoint,
            "pjsipshowcontacts": self._a_pjsipshowcontacts,
            "pjsipshowaors": self._a_pjsipshowaors,
            "pjsipshowregistrationsinbound": self._a_pjsipshowregistrationsinbound,
            "pjsipshowregistrationinboundcontactstatuses": self._a_pjsipshowreginboundcontactstatuses,
            "sippeers": self._a_sippeers,
            "sipshowpeer": self._a_sipshowpeer,
            "dbput": self._a_dbput,
            "dbget": self._a_dbget,
            "dbgettree": self._a_dbgettree,
            "dbdel": self._a_dbdel,
            "dbdeltree": self._a_dbdeltree,
            "reload": self._a_reload,
            "voicemailrefresh": self._a_voicemailrefresh,
            "voicemailuserslist": self._a_voicemailuserslist,
            "voicemailuserstatus": self._a_voicemailuserstatus,
            "voicemailboxsummary": self._a_voicemailboxsummary,
            "voicemailmove": self._a_voicemailmove,
            "voicemailremove": self._a_voicemailremove,
            "voicemailforward": self._a_voicemailforward,
            "mailboxcount": self._a_mailboxcount,
            "mailboxstatus": self._a_mailboxstatus,
        }

    # ------------------------------------------------------------ lifecycle

    def start(self) -> "AmiPeer":
        if self._listener is not None:
            raise RuntimeError("AmiPeer already started")
        self._stopping.clear()
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # SO_REUSEADDR so restart() can bind the same port while old
        # connections sit in TIME_WAIT.
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            lsock.bind((self.host, self.port))
            lsock.listen(64)
        except OSError:
            lsock.close()
            raise
        lsock.settimeout(0.1)
        self.port = lsock.getsockname()[1]
        self._listener = lsock
        t = threading.Thread(target=self._accept_loop, args=(lsock,),
                             name="amipeer-listen-%d" % self.port, daemon=True)
        self._listen_thread = t
        t.start()
        return self

    def stop(self) -> None:
        """Close the listener and every client socket; wait for all threads."""
        self._stopping.set()
        lsock, self._listener = self._listener, None
        if lsock is not None:
            try:
                lsock.close()
            except OSError:
                pass
        self.drop_connections()
        threads = []
        if self._listen_thread is not None:
            threads.append(self._listen_thread)
            self._listen_thread = None
        with self.lock:
            threads.extend(self._threads)
            self._threads = []
        me = threading.current_thread()
        for t in threads:
            if t is not me:
                t.join(timeout=3.0)
        with self.lock:
            self._channels.clear()

    def restart(self) -> "AmiPeer":
        """Stop, then listen again on the same port (outage tests)."""
        port = self.port
        self.stop()
        self.port = port
        deadline = time.monotonic() + 5.0
        while True:
            try:
                return self.start()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def drop_connections(self) -> None:
        """Close every client socket without a Goodbye; keep listening."""
        with self.lock:
            conns = list(self._conns.values())
        for c in conns:
            c.shutdown()
        for c in conns:
            if c.thread is not None and c.thread is not threading.current_thread():
                c.thread.join(timeout=3.0)

    def __enter__(self) -> "AmiPeer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._listener is not None

    # ---------------------------------------------------------- observation

    @property
    def actions(self) -> List[Action]:
        """Snapshot of every message received, all connections, arrival order."""
        with self.lock:
            return list(self._actions)

    def clear_actions(self) -> None:
        with self.lock:
            self._actions.clear()

    def wait_for_action(self, name: str, timeout: float = 2.0) -> Action:
        """The first recorded action called ``name`` (case-insensitive),
        waiting up to ``timeout`` seconds for it.  Use clear_actions() first
        to wait for a new one."""
        want = name.lower()
        deadline = time.monotonic() + timeout
        with self._action_cond:
            while True:
                for a in self._actions:
                    if a.name.lower() == want:
                        return a
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no %r action within %.1fs" % (name, timeout))
                self._action_cond.wait(remaining)

    @property
    def connection_count(self) -> int:
        """Currently open client connections."""
        with self.lock:
            return len(self._conns)

    # ------------------------------------------------------------- seeding

    def load_state(self, state: Dict[str, Any]) -> "AmiPeer":
        """Update state dicts from a mapping (the --seed-json format)."""
        dict_keys = ("astdb", "hints", "device_states", "presence", "pjsip_endpoints",
                     "pjsip_contacts", "sip_peers", "originate_outcomes", "voicemail_boxes",
                     "users", "cli_commands")
        with self.lock:
            for key, value in state.items():
                if key in dict_keys:
                    getattr(self, key).update(value)
                elif key == "dialplan_patterns":
                    self.dialplan_patterns[:] = list(value)
                elif key == "channelvars":
                    self.channelvars[:] = list(value)
                elif key in ("refuse_login", "login_fail_delay", "stall", "response_delay",
                             "chan_sip", "originate_delay", "call_duration"):
                    setattr(self, key, value)
                else:
                    raise ValueError("unknown state key %r" % key)
        return self

    def seed_from_transcripts(self) -> "AmiPeer":
        """Load the PBX the reference captures were taken on (AMI.md "What
        produced them"): PJSIP 101-103 (101 registered), chan_sip 201/202,
        the four hints, the AstDB seed, presence and the voicemail spool."""
        return self.load_state(transcript_seed())

    # ------------------------------------------------------------- events

    def emit_event(self, name: str, fields: Iterable[Tuple[str, Any]],
                   privilege: str = "call,all") -> None:
        """Send an unsolicited event to every connection whose Events
        setting and read classes include one of ``privilege``'s classes."""
        data = render_message([("Event", name), ("Privilege", privilege)] + list(fields))
        with self.lock:
            conns = list(self._conns.values())
        for c in conns:
            if c.wants(privilege):
                c.send(data)

    _ID_HEADERS = (b"Uniqueid", b"Linkedid", b"DestUniqueid", b"DestLinkedid")

    def replay_events(self, capture: str, pace: float = 0.0) -> List[str]:
        """Send the unsolicited events of a captured transcript (``tests/data/ami/<capture>.txt``,
        e.g. ``events-call-internal``) to every connection that wants them, byte for byte as
        the real Asterisk sent them, in order, except that the Uniqueid/Linkedid values
        (also Dest*) are renumbered so a capture can be played again and again. ``pace``
        scales the captured gaps (0: at once). Returns the new Linkedids in order."""
        path = Path(__file__).resolve().parent.parent / "data" / "ami" / ("%s.txt" % capture)
        data = path.read_bytes()
        blocks, times = [], []
        marker = re.compile(rb"^<<< \S+ t=\+([0-9.]+)s len=(\d+)$", re.M)
        for m in marker.finditer(data):
            payload = data[m.end() + 1:m.end() + 1 + int(m.group(2))]
            if payload.startswith(b"Event: ") and b"\r\nActionID: " not in payload \
                    and not payload.startswith(b"Event: FullyBooted"):
                blocks.append(payload)
                times.append(float(m.group(1)))
        ids: Dict[bytes, bytes] = {}
        links: List[str] = []
        with self.lock:
            now = int(time.time())

            def fresh(old: bytes) -> bytes:
                if old not in ids:
                    ids[old] = b"%d.%d" % (now, self._uid_seq)
                    self._uid_seq += 1
                return ids[old]

            out = []
            for b in blocks:
                lines = b.split(b"\r\n")
                for i, line in enumerate(lines):
                    k, sep, v = line.partition(b": ")
                    if sep and k in self._ID_HEADERS and re.fullmatch(rb"[0-9]+\.[0-9]+", v):
                        lines[i] = k + sep + fresh(v)
                        if k == b"Linkedid" and fresh(v).decode() not in links:
                            links.append(fresh(v).decode())
                priv = re.search(rb"\r\nPrivilege: ([^\r]*)", b)
                out.append((b"\r\n".join(lines), priv.group(1).decode() if priv else "call,all"))
        last = times[0] if times else 0.0
        for (payload, privilege), t in zip(out, times):
            if pace and t > last:
                self._stopping.wait((t - last) * pace)
            last = t
            with self.lock:
                conns = list(self._conns.values())
            for c in conns:
                if c.wants(privilege):
                    c.send(payload)
        return links

    def pjsip_register(self, endpoint: str, uri: Optional[str] = None,
                       user_agent: str = "SIPp/3.6.1 test-phone", roundtrip_usec: int = 1134,
                       expires: int = 300) -> None:
        """Simulate a phone REGISTERing to endpoint/AOR ``endpoint``: updates
        contacts and device state and sends the events of events-registration.txt."""
        uri = uri or "sip:%s@127.0.0.1:5062" % endpoint
        m = re.match(r"sips?:[^@]*@([^:;>]+)(?::(\d+))?", uri)
        host, port = (m.group(1), int(m.group(2) or 5060)) if m else ("127.0.0.1", 5060)
        contact = {"uri": uri, "via_addr": host, "via_port": port, "user_agent": user_agent,
                   "status": "Reachable", "roundtrip_usec": roundtrip_usec,
                   "expiration_time": int(time.time()) + expires,
                   "call_id": "%x@%s" % (int(time.time() * 1000), host)}
        with self.lock:
            aor = self._aor_name(endpoint)
            self.pjsip_contacts[aor] = [contact]
            self.device_states["PJSIP/%s" % endpoint] = "NOT_INUSE"
        base = [("URI", uri)]
        tail = [("AOR", aor), ("EndpointName", endpoint)]
        self.emit_event("ContactStatus", base + [("ContactStatus", "NonQualified")] + tail
                        + [("RoundtripUsec", "0")], "system,all")
        self.emit_event("PeerStatus", [("ChannelType", "PJSIP"), ("Peer", "PJSIP/%s" % endpoint),
                                       ("PeerStatus", "Reachable")], "system,all")
        self.emit_event("ContactStatus", base + [("ContactStatus", "Reachable")] + tail
                        + [("RoundtripUsec", str(roundtrip_usec))], "system,all")
        self._emit_device_change("PJSIP/%s" % endpoint)

    def pjsip_unregister(self, endpoint: str) -> None:
        """Simulate the phone's un-REGISTER (Expires: 0)."""
        with self.lock:
            aor = self._aor_name(endpoint)
            contacts = self.pjsip_contacts.pop(aor, [])
            self.device_states["PJSIP/%s" % endpoint] = "UNAVAILABLE"
        self.emit_event("PeerStatus", [("ChannelType", "PJSIP"), ("Peer", "PJSIP/%s" % endpoint),
                                       ("PeerStatus", "Unreachable")], "system,all")
        for c in contacts:
            self.emit_event("ContactStatus", [("URI", c.get("uri", "")), ("ContactStatus", "Removed"),
                                              ("AOR", aor), ("EndpointName", endpoint),
                                              ("RoundtripUsec", "0")], "system,all")
        self._emit_device_change("PJSIP/%s" % endpoint)

    def _emit_device_change(self, device: str) -> None:
        with self.lock:
            state = self._device_state(device)
            hints = self._hints_for_device(device)
        self.emit_event("DeviceStateChange", [("Device", device), ("State", state)])
        for exten, hint in hints:
            self.emit_event("ExtensionStatus", self._extension_status_fields(exten, hint))

    # ------------------------------------------------------------ networking

    def _accept_loop(self, lsock: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                csock, addr = lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            if self._stopping.is_set():
                csock.close()
                break
            csock.settimeout(5.0)   # bounds sendall to a client that never reads
            with self.lock:
                self._next_conn_id += 1
                conn = _Conn(csock, self._next_conn_id, addr)
                self._conns[conn.id] = conn
                self.connections_opened += 1
                t = threading.Thread(target=self._conn_loop, args=(conn,),
                                     name="amipeer-conn-%d" % conn.id, daemon=True)
                conn.thread = t
                self._threads.append(t)
            t.start()

    def _conn_loop(self, conn: _Conn) -> None:
        buf = b""
        try:
            conn.send(BANNER)
            while not conn.closed.is_set() and not self._stopping.is_set():
                try:
                    ready, _, _ = select.select([conn.sock], [], [], 0.1)
                except (OSError, ValueError):
                    break
                if not ready:
                    continue
                try:
                    data = conn.sock.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not data:
                    break
                buf += data
                while not conn.closed.is_set():
                    msg, buf = self._take_message(buf)
                    if msg is None:
                        break
                    if not self._dispatch(conn, msg):
                        conn.finish()
                        break
                if len(buf) > self._MAX_BUFFER:
                    buf = b""
        except Exception:   # never let a bug take the server down; show it
            traceback.print_exc()
        finally:
            conn.closed.set()
            try:
                conn.sock.close()
            except OSError:
                pass
            with self.lock:
                self._conns.pop(conn.id, None)
                me = threading.current_thread()
                if me in self._threads:
                    self._threads.remove(me)

    @staticmethod
    def _take_message(buf: bytes) -> Tuple[Optional[bytes], bytes]:
        """Cut one message (lines up to an empty line) off the buffer.  Lines
        end in CRLF; a bare LF is accepted too."""
        pos = 0
        while True:
            nl = buf.find(b"\n", pos)
            if nl < 0:
                return None, buf
            line = buf[pos:nl]
            if line.endswith(b"\r"):
                line = line[:-1]
            pos = nl + 1
            if not line:
                return buf[:pos], buf[pos:]

    # -------------------------------------------------------------- dispatch

    def _dispatch(self, conn: _Conn, raw: bytes) -> bool:
        """Handle one message; False closes the connection."""
        text = raw.decode("utf-8", errors="replace")
        lines = [l[:-1] if l.endswith("\r") else l for l in text.split("\n")]
        headers = _parse_headers([l for l in lines if l])
        action = Action("", headers, raw, conn.id, conn.user)
        action.name = (action.get("Action") or "").strip()
        with self._action_cond:
            self._actions.append(action)
            self._action_cond.notify_all()

        if self.stall:
            return True
        if self.response_delay > 0 and conn.pause(self.response_delay, self._stopping):
            return False

        aid = action.get("ActionID", "") or ""
        name = action.name
        if not name:
            conn.send(_error(aid, "Missing action in request"))
            return True
        lname = name.lower()
        if self.shutting_down:
            # `core stop` on a real Asterisk 20: every action, Login and Ping included
            # (tests/data/ami/shutting-down.txt)
            conn.send(_error(aid, "Asterisk is shutting down"))
            return True
        if conn.user is None and lname not in ("login", "logoff", "challenge"):
            conn.send(_error(aid, "Permission denied"))
            return True
        handler = self._handlers.get(lname)
        if handler is None or (not self.chan_sip and lname in ("sippeers", "sipshowpeer")):
            conn.send(_error(aid, "Invalid/unknown command: %s. Use Action: ListCommands to "
                                  "show available commands." % name))
            return True
        needed = ACTION_CLASSES.get(lname)
        if needed and conn.user is not None and not (needed & conn.write):
            conn.send(_error(aid, "Permission denied"))
            return True
        try:
            return handler(conn, action, aid)
        except Exception as exc:   # a peer bug: say so on the wire, keep serving
            traceback.print_exc()
            conn.send(_error(aid, "amipeer internal error: %s" % exc))
            return True

    def _lookup_user(self, name: str) -> Optional[_User]:
        with self.lock:
            spec = self.users.get(name)
        return _User(name, spec) if spec is not None else None

    # ----------------------------------------------------- session actions

    def _a_login(self, conn: _Conn, act: Action, aid: str) -> bool:
        if conn.user is not None:
            conn.send(_ack(aid, "Already authenticated"))
            return True
        username = act.get("Username", "") or ""
        events = act.get("Events")
        user = self._lookup_user(username)
        ok = (not self.refuse_login and user is not None
              and (act.get("AuthType") or "").lower() != "md5"
              and (act.get("Secret") or "") == user.secret)
        with self.lock:
            self.logins.append((username, ok, events))
        if not ok:
            # Asterisk sleeps about a second before refusing, then hangs up.
            if conn.pause(max(0.0, self.login_fail_delay), self._stopping):
                return False
            conn.send(_error(aid, "Authentication failed"))
            return False
        assert user is not None
        conn.read, conn.write = user.read, user.write
        conn.events = ALL_CLASSES
        if events is not None:
            mask = _event_mask(events)
            conn.events = mask if mask is not None else ALL_CLASSES
        conn.user = username
        conn.send(_ack(aid, "Authentication accepted"))
        if conn.wants("system,all"):
            now = time.time()
            conn.send(render_message([
                ("Event", "FullyBooted"), ("Privilege", "system,all"),
                ("Uptime", str(int(now - self.started_at))),
                ("LastReload", str(int(now - self.reloaded_at))),
                ("Status", "Fully Booted"),
            ]))
        return True

    def _a_logoff(self, conn: _Conn, act: Action, aid: str) -> bool:
        conn.send(_response("Goodbye", aid, [("Message", "Thanks for all the fish.")]))
        return False

    def _a_ping(self, conn: _Conn, act: Action, aid: str) -> bool:
        conn.send(_response("Success", aid, [("Ping", "Pong"), ("Timestamp", "%.6f" % time.time())]))
        return True

    def _a_events(self, conn: _Conn, act: Action, aid: str) -> bool:
        mask = _event_mask(act.get("EventMask", "") or "")
        if mask is None:
            conn.send(_error(aid, "Invalid event mask"))
            return True
        conn.events = mask
        # Asterisk answers without a Message header here.
        conn.send(_response("Success", aid, [("Events", "On" if mask else "Off")]))
        return True

    def _a_coresettings(self, conn: _Conn, act: Action, aid: str) -> bool:
        conn.send(_response("Success", aid, [
            ("AMIversion", AMI_VERSION), ("AsteriskVersion", ASTERISK_VERSION),
            ("SystemName", ""), ("CoreMaxCalls", "0"), ("CoreMaxLoadAvg", "0.000000"),
            ("CoreRunUser", ""), ("CoreRunGroup", ""), ("CoreMaxFilehandles", "0"),
            ("CoreRealTimeEnabled", "No"), ("CoreCDRenabled", "Yes"),
            ("CoreHTTPenabled", "No"), ("SoundsSearchCustomDir", "No"),
        ]))
        return True

    def _a_corestatus(self, conn: _Conn, act: Action, aid: str) -> bool:
        sd, st = _ast_dates(self.started_at)
        rd, rt = _ast_dates(self.reloaded_at)
        with self.lock:
            current, processed = len(self._channels), self.processed_calls
        conn.send(_response("Success", aid, [
            ("CoreStartupDate", sd), ("CoreStartupTime", st),
            ("CoreReloadDate", rd), ("CoreReloadTime", rt),
            ("CoreCurrentCalls", str(current)), ("CoreProcessedCalls", str(processed)),
        ]))
        return True

    def _a_coreshowchannels(self, conn: _Conn, act: Action, aid: str) -> bool:
        with self.lock:
            items = []
            now = time.time()
            for ch in self._channels.values():
                secs = int(now - ch.created)
                items.append(self._chan_fields(ch, with_vars=False) + [
                    ("Application", ch.application), ("ApplicationData", ch.appdata),
                    ("Duration", "%02d:%02d:%02d" % (secs // 3600, secs // 60 % 60, secs % 60)),
                    ("BridgeId", ""),
                ])
        conn.send(_event_list(aid, "Channels will follow", "CoreShowChannel", items,
                              "CoreShowChannelsComplete"))
        return True

    # ------------------------------------------------------------- Command

    def _a_command(self, conn: _Conn, act: Action, aid: str) -> bool:
        cmd = act.get("Command", "") or ""
        if not cmd.strip():
            conn.send(_error(aid, "No command provided"))
            return True
        ok, text, after = self._cli(cmd)
        fields = [("Message", "Command output follows")]
        fields += [("Output", line) for line in _command_output_lines(text)]
        conn.send(_response("Success" if ok else "Error", aid, fields))
        if after is not None:
            after()
        return True

    def _cli(self, line: str) -> Tuple[bool, str, Optional[Callable[[], None]]]:
        """Run a CLI command: (success, output text, thing to do after the reply)."""
        words = _cli_words(line)
        joined = " ".join(words)
        lw = [w.lower() for w in words]
        with self.lock:
            custom = self.cli_commands.get(joined)
        if custom is not None:
            result = custom(words) if callable(custom) else custom
            if isinstance(result, tuple):
                return bool(result[0]), str(result[1]), None
            return True, str(result), None
        if lw[:3] == ["core", "show", "version"]:
            return True, VERSION_LINE + "\n", None
        if lw in (["core", "reload"], ["reload"], ["module", "reload"]):
            return True, "", lambda: self._do_reload(None)
        if lw[:2] == ["database", "show"] and len(words) <= 4:
            return True, self._cli_database_show(words[2:]), None
        if lw[:2] == ["database", "get"] and len(words) == 4:
            with self.lock:
                val = self.astdb.get("/%s/%s" % (words[2], words[3]))
            return True, ("Value: %s\n" % val if val is not None else "Database entry not found.\n"), None
        if lw[:2] == ["database", "put"] and len(words) == 5:
            with self.lock:
                self.astdb["/%s/%s" % (words[2], words[3])] = words[4]
            return True, "Updated database successfully\n", None
        if lw[:2] == ["database", "del"] and len(words) == 4:
            with self.lock:
                found = self.astdb.pop("/%s/%s" % (words[2], words[3]), None) is not None
            return True, ("Database entry removed.\n" if found else "Database entry does not exist.\n"), None
        if lw[:2] == ["database", "deltree"] and len(words) in (3, 4):
            n = self._db_deltree(words[2], words[3] if len(words) == 4 else "")
            return True, ("%d database entries removed.\n" % n if n else "Database entries do not exist.\n"), None
        if lw[:3] == ["pjsip", "show", "contacts"]:
            return True, self._cli_pjsip_show_contacts(), None
        if words and lw[0] == "database" and len(words) >= 2 and lw[1] in ("get", "put", "del", "deltree"):
            return True, "Usage: database %s\n" % {
                "get": "get <family> <key>", "put": "put <family> <key> <value>",
                "del": "del <family> <key>", "deltree": "deltree <family> [keytree]"}[lw[1]], None
        return False, ("No such command '%s' (type 'core show help %s' for other possible commands)\n"
                       % (joined, _cli_best_prefix(words))), None

    def _cli_database_show(self, args: List[str]) -> str:
        prefix = "/" + "/".join(args) if args else ""
        with self.lock:
            rows = sorted((k, v) for k, v in self.astdb.items()
                          if not prefix or k == prefix or k.startswith(prefix + "/"))
        out = ["%-50s: %-25s\n" % (k, v) for k, v in rows]
        out.append("%d results found.\n" % len(rows))
        return "".join(out)

    def _cli_pjsip_show_contacts(self) -> str:
        short = {"Reachable": "Avail", "Unreachable": "Unavail", "NonQualified": "NonQual"}
        with self.lock:
            rows = []
            for aor in self._aor_names():
                for c in self._contacts_for(aor):
                    rows.append((aor, c))
        if not rows:
            return "No objects found.\n\n"
        out = ["\n",
               "  Contact:  <Aor/ContactUri..............................> <Hash....> <Status> <RTT(ms)..>\n",
               "=" * 90 + "\n", "\n"]
        for aor, c in rows:
            ident = self._contact_id(aor, c)
            out.append("  Contact:  %-46.46s %-10.10s %-7.7s %11.3f\n" % (
                "%s/%s" % (aor, c["uri"]), ident.split(";@", 1)[-1],
                short.get(c["status"], c["status"]), int(c["roundtrip_usec"]) / 1000.0))
        out.append("\nObjects found: %d\n\n" % len(rows))
        return "".join(out)

    # ---------------------------------------------------------------- AstDB

    def _a_dbput(self, conn: _Conn, act: Action, aid: str) -> bool:
        family, key = act.get("Family", "") or "", act.get("Key", "") or ""
        if not family:
            conn.send(_error(aid, "No family specified"))
        elif not key:
            conn.send(_error(aid, "No key specified"))
        else:
            with self.lock:
                self.astdb["/%s/%s" % (family, key)] = act.get("Val", "") or ""
            conn.send(_ack(aid, "Updated database successfully"))
        return True

    def _a_dbget(self, conn: _Conn, act: Action, aid: str) -> bool:
        family, key = act.get("Family", "") or "", act.get("Key", "") or ""
        if not family:
            conn.send(_error(aid, "No family specified."))
            return True
        if not key:
            conn.send(_error(aid, "No key specified."))
            return True
        with self.lock:
            val = self.astdb.get("/%s/%s" % (family, key))
        if val is None:
            conn.send(_error(aid, "Database entry not found"))
            return True
        # DBGetResponse is the one event that puts ActionID last.
        conn.send(_list_start(aid, "Result will follow")
                  + render_message([("Event", "DBGetResponse"), ("Family", family), ("Key", key),
                                    ("Val", val)] + _aid(aid))
                  + _list_complete("DBGetComplete", aid, 1))
        return True

    def _db_tree(self, family: str, key: str) -> List[Tuple[str, str]]:
        # Prefix-safe like Asterisk's "key || '/' LIKE prefix || '/%'":
        # /AMPUSER/10 matches /AMPUSER/10 and /AMPUSER/10/..., not /AMPUSER/101.
        prefix = "/%s/%s" % (family, key) if key else "/%s" % family
        with self.lock:
            return sorted((k, v) for k, v in self.astdb.items()
                          if k == prefix or k.startswith(prefix + "/"))

    def _db_deltree(self, family: str, key: str) -> int:
        rows = self._db_tree(family, key)
        with self.lock:
            for k, _ in rows:
                self.astdb.pop(k, None)
        return len(rows)

    def _a_dbgettree(self, conn: _Conn, act: Action, aid: str) -> bool:
        family, key = act.get("Family", "") or "", act.get("Key", "") or ""
        if not family:
            conn.send(_error(aid, "'Family' header required"))
            return True
        rows = self._db_tree(family, key)
        items = [[("Key", k), ("Val", v)] for k, v in rows]
        # Like DBGetResponse, the tree items put ActionID last.
        parts = [_list_start(aid, "Result will follow")]
        parts += [render_message([("Event", "DBGetTreeResponse")] + it + _aid(aid)) for it in items]
        parts.append(_list_complete("DBGetTreeComplete", aid, len(items)))
        conn.send(b"".join(parts))
        return True

    def _a_dbdel(self, conn: _Conn, act: Action, aid: str) -> bool:
        family, key = act.get("Family", "") or "", act.get("Key", "") or ""
        if not family:
            conn.send(_error(aid, "No family specified."))
            return True
        if not key:
            conn.send(_error(aid, "No key specified."))
            return True
        with self.lock:
            found = self.astdb.pop("/%s/%s" % (family, key), None) is not None
        conn.send(_ack(aid, "Key deleted successfully") if found
                  else _error(aid, "Database entry could not be deleted"))
        return True

    def _a_dbdeltree(self, conn: _Conn, act: Action, aid: str) -> bool:
        family, key = act.get("Family", "") or "", act.get("Key", "") or ""
        if not family:
            conn.send(_error(aid, "No family specified."))
            return True
        n = self._db_deltree(family, key)
        conn.send(_ack(aid, "Key tree deleted successfully") if n
                  else _error(aid, "Database entry not found"))
        return True

    def _a_setvar(self, conn: _Conn, act: Action, aid: str) -> bool:
        """Setvar without a channel: only DEVICE_STATE(Custom:<name>) is modelled (the
        state feed's probe): "Variable Set", then DeviceStateChange when the state
        changed (tests/data/ami/setvar-device-state.txt) and ExtensionStatus of hints on it."""
        var, value = act.get("Variable", "") or "", (act.get("Value", "") or "").strip().upper()
        m = re.fullmatch(r"DEVICE_STATE\((Custom:[^)]+)\)", var.strip())
        if not m:
            conn.send(_error(aid, "Setvar: only DEVICE_STATE(Custom:...) is modelled by the peer"))
            return True
        device = m.group(1)
        with self.lock:
            changed = self.device_states.get(device) != value
            self.device_states[device] = value
        conn.send(_ack(aid, "Variable Set"))
        if changed:
            self._emit_device_change(device)
        return True

    # ------------------------------------------------- hints, device states

    def _device_state(self, device: str) -> str:
        """Device state name of one device (lock held by caller)."""
        if device in self.device_states:
            return self.device_states[device]
        tech, _, res = device.partition("/")
        if tech.upper() == "PJSIP":
            ep = self.pjsip_endpoints.get(res)
            if ep is None:
                return "INVALID"
            return "NOT_INUSE" if self._contacts_for(self._aor_name(res)) else "UNAVAILABLE"
        if tech.upper() == "SIP":
            peer = self.sip_peers.get(res)
            if peer is None:
                return "INVALID"
            return "UNAVAILABLE" if peer.get("ip", "-none-") in ("-none-", "", None) else "NOT_INUSE"
        return "UNKNOWN"

    @staticmethod
    def _hint_devices(hint: str) -> List[str]:
        # "PJSIP/103&Custom:DND103,CustomPresence:103": devices before the comma.
        return [d for d in hint.split(",", 1)[0].split("&") if d]

    @staticmethod
    def _aggregate(states: List[str]) -> int:
        """Extension state from device states, after Asterisk's aggregation:
        ringing and in-use combine, any free device makes the hint Idle
        unless another is busy/in use, all unavailable -> Unavailable."""
        if not states:
            return -1
        s = set(states)
        ring = bool(s & {"RINGING", "RINGINUSE"})
        inuse = bool(s & {"INUSE", "RINGINUSE"})
        if ring and (inuse or "BUSY" in s or "ONHOLD" in s):
            return 9
        if ring:
            return 8
        if "BUSY" in s:
            return 2
        if inuse:
            return 17 if "ONHOLD" in s else 1
        if "ONHOLD" in s:
            return 16
        if "NOT_INUSE" in s:
            return 0
        if s <= {"UNAVAILABLE", "INVALID"}:
            return 4
        return 0

    def _hint_status(self, hint: Dict[str, Any], override: Optional[Dict[str, str]] = None) -> int:
        if override is None and "status" in hint:
            return int(hint["status"])
        devices = self._hint_devices(hint.get("hint", ""))
        return self._aggregate([(override or {}).get(d) or self._device_state(d) for d in devices])

    def _extension_status_fields(self, exten: str, hint: Dict[str, Any],
                                 override: Optional[Dict[str, str]] = None) -> Headers:
        status = self._hint_status(hint, override)
        return [("Exten", exten), ("Context", hint.get("context", "from-internal")),
                ("Hint", hint.get("hint", "")), ("Status", str(status)),
                ("StatusText", EXTENSION_STATE_TEXT.get(status, "Unknown"))]

    def _hints_for_device(self, device: str) -> List[Tuple[str, Dict[str, Any]]]:
        return [(e, dict(h)) for e, h in self.hints.items()
                if device in self._hint_devices(h.get("hint", ""))]

    def _a_extensionstate(self, conn: _Conn, act: Action, aid: str) -> bool:
        exten = act.get("Exten", "") or ""
        context = act.get("Context", "") or "default"
        with self.lock:
            hint = self.hints.get(exten)
            if hint is not None and hint.get("context", "from-internal") == context:
                status = self._hint_status(hint)
                text = hint.get("hint", "")
            else:
                status, text = -1, ""
        conn.send(_response("Success", aid, [
            ("Message", "Extension Status"), ("Exten", exten), ("Context", context),
            ("Hint", text), ("Status", str(status)),
            ("StatusText", EXTENSION_STATE_TEXT.get(status, "Unknown")),
        ]))
        return True

    def _a_extensionstatelist(self, conn: _Conn, act: Action, aid: str) -> bool:
        with self.lock:
            items = [self._extension_status_fields(e, h) for e, h in self.hints.items()]
        conn.send(_event_list(aid, "Extension Statuses will follow", "ExtensionStatus", items,
                              "ExtensionStateListComplete"))
        return True

    def _a_devicestatelist(self, conn: _Conn, act: Action, aid: str) -> bool:
        with self.lock:
            items = [[("Device", d), ("State", s)] for d, s in self.device_states.items()]
        conn.send(_event_list(aid, "Device State Changes will follow", "DeviceStateChange", items,
                              "DeviceStateListComplete"))
        return True

    def _a_presencestate(self, conn: _Conn, act: Action, aid: str) -> bool:
        provider = act.get("Provider", "") or ""
        if not provider:
            conn.send(_error(aid, "No provider specified"))
            return True
        if not provider.lower().startswith("custompresence:"):
            conn.send(_error(aid, "Invalid provider %s or provider in invalid state" % provider))
            return True
        with self.lock:
            p = dict(self.presence.get(provider) or {})
        fields = [("Message", "Presence State"), ("State", str(p.get("state", "not_set")).lower())]
        if p.get("subtype"):
            fields.append(("Subtype", p["subtype"]))
        if p.get("message"):
            # Asterisk really repeats Message: here (AMI.md), then PresenceMessage.
            fields += [("Message", p["message"]), ("PresenceMessage", p["message"])]
        conn.send(_response("Success", aid, fields))
        return True

    def _a_presencestatelist(self, conn: _Conn, act: Action, aid: str) -> bool:
        with self.lock:
            items = [[("Presentity", name), ("Status", str(p.get("state", "not_set")).lower()),
                      ("Subtype", p.get("subtype", "")), ("Message", p.get("message", ""))]
                     for name, p in self.presence.items()]
        conn.send(_event_list(aid, "Presence State Changes will follow", "PresenceStateChange", items,
                              "PresenceStateListComplete"))
        return True

    # ---------------------------------------------------------------- PJSIP

    def _aor_name(self, endpoint: str) -> str:
        ep = self.pjsip_endpoints.get(endpoint) or {}
        return str(ep.get("aors", endpoint)).split(",")[0]

    def _aor_names(self) -> List[str]:
        names: List[str] = []
        for ep in self.pjsip_endpoints:
            a = self._aor_name(ep)
            if a not in names:
                names.append(a)
        return names

    def _aor_endpoint(self, aor: str) -> str:
        for ep in self.pjsip_endpoints:
            if self._aor_name(ep) == aor:
                return ep
        return aor

    def _contacts_for(self, aor: str) -> List[Dict[str, Any]]:
        """Contacts of an AOR as full dicts with defaults filled in.  They come
        from pjsip_contacts[aor], or else from the endpoint's "contacts" list
        of URIs."""
        raw = self.pjsip_contacts.get(aor)
        if raw is None:
            ep = self.pjsip_endpoints.get(self._aor_endpoint(aor)) or {}
            raw = [{"uri": u} for u in ep.get("contacts", [])]
        out = []
        for c in raw:
            if isinstance(c, str):
                c = {"uri": c}
            uri = c.get("uri", "")
            m = re.match(r"sips?:[^@]*@?([^:;>]+)(?::(\d+))?", uri)
            host = m.group(1) if m else ""
            port = int(m.group(2)) if m and m.group(2) else 5060
            full = {
                "uri": uri, "via_addr": host, "via_port": port, "user_agent": "",
                "status": "Reachable", "roundtrip_usec": 0, "expiration_time": int(time.time()) + 3600,
                "call_id": "", "qualify_frequency": 30, "qualify_timeout": 3.0,
                "reg_server": "", "path": "", "outbound_proxy": "",
            }
            full.update(c)
            out.append(full)
        return out

    @staticmethod
    def _contact_id(aor: str, contact: Dict[str, Any]) -> str:
        # Asterisk names a registered contact "<aor>;@<md5 of the URI>".
        return contact.get("id") or "%s;@%s" % (aor, hashlib.md5(contact["uri"].encode()).hexdigest())

    def _aor_fields(self, aor: str, ep: Dict[str, Any], contact_key: str = "Contacts") -> Headers:
        a = dict(ep.get("aor", {}))
        contacts = self._contacts_for(aor)
        qf = contacts[0]["qualify_frequency"] if contacts else a.get("qualify_frequency", 30)
        return [
            ("ObjectType", "aor"), ("ObjectName", aor),
            ("MinimumExpiration", str(a.get("minimum_expiration", 60))),
            ("DefaultExpiration", str(a.get("default_expiration", 300))),
            ("QualifyTimeout", "%.6f" % float(a.get("qualify_timeout", 3.0))),
            ("Qualify2xxOnly", "false"),
            ("Mailboxes", str(a.get("mailboxes", ""))),
            ("SupportPath", "false"), ("RemoveUnavailable", "false"),
            ("VoicemailExtension", ""),
            ("MaxContacts", str(a.get("max_contacts", 1))),
            ("AuthenticateQualify", "false"),
            (contact_key, ",".join("%s/%s" % (aor, c["uri"]) for c in contacts)),
            ("MaximumExpiration", str(a.get("maximum_expiration", 3600))),
            ("QualifyFrequency", str(a.get("qualify_frequency", qf))),
            ("RemoveExisting", "true" if a.get("remove_existing", True) else "false"),
            ("OutboundProxy", ""),
        ]

    def _endpoint_devstate_text(self, name: str, ep: Dict[str, Any]) -> str:
        if ep.get("device_state"):
            return str(ep["device_state"])
        state = self._device_state("PJSIP/%s" % name)
        return DEVICE_STATE_TEXT.get(state, "Unknown")

    def _active_channels(self, name: str) -> int:
        return sum(1 for ch in self._channels.values() if ch.device == "PJSIP/%s" % name)

    def _contact_status_detail(self, aor: str, endpoint: str, c: Dict[str, Any]) -> Headers:
        return [
            ("AOR", aor), ("URI", c["uri"]), ("UserAgent", c["user_agent"]),
            ("RegExpire", str(c["expiration_time"])),
            ("ViaAddress", "%s:%s" % (c["via_addr"], c["via_port"])),
            ("CallID", c["call_id"]), ("Status", c["status"]),
            ("RoundtripUsec", str(c["roundtrip_usec"])), ("EndpointName", endpoint),
            ("ID", self._contact_id(aor, c)), ("AuthenticateQualify", "0"),
            ("OutboundProxy", c["outbound_proxy"]), ("Path", c["path"]),
            ("QualifyFrequency", str(c["qualify_frequency"])),
            ("QualifyTimeout", "%.3f" % float(c["qualify_timeout"])),
            ("Qualify2xxOnly", "0"),
        ]

    def _a_pjsipshowendpoints(self, conn: _Conn, act: Action, aid: str) -> bool:
        with self.lock:
            items = []
            for name, ep in self.pjsip_endpoints.items():
                aor = self._aor_name(name)
                items.append([
                    ("ObjectType", "endpoint"), ("ObjectName", name),
                    ("Transport", str(ep.get("transport", ""))), ("Aor", str(ep.get("aors", name))),
                    ("Auths", str(ep.get("auth", "%s-auth" % name))),
                    ("OutboundAuths", str(ep.get("outbound_auth", ""))),
                    ("Contacts", "".join("%s/%s," % (aor, c["uri"]) for c in self._contacts_for(aor))),
                    ("DeviceState", self._endpoint_devstate_text(name, ep)),
                    ("ActiveChannels", str(self._active_channels(name))),
                ])
        if not items:
            conn.send(_error(aid, "No endpoints found\n"))
            return True
        conn.send(_event_list(aid, "A listing of Endpoints follows, presented as EndpointList events",
                              "EndpointList", items, "EndpointListComplete"))
        return True

    def _a_pjsipshowendpoint(self, conn: _Conn, act: Action, aid: str) -> bool:
        name = act.get("Endpoint", "") or ""
        if not name:
            conn.send(_error(aid, "PJSIPShowEndpoint requires an endpoint name\n"))
            return True
        with self.lock:
            ep = self.pjsip_endpoints.get(name)
            if ep is None:
                items = None
            else:
                ep = dict(ep)
                aor = self._aor_name(name)
                auth = str(ep.get("auth", "%s-auth" % name))
                values = {
                    "name": name, "mailboxes": ep.get("mailboxes", "%s@default" % name),
                    "aors": ep.get("aors", name), "context": ep.get("context", "from-internal"),
                    "transport": ep.get("transport", ""), "callerid": ep.get("callerid", ""),
                    "auth": auth, "device_state": self._endpoint_devstate_text(name, ep),
                    "active_channels": self._active_channels(name),
                }
                items = [[("Event", "EndpointDetail")] + _fill(_ENDPOINT_DETAIL, values, ep.get("detail"))]
                if auth:
                    items.append([("Event", "AuthDetail"),
                                  ("ObjectType", "auth"), ("ObjectName", auth),
                                  ("OauthSecret", ""), ("PasswordDigest", ""),
                                  ("SupportedAlgorithmsUas", "MD5"), ("RefreshToken", ""),
                                  ("Username", str(ep.get("username", name))), ("Md5Cred", ""),
                                  ("Realm", ""), ("AuthType", "userpass"),
                                  ("Password", str(ep.get("password", ""))),
                                  ("SupportedAlgorithmsUac", "MD5"), ("NonceLifetime", "32"),
                                  ("OauthClientid", ""), ("EndpointName", name)])
                contacts = self._contacts_for(aor)
                items.append([("Event", "AorDetail")] + self._aor_fields(aor, ep) + [
                    ("TotalContacts", str(len(contacts))),
                    ("ContactsRegistered", str(len(contacts))),
                    ("EndpointName", name)])
                for c in contacts:
                    items.append([("Event", "ContactStatusDetail")]
                                 + self._contact_status_detail(aor, name, c))
        if items is None:
            conn.send(_error(aid, "Unable to retrieve endpoint %s\n" % name))
            return True
        conn.send(_event_list(aid, "Following are Events for each object associated with the Endpoint",
                              None, items, "EndpointDetailComplete"))
        return True

    def _a_pjsipshowcontacts(self, conn: _Conn, act: Action, aid: str) -> bool:
        with self.lock:
            items = []
            for aor in self._aor_names():
                endpoint = self._aor_endpoint(aor)
                for c in self._contacts_for(aor):
                    items.append([
                        ("ObjectType", "contact"), ("ObjectName", self._contact_id(aor, c)),
                        ("ViaAddr", str(c["via_addr"])),
                        ("QualifyTimeout", "%.6f" % float(c["qualify_timeout"])),
                        ("Qualify2xxOnly", "false"), ("CallId", c["call_id"]),
                        ("RegServer", c["reg_server"]), ("PruneOnBoot", "no"), ("Path", c["path"]),
                        ("Endpoint", endpoint), ("ViaPort", str(c["via_port"])),
                        ("AuthenticateQualify", "no"), ("Uri", c["uri"]),
                        ("QualifyFrequency", str(c["qualify_frequency"])),
                        ("UserAgent", c["user_agent"]), ("ExpirationTime", str(c["expiration_time"])),
                        ("OutboundProxy", c["outbound_proxy"]), ("Status", c["status"]),
                        ("RoundtripUsec", str(c["roundtrip_usec"])),
                    ])
        conn.send(_event_list(aid, "A listing of Contacts follows, presented as ContactList events",
                              "ContactList", items, "ContactListComplete"))
        return True

    def _a_pjsipshowaors(self, conn: _Conn, act: Action, aid: str) -> bool:
        with self.lock:
            items = [self._aor_fields(aor, self.pjsip_endpoints.get(self._aor_endpoint(aor), {}))
                     for aor in self._aor_names()]
        if not items:
            conn.send(_error(aid, "No AORs found\n"))
            return True
        conn.send(_event_list(aid, "A listing of AORs follows, presented as AorList events",
                              "AorList", items, "AorListComplete"))
        return True

    def _a_pjsipshowregistrationsinbound(self, conn: _Conn, act: Action, aid: str) -> bool:
        with self.lock:
            items = []
            for aor in self._aor_names():
                ep = self.pjsip_endpoints.get(self._aor_endpoint(aor), {})
                contacts = self._contacts_for(aor)
                items.append(self._aor_fields(aor, ep, contact_key="Contact") + [
                    ("Contacts", "".join("%s/%s," % (aor, c["uri"]) for c in contacts))])
        conn.send(_event_list(aid, "Following are Events for each Inbound registration",
                              "InboundRegistrationDetail", items, "InboundRegistrationDetailComplete"))
        return True

    def _a_pjsipshowreginboundcontactstatuses(self, conn: _Conn, act: Action, aid: str) -> bool:
        with self.lock:
            items = []
            for aor in self._aor_names():
                endpoint = self._aor_endpoint(aor)
                for c in self._contacts_for(aor):
                    items.append(self._contact_status_detail(aor, endpoint, c))
        conn.send(_event_list(aid, "Following are ContactStatusEvents for each Inbound registration",
                              "ContactStatusDetail", items, "ContactStatusDetailComplete"))
        return True

    # ------------------------------------------------------------- chan_sip

    def _a_sippeers(self, conn: _Conn, act: Action, aid: str) -> bool:
        with self.lock:
            items = []
            for name, p in self.sip_peers.items():
                ip = str(p.get("ip", "-none-"))
                registered = ip not in ("-none-", "")
                items.append([
                    ("Channeltype", "SIP"), ("ObjectName", name), ("ChanObjectType", "peer"),
                    ("IPaddress", ip if registered else "-none-"),
                    ("IPport", str(p.get("port", 0) if registered else 0)),
                    ("Dynamic", str(p.get("dynamic", "yes"))),
                    ("AutoForcerport", "yes"), ("Forcerport", "no"), ("AutoComedia", "no"),
                    ("Comedia", "no"), ("VideoSupport", "no"), ("TextSupport", "no"), ("ACL", "no"),
                    ("Status", str(p.get("status", "OK (1 ms)" if registered else "UNKNOWN"))),
                    ("RealtimeDevice", "no"), ("Description", str(p.get("description", ""))),
                    ("Accountcode", str(p.get("accountcode", ""))),
                ])
        conn.send(_event_list(aid, "Peer status list will follow", "PeerEntry", items, "PeerlistComplete"))
        return True

    def _a_sipshowpeer(self, conn: _Conn, act: Action, aid: str) -> bool:
        name = act.get("Peer", "") or ""
        if not name:
            conn.send(_error(aid, "Peer: <name> missing."))
            return True
        with self.lock:
            p = self.sip_peers.get(name)
            p = dict(p) if p is not None else None
        if p is None:
            # chan_sip appends one more CRLF after the error (sip-show-peer-nonexistent.txt).
            conn.send(_error(aid, "Peer %s not found." % name) + b"\r\n")
            return True
        ip = str(p.get("ip", "-none-"))
        registered = ip not in ("-none-", "")
        values = {
            "name": name, "context": p.get("context", "from-internal"),
            "voicemailbox": p.get("voicemailbox", ""),
            "dynamic_yn": "Y" if str(p.get("dynamic", "yes")).lower() in _TRUE else "N",
            "callerid": p.get("callerid", ""),
            "regexpire": p.get("regexpire", 3600 if registered else -1),
            "address_ip": ip if registered else "(null)",
            "address_port": p.get("port", 0) if registered else 0,
            "default_username": p.get("default_username", name if registered else ""),
            "status": p.get("status", "OK (1 ms)" if registered else "UNKNOWN"),
            "useragent": p.get("useragent", ""), "reg_contact": p.get("reg_contact", ""),
        }
        conn.send(_response("Success", aid, _fill(_SIP_SHOW_PEER, values, p.get("detail"))))
        return True

    # ---------------------------------------------------------------- reload

    def _a_reload(self, conn: _Conn, act: Action, aid: str) -> bool:
        module = (act.get("Module", "") or "").strip()
        if module:
            base = module[:-3] if module.endswith(".so") else module
            with self.lock:
                known = base in self.modules or module in self.modules
            if not known:
                conn.send(_error(aid, "No such module"))
                return True
        conn.send(_ack(aid, "Module Reloaded"))
        self._do_reload(module or None)
        return True

    def _do_reload(self, module: Optional[str]) -> None:
        """Bookkeeping plus the refresh events a full reload sends
        (reload-action.txt): MessageWaiting per mailbox, ExtensionStatus
        per hint, then Reload."""
        with self.lock:
            self.reloaded_at = time.time()
            self.reload_count += 1
            mwi = [] if module else [self._mwi_fields(box) for box in self.voicemail_boxes]
            hints = [] if module else [self._extension_status_fields(e, h) for e, h in self.hints.items()]
        for fields in mwi:
            self.emit_event("MessageWaiting", fields)
        for fields in hints:
            self.emit_event("ExtensionStatus", fields)
        self.emit_event("Reload", [("Module", module or "All"), ("Status", "0")], "system,all")

    # ------------------------------------------------------------- voicemail

    @staticmethod
    def _box_key(mailbox: str, context: Optional[str] = None) -> str:
        if context:
            return "%s@%s" % (mailbox, context)
        return mailbox if "@" in mailbox else "%s@default" % mailbox

    def _box_counts(self, key: str) -> Tuple[int, int, int]:
        """(new, old, urgent); messages, when listed, are the truth."""
        box = self.voicemail_boxes.get(key)
        if box is None:
            return 0, 0, 0
        msgs = box.get("messages")
        if msgs is not None:
            count = lambda f: sum(1 for m in msgs if m.get("folder", "INBOX") == f)  # noqa: E731
            return count("INBOX"), count("Old"), count("Urgent")
        return int(box.get("new", 0)), int(box.get("old", 0)), int(box.get("urgent", 0))

    def _mwi_fields(self, key: str) -> Headers:
        new, old, urgent = self._box_counts(key)
        return [("Mailbox", key), ("Waiting", "1" if new + urgent else "0"),
                ("New", str(new)), ("Old", str(old))]

    def _voicemail_user_fields(self, key: str) -> Headers:
        box = self.voicemail_boxes.get(key) or {}
        mailbox, _, context = key.partition("@")
        new, old, _ = self._box_counts(key)
        values = {"context": context, "mailbox": mailbox, "new": new, "old": old}
        for k in ("fullname", "email", "pager", "language", "timezone"):
            values[k] = box.get(k, "")
        return _fill(_VOICEMAIL_USER, values, box.get("detail"))

    def _a_voicemailrefresh(self, conn: _Conn, act: Action, aid: str) -> bool:
        # Asterisk sends MessageWaiting only when counts changed; here they never do.
        conn.send(_ack(aid, "Refresh sent"))
        return True

    def _a_voicemailuserslist(self, conn: _Conn, act: Action, aid: str) -> bool:
        with self.lock:
            items = [self._voicemail_user_fields(k) for k in self.voicemail_boxes]
        conn.send(_event_list(aid, "Voicemail user list will follow", "VoicemailUserEntry", items,
                              "VoicemailUserEntryComplete"))
        return True

    def _need(self, conn: _Conn, act: Action, aid: str, *names: str) -> Optional[List[str]]:
        values = []
        for n in names:
            v = act.get(n, "") or ""
            if not v:
                conn.send(_error(aid, "%s not specified, required" % n))
                return None
            values.append(v)
        return values

    def _a_voicemailuserstatus(self, conn: _Conn, act: Action, aid: str) -> bool:
        got = self._need(conn, act, aid, "Context", "Mailbox")
        if got is None:
            return True
        key = self._box_key(got[1], got[0])
        with self.lock:
            fields = self._voicemail_user_fields(key) if key in self.voicemail_boxes else None
        if fields is None:
            conn.send(_error(aid, "There is no voicemail user matching the given user."))
            return True
        conn.send(_event_list(aid, "Voicemail user detail will follow", "VoicemailUserDetail", [fields],
                              "VoicemailUserDetailComplete"))
        return True

    def _a_voicemailboxsummary(self, conn: _Conn, act: Action, aid: str) -> bool:
        got = self._need(conn, act, aid, "Context", "Mailbox")
        if got is None:
            return True
        key = self._box_key(got[1], got[0])
        with self.lock:
            box = self.voicemail_boxes.get(key)
            msgs = list((box or {}).get("messages") or [])
        if box is None:
            conn.send(_error(aid, "There is no voicemail user matching the given user."))
            return True
        order = {f: i for i, f in enumerate(VOICEMAIL_FOLDERS)}
        msgs = sorted(msgs, key=lambda m: order.get(m.get("folder", "INBOX"), len(order)))  # stable
        items = [[("Folder", m.get("folder", "INBOX")), ("CallerID", m.get("callerid", "")),
                  ("Date", m.get("date", "")), ("Duration", str(m.get("duration", 0))),
                  ("Flag", m.get("flag", "")), ("ID", m.get("id", ""))] for m in msgs]
        conn.send(_event_list(aid, "Voicemail box detail will follow", "VoicemailBoxDetail", items,
                              "VoicemailBoxDetailComplete"))
        return True

    def _find_message(self, key: str, folder: str, msg_id: str) -> Optional[Dict[str, Any]]:
        for m in (self.voicemail_boxes.get(key) or {}).get("messages") or []:
            if m.get("id") == msg_id and m.get("folder", "INBOX") == folder:
                return m
        return None

    def _a_voicemailmove(self, conn: _Conn, act: Action, aid: str) -> bool:
        got = self._need(conn, act, aid, "Mailbox", "Context", "Folder", "ID", "ToFolder")
        if got is None:
            return True
        mailbox, context, folder, msg_id, to_folder = got
        key = self._box_key(mailbox, context)
        with self.lock:
            m = self._find_message(key, folder, msg_id)
            if m is not None:
                msgs = self.voicemail_boxes[key]["messages"]
                msgs.remove(m)
                moved = dict(m, folder=to_folder)
                msgs.append(moved)
                mwi = self._mwi_fields(key)
        # Success even on failure; the verdict is in the text (with a stray LF).
        if m is None:
            conn.send(_ack(aid, "Message move failed\n"))
            return True
        conn.send(_ack(aid, "Message move successful\n"))
        self.emit_event("MessageWaiting", mwi)
        return True

    def _a_voicemailremove(self, conn: _Conn, act: Action, aid: str) -> bool:
        got = self._need(conn, act, aid, "Mailbox", "Context", "Folder", "ID")
        if got is None:
            return True
        mailbox, context, folder, msg_id = got
        key = self._box_key(mailbox, context)
        with self.lock:
            m = self._find_message(key, folder, msg_id)
            if m is not None:
                self.voicemail_boxes[key]["messages"].remove(m)
                mwi = self._mwi_fields(key)
        if m is None:
            conn.send(_ack(aid, "Message remove failed\n"))
            return True
        conn.send(_ack(aid, "Message remove successful\n"))
        self.emit_event("MessageWaiting", mwi)
        return True

    def _a_voicemailforward(self, conn: _Conn, act: Action, aid: str) -> bool:
        got = self._need(conn, act, aid, "Mailbox", "Context", "Folder", "ID",
                         "ToMailbox", "ToContext", "ToFolder")
        if got is None:
            return True
        mailbox, context, folder, msg_id, to_mailbox, to_context, to_folder = got
        key, to_key = self._box_key(mailbox, context), self._box_key(to_mailbox, to_context)
        with self.lock:
            m = self._find_message(key, folder, msg_id)
            target = self.voicemail_boxes.get(to_key)
            ok = m is not None and target is not None
            if ok:
                target.setdefault("messages", []).append(dict(m, folder=to_folder))
                mwi = self._mwi_fields(to_key)
        if not ok:
            conn.send(_ack(aid, "Message forward failed\n"))
            return True
        conn.send(_ack(aid, "Message forward successful\n"))
        self.emit_event("MessageWaiting", mwi)
        return True

    def _a_mailboxcount(self, conn: _Conn, act: Action, aid: str) -> bool:
        mailbox = act.get("Mailbox", "") or ""
        if not mailbox:
            conn.send(_error(aid, "Mailbox not specified"))
            return True
        with self.lock:
            new, old, urgent = self._box_counts(self._box_key(mailbox))
        conn.send(_response("Success", aid, [
            ("Message", "Mailbox Message Count"), ("Mailbox", mailbox),
            ("UrgMessages", str(urgent)), ("NewMessages", str(new)), ("OldMessages", str(old)),
        ]))
        return True

    def _a_mailboxstatus(self, conn: _Conn, act: Action, aid: str) -> bool:
        mailbox = act.get("Mailbox", "") or ""
        if not mailbox:
            conn.send(_error(aid, "Mailbox not specified"))
            return True
        with self.lock:
            new, _, urgent = self._box_counts(self._box_key(mailbox))
        conn.send(_response("Success", aid, [
            ("Message", "Mailbox Status"), ("Mailbox", mailbox),
            ("Waiting", "1" if new + urgent else "0"),
        ]))
        return True

    # ------------------------------------------------------------- Originate

    def _exten_exists(self, exten: str) -> bool:
        with self.lock:
            patterns = list(self.dialplan_patterns)
        return any(match_pattern(p, exten) for p in patterns)

    def _a_originate(self, conn: _Conn, act: Action, aid: str) -> bool:
        channel = (act.get("Channel", "") or "").strip()
        if not channel:
            conn.send(_error(aid, "Channel not specified"))
            return True
        priority = (act.get("Priority", "") or "").strip()
        if priority and not priority.isdigit():
            conn.send(_error(aid, "Invalid priority"))
            return True
        timeout = (act.get("Timeout", "") or "").strip()
        if timeout and not timeout.lstrip("-").isdigit():
            conn.send(_error(aid, "Invalid timeout"))
            return True
        if "/" not in channel:
            conn.send(_error(aid, "Invalid channel"))
            return True
        context = act.get("Context", "") or ""
        exten = act.get("Exten", "") or ""
        application = act.get("Application", "") or ""
        # Only from-internal is modelled; other contexts are taken on trust.
        if not application and context == "from-internal" and not self._exten_exists(exten):
            conn.send(_error(aid, "Extension does not exist."))
            return True
        variables: List[Tuple[str, str]] = []
        for v in act.getall("Variable"):
            # Asterisk also splits on commas, the way it splits application
            # arguments (a comma inside (...) or "..." does not split).
            for item in _separate_args(v.lstrip(" \t")):
                name, sep, value = item.partition("=")
                if sep and name:
                    variables.append((name, value))
        with self.lock:
            outcome = self.originate_outcomes.get(channel, "unregistered")
        call = {
            "aid": aid, "channel": channel, "context": context, "exten": exten,
            "application": application, "data": act.get("Data", "") or "",
            "callerid": act.get("CallerID"), "variables": variables, "outcome": outcome,
        }
        if _ast_true(act.get("Async")):
            conn.send(_ack(aid, "Originate successfully queued"))
            self._spawn(self._run_call, call, True)
        else:
            # A synchronous Originate blocks this session until the outcome.
            answered = self._run_call(call, False)
            conn.send(_ack(aid, "Originate successfully queued") if answered
                      else _error(aid, "Originate failed"))
        return True

    def _spawn(self, fn: Callable[..., Any], *args: Any) -> None:
        t = threading.Thread(target=self._guard, args=(fn,) + args, name="amipeer-call", daemon=True)
        with self.lock:
            self._threads.append(t)
        t.start()

    def _guard(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            traceback.print_exc()
        finally:
            with self.lock:
                me = threading.current_thread()
                if me in self._threads:
                    self._threads.remove(me)

    def _chan_fields(self, ch: _Channel, prefix: str = "", with_vars: bool = True) -> Headers:
        fields = [
            ("Channel", ch.name), ("ChannelState", str(ch.state)),
            ("ChannelStateDesc", _Channel.STATE_DESC.get(ch.state, "Unknown")),
            ("CallerIDNum", ch.cid_num or "<unknown>"), ("CallerIDName", ch.cid_name or "<unknown>"),
            ("ConnectedLineNum", ch.conn_num), ("ConnectedLineName", ch.conn_name),
            ("Language", "en"), ("AccountCode", ""), ("Context", ch.context),
            ("Exten", ch.exten), ("Priority", str(ch.priority)),
            ("Uniqueid", ch.uniqueid), ("Linkedid", ch.linkedid),
        ]
        if with_vars:
            fields += [("ChanVariable", "%s=%s" % (v, ch.vars.get(v, ""))) for v in self.channelvars]
        return [(prefix + k, v) for k, v in fields]

    def _run_call(self, call: Dict[str, Any], is_async: bool) -> bool:
        """Play one originated call; returns True when it was answered.

        The sequences follow originate-async-success/-busy/-no-answer.txt
        (without the dialplan applications the capture box ran after the
        answer) and originate-async-failure-*.txt for "unregistered"."""
        if self._stopping.wait(max(0.0, self.originate_delay)):
            return False
        outcome = call["outcome"]
        aid = call["aid"]
        requested = call["channel"]
        cid_name, cid_num = _split_callerid(call["callerid"]) if call["callerid"] else ("", "")

        def originate_response(success: bool, reason: int, ch: Optional[_Channel]) -> None:
            if not is_async:
                return
            fields = _aid(aid) + [
                ("Response", "Success" if success else "Failure"),
                ("Channel", ch.name if ch is not None and success else requested),
                ("Context", call["context"]), ("Exten", call["exten"]), ("Reason", str(reason)),
                ("Uniqueid", ch.uniqueid if ch is not None and success else "<unknown>"),
                ("CallerIDNum", cid_num or "<unknown>"), ("CallerIDName", cid_name or "<unknown>"),
            ]
            if success and ch is not None:
                fields += [("ChanVariable(%s)" % ch.name, "%s=%s" % (v, ch.vars.get(v, "")))
                           for v in self.channelvars]
            self.emit_event("OriginateResponse", fields)

        if outcome not in ("answer", "busy", "noanswer"):
            originate_response(False, 0, None)      # no channel was ever created
            return False

        tech, _, resource = requested.partition("/")
        endpoint = resource.split("@")[0] if tech.upper() == "LOCAL" else resource
        device = "%s/%s" % (tech, endpoint)
        with self.lock:
            ep = self.pjsip_endpoints.get(endpoint) if tech.upper() == "PJSIP" else None
            sip = self.sip_peers.get(endpoint) if tech.upper() == "SIP" else None
            own_cid = _split_callerid(str((ep or sip or {}).get("callerid", "")))
            context = str((ep or sip or {}).get("context", call["context"] or "default"))
            self._chan_seq += 1
            self._uid_seq += 1
            suffix = ";1" if tech.upper() == "LOCAL" else ""
            ch = _Channel("%s-%08x%s" % (requested, self._chan_seq - 1, suffix),
                          "%d.%d" % (int(time.time()), self._uid_seq - 1),
                          own_cid, context, device, endpoint)
            self._channels[ch.name] = ch
            self.processed_calls += 1

        def ev(name: str, extra: Headers = (), privilege: str = "call,all") -> None:
            self.emit_event(name, self._chan_fields(ch) + list(extra), privilege)

        def dial_ev(name: str, extra: Headers) -> None:
            self.emit_event(name, self._chan_fields(ch, prefix="Dest") + list(extra))

        def device_change(state: Optional[str], during_call: bool) -> None:
            """Set (or restore) the device state and report it with its hints."""
            with self.lock:
                if state is None:
                    if saved is None:
                        self.device_states.pop(device, None)
                    else:
                        self.device_states[device] = saved
                else:
                    self.device_states[device] = state
                current = self._device_state(device)
                hints = [self._extension_status_fields(e, h, {device: current} if during_call else None)
                         for e, h in self._hints_for_device(device)]
            order = [("DeviceStateChange", [("Device", device), ("State", current)])]
            order += [("ExtensionStatus", h) for h in hints]
            if outcome == "noanswer" and during_call:
                order.reverse()     # the no-answer capture has the hint first
            for name, fields in order:
                self.emit_event(name, fields)

        with self.lock:
            saved = self.device_states.get(device)
        try:
            ev("Newchannel")
            ev("Newexten", [("Extension", "s"), ("Application", "AppDial2"),
                            ("AppData", "(Outgoing Line)")], "dialplan,all")
            # Asterisk sets the Variable headers in reverse order.
            for name, value in reversed(call["variables"]):
                if name.endswith(")"):
                    # A function write such as PJSIP_HEADER(add,...): Asterisk calls
                    # the function and stores nothing, so there is no VarSet.
                    ch.functions.append((name, value))
                    continue
                ch.vars[name] = value
                ev("VarSet", [("Variable", name), ("Value", value)], "dialplan,all")
            if call["callerid"]:
                ch.cid_name, ch.cid_num = cid_name, cid_num
                ev("NewCallerid", [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")])
                ch.conn_name, ch.conn_num = cid_name or "<unknown>", cid_num or "<unknown>"
                ev("NewConnectedLine")
            dial_ev("DialBegin", [("DialString", endpoint)])

            if outcome == "busy":
                ev("HangupRequest", [("Cause", "17"), ("TechCause", "486")])
                dial_ev("DialEnd", [("DialStatus", "BUSY")])
                originate_response(False, 0, ch)
                ev("Hangup", [("Cause", "17"), ("Cause-txt", "User busy"), ("TechCause", "486")])
                return False

            ch.state = 5
            ev("Newstate")
            if outcome == "noanswer":
                device_change("BUSY", True)
                dial_ev("DialState", [("DialStatus", "RINGING")])
                originate_response(False, 3, ch)
                ev("Hangup", [("Cause", "19"), ("Cause-txt", "User alerting, no answer"),
                              ("TechCause", "480")])
                device_change(None, False)
                return False

            # answer
            dial_ev("DialState", [("DialStatus", "RINGING")])
            device_change("BUSY", True)
            ch.state = 6
            ev("Newstate")
            dial_ev("DialEnd", [("DialStatus", "ANSWER")])
            if call["application"]:
                ch.application, ch.appdata = call["application"], call["data"]
            else:
                ch.context, ch.exten, ch.priority = call["context"] or ch.context, call["exten"] or "s", 1
                ch.application, ch.appdata = "", ""
            originate_response(True, 4, ch)
            if is_async:
                self._hangup_later(ch, device_change)
            else:
                self._spawn(self._hangup_later, ch, device_change)
            return True
        finally:
            if outcome != "answer":
                with self.lock:
                    self._channels.pop(ch.name, None)

    def _hangup_later(self, ch: _Channel, device_change: Callable[[Optional[str], bool], None]) -> None:
        try:
            if self._stopping.wait(max(0.0, self.call_duration)):
                return
            self.emit_event("SoftHangupRequest", self._chan_fields(ch) + [("Cause", "16")])
            self.emit_event("Hangup", self._chan_fields(ch) + [("Cause", "16"),
                                                               ("Cause-txt", "Normal Clearing")])
            device_change(None, False)
        finally:
            with self.lock:
                self._channels.pop(ch.name, None)


# --------------------------------------------------------------------------
# The PBX the reference captures were taken on
# --------------------------------------------------------------------------

def transcript_seed() -> Dict[str, Any]:
    """State matching AMI.md "What produced them" (a fresh copy each call)."""
    astdb = {}
    for key, val in (("cidname", "Ext 101"), ("cidnum", "101"), ("device", "101"),
                     ("voicemail", "default"), ("outboundcid", ""), ("ringtimer", "0")):
        astdb["/AMPUSER/101/%s" % key] = val
    for key, val in (("cidname", "Ext 102"), ("cidnum", "102"), ("device", "102"),
                     ("voicemail", "default")):
        astdb["/AMPUSER/102/%s" % key] = val
    # Made-up FreePBX-like values (AMI.md: not recorded as their own file).
    astdb.update({
        "/DEVICE/101/user": "101", "/DEVICE/101/type": "fixed", "/DEVICE/101/dial": "PJSIP/101",
        "/DEVICE/102/user": "102", "/DEVICE/102/dial": "PJSIP/102",
    })

    def endpoint(n: str) -> Dict[str, Any]:
        return {"callerid": '"Ext %s" <%s>' % (n, n), "auth": "%s-auth" % n, "aors": n,
                "context": "from-internal", "mailboxes": "%s@default" % n,
                "password": "pw%s-secret" % n}

    def msg(folder: str, callerid: str, date: str, duration: int, ident: str) -> Dict[str, Any]:
        return {"folder": folder, "callerid": callerid, "date": date, "duration": duration,
                "flag": "", "id": ident}

    return {
        "astdb": astdb,
        "hints": {
            "101": {"context": "from-internal", "hint": "PJSIP/101"},
            "102": {"context": "from-internal", "hint": "PJSIP/102"},
            "103": {"context": "from-internal", "hint": "PJSIP/103&Custom:DND103,CustomPresence:103"},
            "201": {"context": "from-internal", "hint": "SIP/201"},
        },
        # Same order as devicestatelist.txt.
        "device_states": {
            "PJSIP/103": "UNAVAILABLE",
            "PJSIP/102": "UNAVAILABLE",
            "PJSIP/101": "NOT_INUSE",
            "Custom:DND103": "NOT_INUSE",
            "MWI:101@default": "INUSE",
            "MWI:102@default": "INUSE",
            "SIP/201": "NOT_INUSE",
        },
        "presence": {"CustomPresence:103": {"state": "away", "subtype": "lunch", "message": "Back at two"}},
        "pjsip_endpoints": {n: endpoint(n) for n in ("101", "102", "103")},
        "pjsip_contacts": {
            "101": [{
                "uri": "sip:101@127.0.0.1:5062", "via_addr": "127.0.0.1", "via_port": 5062,
                "user_agent": "SIPp/3.6.1 capture-phone-101", "status": "Reachable",
                "roundtrip_usec": 767, "expiration_time": 1795725357,
                "call_id": "1-23539@127.0.0.1", "qualify_frequency": 30,
            }],
        },
        "sip_peers": {
            "201": {"ip": "127.0.0.1", "port": 5072, "status": "OK (1 ms)",
                    "useragent": "SIPp/3.6.1 capture-phone-201", "reg_contact": "sip:201@127.0.0.1:5072",
                    "dynamic": "yes", "callerid": '"Ext 201" <201>', "regexpire": 3605},
            "202": {"ip": "-none-", "port": 0, "status": "UNKNOWN", "dynamic": "yes",
                    "callerid": '"Ext 202" <202>'},
        },
        "voicemail_boxes": {
            "101@default": {"fullname": "Test User 101", "timezone": "central", "messages": [
                msg("INBOX", '"Ext 102" <102>', "Tue Nov 25 07:46:40 PM UTC 2025", 3, "1764100000-00000000"),
                msg("INBOX", '"Outside Caller" <5551230000>', "Tue Nov 25 07:56:40 PM UTC 2025", 4,
                    "1764100600-00000001"),
                msg("Old", '"Ext 103" <103>', "Mon Nov 24 07:46:40 PM UTC 2025", 2, "1764013600-00000002"),
            ]},
            "102@default": {"fullname": "Test User 102", "messages": [
                msg("INBOX", '"Ext 101" <101>', "Tue Nov 25 08:06:40 PM UTC 2025", 2, "1764101200-00000003"),
            ]},
        },
        "originate_outcomes": {"PJSIP/101": "answer", "SIP/201": "answer"},
    }


# --------------------------------------------------------------------------
# Standalone use (demo): python -m tests.support.amipeer
# --------------------------------------------------------------------------

def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description="Fake Asterisk manager (AMI 9.0.0) for demos and tests.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5038)
    ap.add_argument("--user", default="admin")
    ap.add_argument("--secret", default="amp111")
    ap.add_argument("--seed-json", help="JSON file with state dicts (astdb, hints, pjsip_endpoints, ...)")
    ap.add_argument("--seed-transcripts", action="store_true",
                    help="start with the PBX the reference captures were taken on")
    args = ap.parse_args(argv)

    peer = AmiPeer(users={args.user: args.secret}, host=args.host, port=args.port)
    if args.seed_transcripts:
        peer.seed_from_transcripts()
    if args.seed_json:
        with open(args.seed_json, encoding="utf-8") as fh:
            peer.load_state(json.load(fh))
    peer.start()
    print("AMI peer listening on %s:%d" % (peer.host, peer.port), flush=True)

    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    while not done.wait(0.5):
        pass
    peer.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
