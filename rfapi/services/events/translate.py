"""The other AMI events (extension state, presence, registrations, voicemail counts)
as small JSON events, one per change."""
from __future__ import annotations

from typing import Any, Dict, FrozenSet, Optional, Tuple

from ...adapters.ami import Message

from ..state import state_name
from .model import as_int

# -- translation of the other AMI events ----------------------------------------------
def dedupe_key(type_: str, data: Dict[str, Any]) -> Optional[Tuple[str, str]]:
    """The thing an event reports the current value of (state, presence, voicemail
    counts), or None for events that are changes in themselves (registrations, calls)."""
    if type_ == "state":
        return type_, "%s@%s" % (data["extension"], data["context"])
    if type_ == "presence":
        return type_, data["presentity"]
    if type_ == "voicemail":
        return type_, data["mailbox"]
    return None


def translate(msg: Message) -> Optional[Tuple[str, Dict[str, Any], FrozenSet[str]]]:
    """(type, data, extensions) of a non-call AMI event, or None when it is not one we publish."""
    name = msg.get("Event")
    if name == "ExtensionStatus":
        status = as_int(msg.get("Status"), -1)
        exten = msg.get("Exten") or ""
        return "state", {"extension": exten, "context": msg.get("Context") or "", "hint": msg.get("Hint") or "",
                         "state": state_name(status), "status": status,
                         "status_text": msg.get("StatusText") or ""}, frozenset([exten])
    if name == "PresenceStateChange":
        presentity = msg.get("Presentity") or ""
        ext = presentity.split(":", 1)[1] if ":" in presentity else presentity
        return "presence", {"extension": ext, "presentity": presentity,
                            "state": (msg.get("Status") or "").strip().lower(),
                            "subtype": msg.get("Subtype") or "", "message": msg.get("Message") or ""}, \
            frozenset([ext])
    if name == "ContactStatus":
        ep = msg.get("EndpointName") or ""
        status = msg.get("ContactStatus") or ""
        return "registrations", {"extension": ep, "tech": "pjsip", "aor": msg.get("AOR") or "",
                                 "uri": msg.get("URI") or "", "status": status,
                                 "registered": status != "Removed",  # Unreachable: registered, qualify failing
                                 "roundtrip_usec": as_int(msg.get("RoundtripUsec"))}, frozenset([ep])
    if name == "PeerStatus":
        if (msg.get("ChannelType") or "").upper() != "SIP":
            return None  # PJSIP's PeerStatus repeats what its ContactStatus events say
        peer = (msg.get("Peer") or "").split("/", 1)[-1]
        status = msg.get("PeerStatus") or ""
        return "registrations", {"extension": peer, "tech": "sip", "status": status,
                                 "registered": status not in ("Unregistered", "Rejected"),
                                 "address": msg.get("Address") or ""}, frozenset([peer])
    if name == "MessageWaiting":
        mailbox = msg.get("Mailbox") or ""
        box, _, ctx = mailbox.partition("@")
        return "voicemail", {"extension": box, "mailbox": mailbox, "context": ctx or "default",
                             "waiting": as_int(msg.get("Waiting")) > 0 or (msg.get("Waiting") or "").lower() == "yes",
                             "new": as_int(msg.get("New")), "old": as_int(msg.get("Old"))}, frozenset([box])
    return None
