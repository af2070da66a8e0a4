"""Voicemail and mailbox actions: users list and status, box summary, message
move/remove/forward (with MessageWaiting after), MailboxCount and
MailboxStatus; counts come from the listed messages when there are any.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from .conn import PeerConn
from .constants import VOICEMAIL_FOLDERS
from .templates import VOICEMAIL_USER, fill_template
from .wire import Action, Headers, ack, error, event_list, response


class VoicemailHandlers:
    """Voicemail and mailbox actions of ``AmiPeer`` (a mixin)."""

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
        return fill_template(VOICEMAIL_USER, values, box.get("detail"))

    def _a_voicemailrefresh(self, conn: PeerConn, act: Action, aid: str) -> bool:
        # Asterisk sends MessageWaiting only when counts changed; here they never do.
        conn.send(ack(aid, "Refresh sent"))
        return True

    def _a_voicemailuserslist(self, conn: PeerConn, act: Action, aid: str) -> bool:
        with self.lock:
            items = [self._voicemail_user_fields(k) for k in self.voicemail_boxes]
        conn.send(event_list(aid, "Voicemail user list will follow", "VoicemailUserEntry", items,
                              "VoicemailUserEntryComplete"))
        return True

    def _need(self, conn: PeerConn, act: Action, aid: str, *names: str) -> Optional[List[str]]:
        values = []
        for n in names:
            v = act.get(n, "") or ""
            if not v:
                conn.send(error(aid, "%s not specified, required" % n))
                return None
            values.append(v)
        return values

    def _a_voicemailuserstatus(self, conn: PeerConn, act: Action, aid: str) -> bool:
        got = self._need(conn, act, aid, "Context", "Mailbox")
        if got is None:
            return True
        key = self._box_key(got[1], got[0])
        with self.lock:
            fields = self._voicemail_user_fields(key) if key in self.voicemail_boxes else None
        if fields is None:
            conn.send(error(aid, "There is no voicemail user matching the given user."))
            return True
        conn.send(event_list(aid, "Voicemail user detail will follow", "VoicemailUserDetail", [fields],
                              "VoicemailUserDetailComplete"))
        return True

    def _a_voicemailboxsummary(self, conn: PeerConn, act: Action, aid: str) -> bool:
        got = self._need(conn, act, aid, "Context", "Mailbox")
        if got is None:
            return True
        key = self._box_key(got[1], got[0])
        with self.lock:
            box = self.voicemail_boxes.get(key)
            msgs = list((box or {}).get("messages") or [])
        if box is None:
            conn.send(error(aid, "There is no voicemail user matching the given user."))
            return True
        order = {f: i for i, f in enumerate(VOICEMAIL_FOLDERS)}
        msgs = sorted(msgs, key=lambda m: order.get(m.get("folder", "INBOX"), len(order)))  # stable
        items = [[("Folder", m.get("folder", "INBOX")), ("CallerID", m.get("callerid", "")),
                  ("Date", m.get("date", "")), ("Duration", str(m.get("duration", 0))),
                  ("Flag", m.get("flag", "")), ("ID", m.get("id", ""))] for m in msgs]
        conn.send(event_list(aid, "Voicemail box detail will follow", "VoicemailBoxDetail", items,
                              "VoicemailBoxDetailComplete"))
        return True

    def _find_message(self, key: str, folder: str, msg_id: str) -> Optional[Dict[str, Any]]:
        for m in (self.voicemail_boxes.get(key) or {}).get("messages") or []:
            if m.get("id") == msg_id and m.get("folder", "INBOX") == folder:
                return m
        return None

    def _a_voicemailmove(self, conn: PeerConn, act: Action, aid: str) -> bool:
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
            conn.send(ack(aid, "Message move failed\n"))
            return True
        conn.send(ack(aid, "Message move successful\n"))
        self.emit_event("MessageWaiting", mwi)
        return True

    def _a_voicemailremove(self, conn: PeerConn, act: Action, aid: str) -> bool:
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
            conn.send(ack(aid, "Message remove failed\n"))
            return True
        conn.send(ack(aid, "Message remove successful\n"))
        self.emit_event("MessageWaiting", mwi)
        return True

    def _a_voicemailforward(self, conn: PeerConn, act: Action, aid: str) -> bool:
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
            conn.send(ack(aid, "Message forward failed\n"))
            return True
        conn.send(ack(aid, "Message forward successful\n"))
        self.emit_event("MessageWaiting", mwi)
        return True

    def _a_mailboxcount(self, conn: PeerConn, act: Action, aid: str) -> bool:
        mailbox = act.get("Mailbox", "") or ""
        if not mailbox:
            conn.send(error(aid, "Mailbox not specified"))
            return True
        with self.lock:
            new, old, urgent = self._box_counts(self._box_key(mailbox))
        conn.send(response("Success", aid, [
            ("Message", "Mailbox Message Count"), ("Mailbox", mailbox),
            ("UrgMessages", str(urgent)), ("NewMessages", str(new)), ("OldMessages", str(old)),
        ]))
        return True

    def _a_mailboxstatus(self, conn: PeerConn, act: Action, aid: str) -> bool:
        mailbox = act.get("Mailbox", "") or ""
        if not mailbox:
            conn.send(error(aid, "Mailbox not specified"))
            return True
        with self.lock:
            new, _, urgent = self._box_counts(self._box_key(mailbox))
        conn.send(response("Success", aid, [
            ("Message", "Mailbox Status"), ("Mailbox", mailbox),
            ("Waiting", "1" if new + urgent else "0"),
        ]))
        return True
