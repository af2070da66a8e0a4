"""What FreePBX writes for an extension, as data: the sip rows of a device, the
findmefollow row, and the AstDB keys of follow-me and of a deletion
(tests/data/freepbx/WRITES.md). Pure functions of the number and the settings."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

VM_CONTEXT = "default"

# API parameter -> AstDB key under AMPUSER/<ext>/ (WRITES §1.5)
RECORDING_KEYS = (
    ("recExternalIn", "recording/in/external"),
    ("recExternalOut", "recording/out/external"),
    ("recInternalIn", "recording/in/internal"),
    ("recInternalOut", "recording/out/internal"),
)
Op = Tuple[str, str, str, Optional[str]]  # (put|del|deltree, family, key, value)  (an AstDB write)


def _truthy_setting(value: str) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _major(version: str) -> int:
    try:
        return int(version.split(".", 1)[0])
    except ValueError:
        return 0


def resolve_tech(exttype: str, settings: Dict[str, str]) -> str:
    """FreePBX device tech: ``pjsip``, ``sip`` (chan_sip) or ``virtual``."""
    if exttype == "virtual":
        return "virtual"
    if exttype == "pjsip":
        return "pjsip"
    if exttype == "chansip":
        return "sip"
    # "sip": the box's SIP driver - PJSIP unless it is set to chan_sip only.
    return "sip" if settings.get("ASTSIPDRIVER", "").strip() == "chan_sip" else "pjsip"


# Codec names FreePBX's Codecs class knows; Core::filterValidCodecs keeps only these for a PJSIP device.
KNOWN_CODECS = frozenset((
    "g722 ulaw alaw gsm g729 g723 g726 adpcm slin lpc10 speex speex16 ilbc g726aal2 slin16 siren7 siren14 "
    "testlaw g719 speex32 slin12 slin24 slin32 slin44 slin48 slin96 slin192 opus h261 h263 h263p h264 mpeg4 "
    "vp8 red t140 jpeg png all").split())
_CODEC_NAME_RE = re.compile(r"([a-z0-9]+):?", re.IGNORECASE)


def valid_codecs(value: str) -> str:
    """Core::filterValidCodecs: '&' joins become ',', names FreePBX does not know are dropped."""
    kept = []
    for codec in value.replace("&", ",").split(","):
        m = _CODEC_NAME_RE.search(codec)
        if m and m.group(1) in KNOWN_CODECS:
            kept.append(codec)
    return ",".join(kept)


def pjsip_rows(n: str, secret: str, callerid: str, s: Dict[str, str], core_major: int,
               max_contacts: int = 1) -> List[Tuple[str, str, str, int]]:
    """The 54 sip rows of a chan_pjsip device (WRITES §1.4), (id, keyword, data, flags)."""
    dtmf = s.get("DEVICE_SIP_DTMF", "rfc2833")
    remove_existing = "yes" if max_contacts == 1 else "no"  # addDevice forces yes for one contact
    rows = [
        (2, "sipdriver", "chan_pjsip"), (52, "secret", secret), (4, "md5_cred", ""),
        (5, "dtmfmode", "rfc4733" if dtmf == "rfc2833" else dtmf),
        (6, "trustrpid", s.get("DEVICE_SIP_TRUSTRPID", "yes")), (7, "sendrpid", s.get("DEVICE_SIP_SENDRPID", "pai")),
        (8, "qualifyfreq", s.get("DEVICE_SIP_QUALIFYFREQ", "60")), (9, "transport", ""), (10, "avpf", "no"),
        (11, "timers", "yes"), (12, "icesupport", "no"),
        (13, "send_connected_line", "yes" if 0 < core_major < 17 else "no"), (14, "user_eq_phone", "no"),
        (15, "namedcallgroup", s.get("DEVICE_CALLGROUP", "")),
        (16, "namedpickupgroup", s.get("DEVICE_PICKUPGROUP", "")),
        (17, "disallow", valid_codecs(s.get("DEVICE_DISALLOW", ""))),
        (18, "allow", valid_codecs(s.get("DEVICE_ALLOW", ""))),
        (19, "accountcode", ""), (54, "mailbox", "%s@device" % n), (21, "max_contacts", str(max_contacts)),
        (22, "remove_existing", remove_existing), (23, "media_use_received_transport", "no"),
        (24, "media_address", ""), (25, "rtp_symmetric", "yes"), (26, "force_rport", "yes"),
        (27, "rewrite_contact", "yes"), (28, "mwi_subscription", "auto"), (29, "aggregate_mwi", "no"),
        (30, "media_encryption", "no"), (31, "media_encryption_optimistic", "no"),
        (32, "device_state_busy_at", "0"), (33, "rtcp_mux", "no"), (34, "bundle", "no"),
        (35, "minimum_expiration", "60"), (36, "maximum_expiration", "7200"), (37, "match", ""),
        (38, "rtp_timeout", "0"), (39, "rtp_timeout_hold", "0"), (40, "timers_min_se", "90"),
        (41, "direct_media", "yes"), (42, "force_callerid", "no"), (43, "max_audio_streams", "1"),
        (44, "max_video_streams", "1"), (45, "webrtc", "no"), (46, "defaultuser", ""),
        (47, "message_context", ""), (48, "refer_blind_progress", "yes"), (49, "vmexten", ""),
        (50, "outbound_auth", "no"), (51, "dial", "PJSIP/" + n), (53, "context", "from-internal"),
        (55, "account", n), (56, "callerid", callerid), (58, "outbound_proxy", ""),
    ]
    return [(n, kw, data, flag) for flag, kw, data in rows]


def chansip_rows(n: str, secret: str, callerid: str, s: Dict[str, str]) -> List[Tuple[str, str, str, int]]:
    """The 36 sip rows of a chan_sip device (WRITES §1.4): flags 2-30, then 31-36 and 38."""
    first = [
        ("sipdriver", "chan_sip"), ("dtmfmode", s.get("DEVICE_SIP_DTMF", "rfc2833")),
        ("canreinvite", s.get("DEVICE_SIP_CANREINVITE", "no")), ("host", "dynamic"),
        ("trustrpid", s.get("DEVICE_SIP_TRUSTRPID", "yes")), ("sendrpid", s.get("DEVICE_SIP_SENDRPID", "pai")),
        ("type", "friend"), ("nat", s.get("DEVICE_SIP_NAT", "yes")), ("port", "5060"),
        ("qualify", s.get("DEVICE_QUALIFY", "yes")), ("qualifyfreq", s.get("DEVICE_SIP_QUALIFYFREQ", "60")),
        ("transport", "udp,tcp,tls"), ("avpf", "no"), ("force_avp", "no"), ("sessiontimers", "accept"),
        ("videosupport", "inherit"), ("icesupport", "no"), ("encryption", s.get("DEVICE_SIP_ENCRYPTION", "no")),
        ("namedcallgroup", s.get("DEVICE_CALLGROUP", "")), ("namedpickupgroup", s.get("DEVICE_PICKUPGROUP", "")),
        ("disallow", s.get("DEVICE_DISALLOW", "")), ("allow", s.get("DEVICE_ALLOW", "")), ("accountcode", ""),
        ("vmexten", ""), ("deny", "0.0.0.0/0.0.0.0"), ("permit", "0.0.0.0/0.0.0.0"), ("defaultuser", ""),
        ("rtcp_mux", "no"), ("webrtc", ""),
    ]
    rows = [(n, kw, data, flag) for flag, (kw, data) in enumerate(first, start=2)]
    rows += [(n, "dial", "SIP/" + n, 31), (n, "secret", secret, 32), (n, "context", "from-internal", 33),
             (n, "mailbox", "%s@device" % n, 34), (n, "account", n, 35), (n, "callerid", callerid, 36),
             (n, "outbound_proxy", "", 38)]
    return rows


def followme_row(n: str, settings: Dict[str, str], grptime: Optional[int] = None) -> Dict[str, Any]:
    """The findmefollow row Findmefollow::add writes for a new group of extension n."""
    if grptime is None:
        grptime = int(settings.get("FOLLOWME_TIME") or 20)
    return {
        "grpnum": n, "strategy": settings.get("FOLLOWME_RG_STRATEGY") or "ringallv2-prim", "grptime": grptime,
        "grppre": "", "grplist": n, "annmsg_id": None, "postdest": "ext-local,%s,dest" % n, "dring": "",
        "needsconf": "", "remotealert_id": None, "toolate_id": None, "ringing": "Ring",
        "pre_ring": int(settings.get("FOLLOWME_PRERING") or 7), "calendar_enable": 0, "calendar_id": "",
        "calendar_group_id": "", "calendar_match": "yes", "rvolume": "",
    }


def followme_ops(n: str, f: Dict[str, Any], settings: Dict[str, str], devices: List[str],
                 enabled: bool = True) -> List[Op]:
    """AstDB keys of a new follow-me group (Findmefollow::add, plus the ones every reload pushes);
    a disabled one (FOLLOWME_AUTO_CREATE without follow-me asked for) rings the extension first."""
    fm = n + "/followme/"
    ops: List[Op] = [("put", "AMPUSER", fm + k, "" if v is None else str(v)) for k, v in (
        ("prering", f["pre_ring"]), ("grptime", f["grptime"]), ("grplist", f["grplist"]), ("grppre", f["grppre"]),
        ("rvolume", f["rvolume"]), ("grpconf", "DISABLED"), ("ddial", "DIRECT" if enabled else "EXTENSION"), ("changecid", "default"),
        ("fixedcid", ""), ("strategy", f["strategy"]), ("dring", f["dring"]), ("annmsg", ""),
        ("remotealertmsg", ""), ("toolatemsg", ""), ("postdest", f["postdest"]), ("ringing", f["ringing"]))]
    if _truthy_setting(settings.get("USEDEVSTATE", "1")):
        # DEVICE_STATE(Custom:FOLLOWME<dev>)=BUSY for each device of the user; Asterisk keeps it here.
        state = "BUSY" if enabled else "NOT_INUSE"
        ops += [("put", "CustomDevstate", "FOLLOWME" + dev, state) for dev in devices]
    return ops


def delete_roots(n: str) -> List[Tuple[str, str]]:
    """The AstDB trees an extension may own (read before a delete or PUT, for the exact undo)."""
    return [("AMPUSER", n), ("DEVICE", n), ("ZULU", n), ("CW", n), ("CF", n), ("CFB", n), ("CFU", n), ("DND", n),
            ("CustomPresence", n), ("CustomDevstate", "FOLLOWME" + n), ("CustomDevstate", "DND" + n),
            ("CustomDevstate", "DEVDND" + n)]


def delete_ops(n: str) -> List[Op]:
    """Core::delDevice + Core::delUser + findmefollow/voicemail hooks +
    core_users_cleanastdb (CW, CF, CFB, CFU); plus DND and its device states,
    so a later extension with this number does not start in DND."""
    ops: List[Op] = [("del", "DEVICE", n + "/" + k, None) for k in ("dial", "type", "user", "default_user",
                                                                     "emergency_cid")]
    ops += [("del", "CustomPresence", n, None), ("del", "AMPUSER", n + "/screen", None),
            ("deltree", "AMPUSER", n, None), ("deltree", "CustomDevstate", "FOLLOWME" + n, None),
            ("deltree", "DEVICE", n, None), ("deltree", "ZULU", n, None)]
    ops += [("del", fam, n, None) for fam in ("CW", "CF", "CFB", "CFU", "DND")]
    ops += [("del", "CustomDevstate", "DND" + n, None), ("del", "CustomDevstate", "DEVDND" + n, None)]
    return ops
