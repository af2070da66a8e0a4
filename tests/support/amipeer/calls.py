"""Originate and the simulated call it starts: the events of an answered, busy,
unanswered or unregistered call in the order of the captures, the device and
hint state changes on the way, and the hang-up after ``call_duration``.
"""
from __future__ import annotations

import threading
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple

from .conn import PeerConn
from .constants import ast_true
from .text import match_pattern, separate_args, split_callerid
from .wire import Action, Headers, ack, aid_header, error


class SimChannel:
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


class CallHandlers:
    """Originate and simulated calls of ``AmiPeer`` (a mixin)."""

    def _exten_exists(self, exten: str) -> bool:
        with self.lock:
            patterns = list(self.dialplan_patterns)
        return any(match_pattern(p, exten) for p in patterns)

    def _a_originate(self, conn: PeerConn, act: Action, aid: str) -> bool:
        channel = (act.get("Channel", "") or "").strip()
        if not channel:
            conn.send(error(aid, "Channel not specified"))
            return True
        priority = (act.get("Priority", "") or "").strip()
        if priority and not priority.isdigit():
            conn.send(error(aid, "Invalid priority"))
            return True
        timeout = (act.get("Timeout", "") or "").strip()
        if timeout and not timeout.lstrip("-").isdigit():
            conn.send(error(aid, "Invalid timeout"))
            return True
        if "/" not in channel:
            conn.send(error(aid, "Invalid channel"))
            return True
        context = act.get("Context", "") or ""
        exten = act.get("Exten", "") or ""
        application = act.get("Application", "") or ""
        # Only from-internal is modelled; other contexts are taken on trust.
        if not application and context == "from-internal" and not self._exten_exists(exten):
            conn.send(error(aid, "Extension does not exist."))
            return True
        variables: List[Tuple[str, str]] = []
        for v in act.getall("Variable"):
            # Asterisk also splits on commas, the way it splits application
            # arguments (a comma inside (...) or "..." does not split).
            for item in separate_args(v.lstrip(" \t")):
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
        if ast_true(act.get("Async")):
            conn.send(ack(aid, "Originate successfully queued"))
            self._spawn(self._run_call, call, True)
        else:
            # A synchronous Originate blocks this session until the outcome.
            answered = self._run_call(call, False)
            conn.send(ack(aid, "Originate successfully queued") if answered
                      else error(aid, "Originate failed"))
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

    def _chan_fields(self, ch: SimChannel, prefix: str = "", with_vars: bool = True) -> Headers:
        fields = [
            ("Channel", ch.name), ("ChannelState", str(ch.state)),
            ("ChannelStateDesc", SimChannel.STATE_DESC.get(ch.state, "Unknown")),
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
        cid_name, cid_num = split_callerid(call["callerid"]) if call["callerid"] else ("", "")

        def originate_response(success: bool, reason: int, ch: Optional[SimChannel]) -> None:
            if not is_async:
                return
            fields = aid_header(aid) + [
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
            own_cid = split_callerid(str((ep or sip or {}).get("callerid", "")))
            context = str((ep or sip or {}).get("context", call["context"] or "default"))
            self._chan_seq += 1
            self._uid_seq += 1
            suffix = ";1" if tech.upper() == "LOCAL" else ""
            ch = SimChannel("%s-%08x%s" % (requested, self._chan_seq - 1, suffix),
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

    def _hangup_later(self, ch: SimChannel, device_change: Callable[[Optional[str], bool], None]) -> None:
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
