"""What FreePBX 17 writes on `fwconsole reload`, generated from the rows rfapi wrote.

FreePBX itself cannot run here, so the real-Asterisk tier writes the files its
reload would write, from the same tables, following FreePBX 17 core's
generators (facts read from FreePBX/core, not its code):

* ``pjsip.endpoint.conf`` / ``pjsip.aor.conf`` / ``pjsip.auth.conf``:
  ``PJSip::generateEndpoint()`` over ``devices`` (tech pjsip) joined to their
  ``sip`` rows; the endpoint/aor is named by the ``account`` row, auth
  ``<account>-auth``; a device whose ``sipdriver`` row is not chan_pjsip is skipped.
* ``sip_additional.conf``: ``core_conf::generate_sip_additional()``: one peer per
  ``account`` row, the other rows in ``flags`` order, ``&`` lists expanded,
  ``deny``/``disallow=all`` first, chan_pjsip devices skipped.
* ``callerid``/``mailbox`` of fixed devices as ``Driver::map_dev_user()`` maps them.
* ``extensions_additional.conf``: ``ext-local`` with FreePBX 17's hint
  (``PJSIP/N&Custom:DNDN,CustomPresence:N``) and a dial entry that reads the same
  AstDB keys FreePBX's macros read; ``ext-findmefollow`` with the findmefollow
  module's ``ddial`` test; call flow control (daynight) toggles ``*28<index>``.

Every key the generators read unconditionally is read with ``row[...]``: a
missing or misnamed ``sip`` row raises instead of producing a silently different
peer, so a test catches it."""
from __future__ import annotations

from typing import Dict, List

import MySQLdb.cursors

DEFAULT_CODECS = "ulaw,alaw,gsm,g726,g722"   # PJSip::getDefaultSIPCodecs() defaults
VALID_DTMF = ("rfc4733", "inband", "info", "auto")
# sipsettings defaults (FreePBX's chan_sip settings page) used by generateEndpoint
RTP_TIMEOUT, RTP_HOLD_TIMEOUT, RTP_KEEPALIVE = "30", "300", "0"


def _rows(conn, sql: str, args=()) -> List[Dict]:
    cur = conn.cursor(MySQLdb.cursors.DictCursor)
    cur.execute(sql, args)
    rows = list(cur.fetchall())
    cur.close()
    return rows


def _setting(conn, keyword: str, default: str = "") -> str:
    rows = _rows(conn, "SELECT value FROM freepbx_settings WHERE keyword = %s", (keyword,))
    return rows[0]["value"] if rows and rows[0]["value"] is not None else default


def _user_map(conn) -> Dict[str, Dict[str, str]]:
    """devicesGetUserMappings(): fixed devices take their user's name and vm context."""
    users = {u["extension"]: u for u in _rows(conn, "SELECT extension, name, voicemail FROM users")}
    out = {}
    for d in _rows(conn, "SELECT id, devicetype, user, description FROM devices"):
        m = {"devicetype": d["devicetype"], "user": d["user"], "description": d["description"], "vmcontext": ""}
        u = users.get(d["user"])
        if d["devicetype"] == "fixed" and u is not None:
            m["description"], m["vmcontext"] = u["name"], u["voicemail"] or ""
        out[d["id"]] = m
    return out


def map_dev_user(umap, remove_mailbox: bool, account: str, keyword: str, data: str) -> str:
    m = umap.get(account)
    if m is None or m["devicetype"] != "fixed":
        return "%s=%s" % (keyword, data)
    value = data
    if keyword.lower() == "callerid":
        value = "%s <%s>" % (m["description"], account)
    elif keyword.lower() in ("mailbox", "mailboxes"):
        novm = m["vmcontext"] in ("", "novm")
        if novm and data.lower() == account + "@device" and remove_mailbox:
            value = ""
        elif data.lower() == account + "@device" and not novm:
            value = "%s@%s" % (m["user"], m["vmcontext"])
    return "%s=%s" % (keyword, value)


def _sip_settings(conn, dev_id: str) -> Dict[str, str]:
    return {r["keyword"]: r["data"] for r in _rows(conn, "SELECT keyword, data FROM sip WHERE id = %s", (dev_id,))}


def pjsip_files(conn) -> Dict[str, str]:
    umap = _user_map(conn)
    remove_mailbox = _setting(conn, "DEVICE_REMOVE_MAILBOX", "0") in ("1", "true", "yes")
    endpoints, aors, auths = [], [], []
    for dev in _rows(conn, "SELECT * FROM devices WHERE tech = 'pjsip' ORDER BY id"):
        c = dict(dev)
        c.update(_sip_settings(conn, dev["id"]))
        if c["sipdriver"] != "chan_pjsip":
            continue
        if c["dtmfmode"] == "rfc2833":
            c["dtmfmode"] = "rfc4733"
        c.setdefault("username", c["account"])
        if not c["allow"]:
            c["allow"] = DEFAULT_CODECS
        name = c["account"]
        ep = ["type=endpoint", "aors=%s" % name]
        if c["secret"]:
            ep.append("auth=%s-auth" % name)
        ep += ["tos_audio=ef", "tos_video=af41", "cos_audio=5", "cos_video=4"]
        if c.get("disallow"):
            ep.append("disallow=%s" % c["disallow"])
        ep.append("allow=%s" % c["allow"])
        ep.append("context=%s" % c["context"])
        if c.get("force_callerid") == "yes":
            ep.append("callerid=%s" % c["callerid"])
        else:
            ep.append(map_dev_user(umap, remove_mailbox, name, "callerid", c["callerid"]))
        ep.append("dtmf_mode=%s" % (c["dtmfmode"] if c["dtmfmode"] in VALID_DTMF else "auto"))
        for key, conf in (("media_address", "media_address"), ("direct_media", "direct_media"),
                          ("vmexten", "voicemail_extension")):
            if c.get(key):
                ep.append("%s=%s" % (conf, c[key]))
        if c.get("outbound_auth") == "yes" and c["secret"]:
            ep.append("outbound_auth=%s-auth" % c["user"])
        aor = ["type=aor"]
        if "mailbox" in c:
            mwisub = c.get("mwi_subscription") or "auto"
            line = map_dev_user(umap, remove_mailbox, name, "mailboxes", c["mailbox"])
            if mwisub in ("solicited", "auto"):
                aor.append(line)
            if mwisub in ("unsolicited", "auto"):
                ep.append(line)
            if mwisub == "auto":
                ep.append("mwi_subscribe_replaces_unsolicited=yes")
        if (c.get("accountcode") or "").strip():
            ep.append("accountcode=%s" % c["accountcode"])
        ep.append("aggregate_mwi=%s" % c.get("aggregate_mwi", "yes"))
        for key, conf in (("namedcallgroup", "named_call_group"), ("namedpickupgroup", "named_pickup_group"),
                          ("avpf", "use_avpf"), ("rtcp_mux", "rtcp_mux"), ("max_audio_streams", "max_audio_streams"),
                          ("max_video_streams", "max_video_streams"), ("webrtc", "webrtc"), ("bundle", "bundle"),
                          ("icesupport", "ice_support"),
                          ("media_use_received_transport", "media_use_received_transport"),
                          ("trustrpid", "trust_id_inbound")):
            if c.get(key):
                ep.append("%s=%s" % (conf, c[key]))
        ep.append("user_eq_phone=%s" % (c.get("user_eq_phone") or "no"))
        ep.append("send_connected_line=%s" % (c.get("send_connected_line") or "yes"))
        for key in ("media_encryption", "timers", "timers_min_se", "outbound_proxy",
                    "media_encryption_optimistic", "refer_blind_progress"):
            if c.get(key):
                ep.append("%s=%s" % (key, c[key]))
        ep.append("rtp_timeout=%s" % (c.get("rtp_timeout") if c.get("rtp_timeout") not in (None, "", "0") else RTP_TIMEOUT))
        ep.append("rtp_timeout_hold=%s" % (c.get("rtp_timeout_hold") if c.get("rtp_timeout_hold") not in (None, "", "0")
                                           else RTP_HOLD_TIMEOUT))
        ep.append("rtp_keepalive=%s" % RTP_KEEPALIVE)
        if (c.get("device_state_busy_at") or "0").isdigit() and int(c.get("device_state_busy_at") or 0) > 0:
            ep.append("device_state_busy_at=%s" % c["device_state_busy_at"])
        if c.get("sendrpid") in ("yes", "both"):
            ep.append("send_rpid=yes")
        if c.get("sendrpid") in ("pai", "both"):
            ep.append("send_pai=yes")
        ep.append("rtp_symmetric=%s" % (c.get("rtp_symmetric") or "yes"))
        ep.append("rewrite_contact=%s" % (c.get("rewrite_contact") or "no"))
        ep.append("force_rport=%s" % (c.get("force_rport") or "yes"))
        if c.get("message_context"):
            ep.append("message_context=%s" % c["message_context"])
        if c.get("md5_cred"):
            auth = ["type=auth", "auth_type=md5", "md5_cred=%s" % c["md5_cred"]]
        else:
            auth = ["type=auth", "auth_type=userpass", "password=%s" % c["secret"]]
        auth.append("username=%s" % c["username"])
        maxc = int(c["max_contacts"]) if str(c.get("max_contacts", "")).isdigit() else 1
        if maxc < 2:
            aor += ["max_contacts=1", "remove_existing=yes"]
        else:
            aor.append("max_contacts=%d" % min(maxc, 100))
            aor.append("remove_existing=%s" % ("yes" if c.get("remove_existing") == "yes" else "no"))
        for key in ("maximum_expiration", "minimum_expiration"):
            if c.get(key):
                aor.append("%s=%s" % (key, c[key]))
        if str(c.get("qualifyfreq", "")).lstrip("-").isdigit():
            aor.append("qualify_frequency=%d" % abs(int(c["qualifyfreq"])))
        endpoints.append(_section(name, ep))
        aors.append(_section(name, aor))
        if c["secret"]:
            auths.append(_section(name + "-auth", auth))
    return {"pjsip.endpoint.conf": "".join(endpoints), "pjsip.aor.conf": "".join(aors),
            "pjsip.auth.conf": "".join(auths)}


def sip_additional(conn) -> str:
    umap = _user_map(conn)
    remove_mailbox = _setting(conn, "DEVICE_REMOVE_MAILBOX", "0") in ("1", "true", "yes")
    out = []
    accounts = _rows(conn, "SELECT data, id FROM sip WHERE keyword = 'account' AND id NOT LIKE 'tr-%%' "
                           "GROUP BY data, id ORDER BY id")
    for acc in accounts:
        rows = _rows(conn, "SELECT keyword, data FROM sip WHERE id = %s AND keyword <> 'account' "
                           "ORDER BY flags, keyword DESC", (acc["id"],))
        items: List[tuple] = []
        skip = False
        for r in rows:
            kw, data = r["keyword"], r["data"]
            if kw == "sipdriver":
                if data == "chan_pjsip":
                    skip = True
                    break
                continue
            if kw == "transport" and data:
                # the lab's sip.conf has tcpenable=no and tlsenable=no
                data = ",".join(p for p in data.split(",") if p not in ("tcp", "tls"))
            if kw.lower() != "secret":
                for opt in data.split("&"):
                    if (kw == "disallow" and opt == "all") or kw == "deny":
                        items.insert(0, (kw, opt))
                    else:
                        items.append((kw, opt))
            else:
                items.append((kw, data.replace(";", "\\;")))
        if skip:
            continue
        account = acc["data"]
        lines = ["[%s]" % account]
        for kw, data in items:
            k = kw.lower()
            if k == "sessiontimers":
                lines.append("session-timers=%s" % data)
            elif k == "videosupport":
                if data != "inherit":
                    lines.append("videosupport=%s" % data)
            elif k in ("allow", "disallow"):
                if data:
                    lines.append("%s=%s" % (kw, data))
            elif k in ("callerid", "mailbox"):
                lines.append(map_dev_user(umap, remove_mailbox, account, kw, data))
            elif k == "nat":
                lines.append("nat=%s" % {"yes": "force_rport,comedia", "route": "force_rport",
                                         "never": "no"}.get(data, data))
            else:
                lines.append("%s=%s" % (kw, data))
        lines += ["callcounter=yes", "faxdetect=no"]
        out.append("\n".join(lines) + "\n\n")
    return "".join(out)


def _section(name: str, lines: List[str]) -> str:
    return "[%s]\n%s\n\n" % (name, "\n".join(lines))


def dialplan(conn) -> str:
    """extensions_additional.conf: the contexts the tier's calls go through."""
    users = _rows(conn, "SELECT u.extension, u.voicemail, d.tech FROM users u "
                        "LEFT JOIN devices d ON d.id = u.extension ORDER BY u.extension")
    out = ["[ext-local]"]
    for u in users:
        n = u["extension"]
        tech = {"pjsip": "PJSIP", "sip": "SIP"}.get(u["tech"] or "")
        # FreePBX 17 (core): hint = the user's devices & Custom:DND<n>, presence CustomPresence:<n>
        if tech:
            out.append("exten => %s,hint,%s/%s&Custom:DND%s,CustomPresence:%s" % (n, tech, n, n, n))
        out.append("exten => %s,1,Gosub(sub-rfapi-exten,s,1(%s))" % (n, n))
        out.append(" same => n,Hangup()")
        out.append("exten => vmu%s,1,VoiceMail(%s@%s,u)" % (n, n, u["voicemail"] if u["voicemail"] not in
                                                          ("", "novm", None) else "default"))
        out.append(" same => n,Hangup()")
    out += [
        "",
        # What macro-exten-vm / macro-dial-one read, reduced to the AstDB keys they use.
        "[sub-rfapi-exten]",
        "exten => s,1,Set(EXT=${ARG1})",
        # the tier's marker: this call took the ext-local path
        " same => n,Set(DB(RFAPITEST/extlocal/${EXT})=${EPOCH})",
        " same => n,Set(RT=${DB(AMPUSER/${EXT}/ringtimer)})",
        " same => n,Set(RT=${IF($[\"${RT}\" = \"\" | \"${RT}\" = \"0\"]?15:${RT})})",
        " same => n,GotoIf($[\"${DB(DND/${EXT})}\" = \"YES\"]?novm)",
        " same => n,Dial(${DB(DEVICE/${DB(AMPUSER/${EXT}/device)}/dial)},${RT})",
        " same => n(novm),GotoIf($[\"${DB(AMPUSER/${EXT}/voicemail)}\" = \"novm\" | "
        "\"${DB(AMPUSER/${EXT}/voicemail)}\" = \"\"]?done)",
        " same => n,VoiceMail(${EXT}@${DB(AMPUSER/${EXT}/voicemail)},u)",
        " same => n(done),Return()",
        "",
        # findmefollow (functions.inc.php): the ddial test of ext-findmefollow, then
        # followme-sub's ring time (ringallv2: grptime + prering) and list.
        "[ext-findmefollow]",
        "exten => _X.,1,GotoIf($[${DB_EXISTS(AMPUSER/${EXTEN}/followme/ddial)} != 1 | "
        "\"${DB(AMPUSER/${EXTEN}/followme/ddial)}\" = \"EXTENSION\"]?ext-local,${EXTEN},1:followme-check,${EXTEN},1)",
        "",
        "[followme-check]",
        "exten => _X.,1,Set(STRATEGY=${DB(AMPUSER/${EXTEN}/followme/strategy)})",
        " same => n,Set(FMTIME=${IF($[\"${CUT(STRATEGY,-,1)}\" = \"ringallv2\"]?"
        "$[${DB(AMPUSER/${EXTEN}/followme/grptime)} + ${DB(AMPUSER/${EXTEN}/followme/prering)}]:"
        "${DB(AMPUSER/${EXTEN}/followme/grptime)})})",
        " same => n,Set(DB(RFAPITEST/followme/${EXTEN})=${FMTIME},${DB(AMPUSER/${EXTEN}/followme/grplist)})",
        " same => n,Hangup()",
        "",
        "[from-internal]",
        "include => rfapi-test",
        "include => app-daynight-toggle",
        "include => ext-findmefollow",
        "include => ext-local",
        "include => outbound-allroutes",
        "",
        "[outbound-allroutes]",
        # external numbers: answered by the lab (a trunk would be here)
        "exten => _NXXNXXXXXX,1,Answer()",
        " same => n,Wait(10)",
        " same => n,Hangup()",
        "",
        "[rfapi-test]",
        "exten => 600,1,Answer()",
        " same => n,Echo()",
        " same => n,Hangup()",
        "",
        "[app-daynight-toggle]",
    ]
    for cfc in _rows(conn, "SELECT ext FROM daynight WHERE dmode = 'fc_description' ORDER BY ext"):
        i = cfc["ext"]
        # daynight module: toggle DB(DAYNIGHT/C<i>) and Custom:DAYNIGHT<i>
        out += [
            "exten => *28%s,hint,Custom:DAYNIGHT%s" % (i, i),
            "exten => *28%s,1,Answer()" % i,
            " same => n,GotoIf($[\"${DB(DAYNIGHT/C%s)}\" = \"NIGHT\"]?day:night)" % i,
            " same => n(day),Set(DB(DAYNIGHT/C%s)=DAY)" % i,
            " same => n,Set(DEVICE_STATE(Custom:DAYNIGHT%s)=NOT_INUSE)" % i,
            " same => n,Hangup()",
            " same => n(night),Set(DB(DAYNIGHT/C%s)=NIGHT)" % i,
            " same => n,Set(DEVICE_STATE(Custom:DAYNIGHT%s)=INUSE)" % i,
            " same => n,Hangup()",
        ]
    return "\n".join(out) + "\n"


def write_all(conn, etc_dir) -> Dict[str, str]:
    """Write every generated file into Asterisk's etc dir; returns name -> text."""
    from pathlib import Path

    files = dict(pjsip_files(conn))
    files["sip_additional.conf"] = sip_additional(conn)
    files["extensions_additional.conf"] = dialplan(conn)
    for name, text in files.items():
        tmp = Path(etc_dir) / (name + ".tmp")
        tmp.write_text(text)
        tmp.replace(Path(etc_dir) / name)
    return files
