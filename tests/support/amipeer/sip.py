"""PJSIP and chan_sip: endpoints, AORs, contacts and inbound registrations
(PJSIPShow*), SIPpeers and SIPshowpeer, with contacts from ``pjsip_contacts``
or an endpoint's URI list.
"""
from __future__ import annotations

import hashlib
import re
import time
from typing import Any, Dict, List

from .conn import PeerConn
from .constants import DEVICE_STATE_TEXT, TRUE_WORDS
from .templates import ENDPOINT_DETAIL, SIP_SHOW_PEER, fill_template
from .wire import Action, Headers, error, event_list, response


class SipHandlers:
    """PJSIP and chan_sip actions of ``AmiPeer`` (a mixin)."""

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

    def _a_pjsipshowendpoints(self, conn: PeerConn, act: Action, aid: str) -> bool:
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
            conn.send(error(aid, "No endpoints found\n"))
            return True
        conn.send(event_list(aid, "A listing of Endpoints follows, presented as EndpointList events",
                              "EndpointList", items, "EndpointListComplete"))
        return True

    def _a_pjsipshowendpoint(self, conn: PeerConn, act: Action, aid: str) -> bool:
        name = act.get("Endpoint", "") or ""
        if not name:
            conn.send(error(aid, "PJSIPShowEndpoint requires an endpoint name\n"))
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
                items = [[("Event", "EndpointDetail")] + fill_template(ENDPOINT_DETAIL, values, ep.get("detail"))]
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
            conn.send(error(aid, "Unable to retrieve endpoint %s\n" % name))
            return True
        conn.send(event_list(aid, "Following are Events for each object associated with the Endpoint",
                              None, items, "EndpointDetailComplete"))
        return True

    def _a_pjsipshowcontacts(self, conn: PeerConn, act: Action, aid: str) -> bool:
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
        conn.send(event_list(aid, "A listing of Contacts follows, presented as ContactList events",
                              "ContactList", items, "ContactListComplete"))
        return True

    def _a_pjsipshowaors(self, conn: PeerConn, act: Action, aid: str) -> bool:
        with self.lock:
            items = [self._aor_fields(aor, self.pjsip_endpoints.get(self._aor_endpoint(aor), {}))
                     for aor in self._aor_names()]
        if not items:
            conn.send(error(aid, "No AORs found\n"))
            return True
        conn.send(event_list(aid, "A listing of AORs follows, presented as AorList events",
                              "AorList", items, "AorListComplete"))
        return True

    def _a_pjsipshowregistrationsinbound(self, conn: PeerConn, act: Action, aid: str) -> bool:
        with self.lock:
            items = []
            for aor in self._aor_names():
                ep = self.pjsip_endpoints.get(self._aor_endpoint(aor), {})
                contacts = self._contacts_for(aor)
                items.append(self._aor_fields(aor, ep, contact_key="Contact") + [
                    ("Contacts", "".join("%s/%s," % (aor, c["uri"]) for c in contacts))])
        conn.send(event_list(aid, "Following are Events for each Inbound registration",
                              "InboundRegistrationDetail", items, "InboundRegistrationDetailComplete"))
        return True

    def _a_pjsipshowreginboundcontactstatuses(self, conn: PeerConn, act: Action, aid: str) -> bool:
        with self.lock:
            items = []
            for aor in self._aor_names():
                endpoint = self._aor_endpoint(aor)
                for c in self._contacts_for(aor):
                    items.append(self._contact_status_detail(aor, endpoint, c))
        conn.send(event_list(aid, "Following are ContactStatusEvents for each Inbound registration",
                              "ContactStatusDetail", items, "ContactStatusDetailComplete"))
        return True

    def _a_sippeers(self, conn: PeerConn, act: Action, aid: str) -> bool:
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
        conn.send(event_list(aid, "Peer status list will follow", "PeerEntry", items, "PeerlistComplete"))
        return True

    def _a_sipshowpeer(self, conn: PeerConn, act: Action, aid: str) -> bool:
        name = act.get("Peer", "") or ""
        if not name:
            conn.send(error(aid, "Peer: <name> missing."))
            return True
        with self.lock:
            p = self.sip_peers.get(name)
            p = dict(p) if p is not None else None
        if p is None:
            # chan_sip appends one more CRLF after the error (sip-show-peer-nonexistent.txt).
            conn.send(error(aid, "Peer %s not found." % name) + b"\r\n")
            return True
        ip = str(p.get("ip", "-none-"))
        registered = ip not in ("-none-", "")
        values = {
            "name": name, "context": p.get("context", "from-internal"),
            "voicemailbox": p.get("voicemailbox", ""),
            "dynamic_yn": "Y" if str(p.get("dynamic", "yes")).lower() in TRUE_WORDS else "N",
            "callerid": p.get("callerid", ""),
            "regexpire": p.get("regexpire", 3600 if registered else -1),
            "address_ip": ip if registered else "(null)",
            "address_port": p.get("port", 0) if registered else 0,
            "default_username": p.get("default_username", name if registered else ""),
            "status": p.get("status", "OK (1 ms)" if registered else "UNKNOWN"),
            "useragent": p.get("useragent", ""), "reg_contact": p.get("reg_contact", ""),
        }
        conn.send(response("Success", aid, fill_template(SIP_SHOW_PEER, values, p.get("detail"))))
        return True
