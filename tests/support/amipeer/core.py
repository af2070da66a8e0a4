"""Session and core actions: Login (with Asterisk's refusal delay and hang-up),
Logoff, Ping, Events, CoreSettings, CoreStatus, CoreShowChannels and Reload
(with the refresh events a full reload sends).
"""
from __future__ import annotations

import time
from typing import Optional

from .conn import PeerConn, event_mask
from .constants import ALL_CLASSES, AMI_VERSION, ASTERISK_VERSION
from .text import ast_dates
from .wire import Action, ack, error, event_list, render_message, response


class CoreHandlers:
    """Session, core and reload actions of ``AmiPeer`` (a mixin)."""

    def _a_login(self, conn: PeerConn, act: Action, aid: str) -> bool:
        if conn.user is not None:
            conn.send(ack(aid, "Already authenticated"))
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
            conn.send(error(aid, "Authentication failed"))
            return False
        assert user is not None
        conn.read, conn.write = user.read, user.write
        conn.events = ALL_CLASSES
        if events is not None:
            mask = event_mask(events)
            conn.events = mask if mask is not None else ALL_CLASSES
        conn.user = username
        conn.send(ack(aid, "Authentication accepted"))
        if conn.wants("system,all"):
            now = time.time()
            conn.send(render_message([
                ("Event", "FullyBooted"), ("Privilege", "system,all"),
                ("Uptime", str(int(now - self.started_at))),
                ("LastReload", str(int(now - self.reloaded_at))),
                ("Status", "Fully Booted"),
            ]))
        return True

    def _a_logoff(self, conn: PeerConn, act: Action, aid: str) -> bool:
        conn.send(response("Goodbye", aid, [("Message", "Thanks for all the fish.")]))
        return False

    def _a_ping(self, conn: PeerConn, act: Action, aid: str) -> bool:
        conn.send(response("Success", aid, [("Ping", "Pong"), ("Timestamp", "%.6f" % time.time())]))
        return True

    def _a_events(self, conn: PeerConn, act: Action, aid: str) -> bool:
        mask = event_mask(act.get("EventMask", "") or "")
        if mask is None:
            conn.send(error(aid, "Invalid event mask"))
            return True
        conn.events = mask
        # Asterisk answers without a Message header here.
        conn.send(response("Success", aid, [("Events", "On" if mask else "Off")]))
        return True

    def _a_coresettings(self, conn: PeerConn, act: Action, aid: str) -> bool:
        conn.send(response("Success", aid, [
            ("AMIversion", AMI_VERSION), ("AsteriskVersion", ASTERISK_VERSION),
            ("SystemName", ""), ("CoreMaxCalls", "0"), ("CoreMaxLoadAvg", "0.000000"),
            ("CoreRunUser", ""), ("CoreRunGroup", ""), ("CoreMaxFilehandles", "0"),
            ("CoreRealTimeEnabled", "No"), ("CoreCDRenabled", "Yes"),
            ("CoreHTTPenabled", "No"), ("SoundsSearchCustomDir", "No"),
        ]))
        return True

    def _a_corestatus(self, conn: PeerConn, act: Action, aid: str) -> bool:
        sd, st = ast_dates(self.started_at)
        rd, rt = ast_dates(self.reloaded_at)
        with self.lock:
            current, processed = len(self._channels), self.processed_calls
        conn.send(response("Success", aid, [
            ("CoreStartupDate", sd), ("CoreStartupTime", st),
            ("CoreReloadDate", rd), ("CoreReloadTime", rt),
            ("CoreCurrentCalls", str(current)), ("CoreProcessedCalls", str(processed)),
        ]))
        return True

    def _a_coreshowchannels(self, conn: PeerConn, act: Action, aid: str) -> bool:
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
        conn.send(event_list(aid, "Channels will follow", "CoreShowChannel", items,
                              "CoreShowChannelsComplete"))
        return True

    def _a_reload(self, conn: PeerConn, act: Action, aid: str) -> bool:
        module = (act.get("Module", "") or "").strip()
        if module:
            base = module[:-3] if module.endswith(".so") else module
            with self.lock:
                known = base in self.modules or module in self.modules
            if not known:
                conn.send(error(aid, "No such module"))
                return True
        conn.send(ack(aid, "Module Reloaded"))
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
