"""Call tracking: Newchannel/Newstate/DialBegin/Hangup/... of one call (its linkedid) become
``calls`` events (ringing, answered, ended) naming the extensions involved."""
from __future__ import annotations

import collections
import time
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Tuple

from ...adapters.ami import Message

from .model import INBOUND_CONTEXTS, as_int, known, device_extension

# -- calls ---------------------------------------------------------------------------
class _Call:
    __slots__ = ("linkedid", "started", "caller", "caller_name", "callee", "did", "direction", "answered",
                 "channels", "exts")

    def __init__(self, linkedid: str):
        self.linkedid = linkedid
        self.started = time.time()
        self.caller: Optional[str] = None
        self.caller_name: Optional[str] = None
        self.callee: Optional[str] = None
        self.did: Optional[str] = None
        self.direction: Optional[str] = None
        self.answered = False
        self.channels: set = set()
        self.exts: set = set()


class CallTracker:
    """Calls by Linkedid, from Newchannel / DialBegin / DialEnd / BridgeEnter / Hangup.

    start: the first channel of a linkedid (caller = its caller ID, or the extension of
    its device; callee = the number it asked for; inbound when it starts in a trunk
    context, with did = that number; internal when the callee is an extension with a
    hint, else outbound; an originate's first channel asks for nothing (Exten ``s``):
    callee and direction then come from the first Dial made by a channel); ring: each
    DialBegin to a device or trunk (``ringing`` = the device's extension, else the dial
    string; Local channels are plumbing and skipped); answer: the first DialEnd ANSWER
    of a Dial made by a channel, or a BridgeEnter that makes two (an originate's first
    leg answering is the calling phone picking up); end: the Hangup of the call's last
    channel (cause, duration, answered)."""

    MAX_CALLS = 20000

    def __init__(self, is_extension: Callable[[str], bool]):
        self._is_ext = is_extension
        self._calls: "collections.OrderedDict[str, _Call]" = collections.OrderedDict()
        self._chan: Dict[str, str] = {}  # uniqueid -> linkedid

    def clear(self) -> None:
        self._calls.clear()
        self._chan.clear()

    def _data(self, call: _Call, what: str, **extra: Any) -> Dict[str, Any]:
        d = {"call": what, "linkedid": call.linkedid, "caller": call.caller, "caller_name": call.caller_name,
             "callee": call.callee, "did": call.did, "direction": call.direction}
        d.update(extra)
        return d

    def feed(self, msg: Message) -> List[Tuple[Dict[str, Any], FrozenSet[str]]]:
        name = msg.get("Event")
        uid, link = msg.get("Uniqueid") or "", msg.get("Linkedid") or ""
        out: List[Tuple[Dict[str, Any], FrozenSet[str]]] = []
        if name == "Newchannel":
            if not uid or not link:
                return out
            dev = device_extension(msg.get("Channel"))
            call = self._calls.get(link)
            if call is None:
                if len(self._calls) >= self.MAX_CALLS:  # bounded: forget the oldest
                    old = self._calls.popitem(last=False)[1]
                    for u in old.channels:
                        self._chan.pop(u, None)
                call = self._calls[link] = _Call(link)
                ctx = msg.get("Context") or ""
                exten = known(msg.get("Exten"))
                call.caller = known(msg.get("CallerIDNum")) or dev
                call.caller_name = known(msg.get("CallerIDName"))
                if ctx.startswith(INBOUND_CONTEXTS):
                    call.direction, call.did = "inbound", exten
                elif exten:  # a phone's own call: it asked for this number
                    call.callee = exten
                    call.direction = "internal" if self._is_ext(exten) else "outbound"
                # else (an originate: Exten "s"): callee and direction come with the first real Dial
                if dev:
                    call.exts.add(dev)
                if call.caller and self._is_ext(call.caller) and call.direction != "inbound":
                    call.exts.add(call.caller)
                if call.callee and call.direction == "internal":
                    call.exts.add(call.callee)
                call.channels.add(uid)
                self._chan[uid] = link
                out.append((self._data(call, "start", uniqueid=uid, channel=msg.get("Channel")),
                            frozenset(call.exts)))
            else:
                call.channels.add(uid)
                self._chan[uid] = link
                if dev:
                    call.exts.add(dev)
            return out
        call = self._calls.get(link) if link else None
        if name == "DialBegin":
            dest_link = msg.get("DestLinkedid") or ""
            if call is None:
                call = self._calls.get(dest_link)
            if call is None:
                return out
            dest = msg.get("DestChannel") or ""
            if dest.startswith("Local/"):
                return out  # dialplan plumbing (an originate into a Local channel), not a phone or trunk
            dev = device_extension(dest)
            callee = dev or (known(msg.get("DialString")) or "").split("@")[0] or None
            if dev:
                call.exts.add(dev)
            # A Dial from a channel (not an originate's first leg, which has only Dest* headers)
            # names the party being called.
            if "Channel" in msg and call.callee is None and callee:
                call.callee = callee
                if call.direction is None:
                    call.direction = "internal" if dev or self._is_ext(callee) else "outbound"
            out.append((self._data(call, "ring", ringing=callee, dest_channel=dest,
                                   dest_uniqueid=msg.get("DestUniqueid")), frozenset(call.exts)))
        elif name in ("DialEnd", "BridgeEnter"):
            if call is None:
                call = self._calls.get(msg.get("DestLinkedid") or "")
            if call is None or call.answered:
                return out
            if name == "DialEnd":
                # The answer of a Dial from a channel; an originate's first leg answering is the
                # calling phone picking up, not the call being answered.
                if (msg.get("DialStatus") or "").strip() != "ANSWER" or "Channel" not in msg:
                    return out
                by = device_extension(msg.get("DestChannel")) or known(msg.get("DestCallerIDNum"))
            else:
                if as_int(msg.get("BridgeNumChannels")) < 2:  # talking needs two in the bridge
                    return out
                by = device_extension(msg.get("Channel")) or known(msg.get("CallerIDNum"))
            call.answered = True
            out.append((self._data(call, "answer", answered_by=by), frozenset(call.exts)))
        elif name == "Hangup":
            link = self._chan.pop(uid, None) or link
            call = self._calls.get(link)
            if call is None:
                return out
            call.channels.discard(uid)
            if not call.channels:
                del self._calls[link]
                out.append((self._data(call, "end", answered=call.answered, cause=as_int(msg.get("Cause")),
                                       cause_txt=msg.get("Cause-txt") or "",
                                       duration=round(time.time() - call.started, 3)),
                            frozenset(call.exts)))
        return out
