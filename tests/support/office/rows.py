"""Every row of the `asterisk` (config) database, and loading them (plus the CDRs) into a world."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from .base import FRAMEWORK_VERSION, MAIN_DID
from .callflow import AMPUSERS, ANNOUNCEMENTS, CALLFLOWS, CONFERENCES, DIDS, IVRS, MODULES, MOH_CLASSES, OUTBOUND_ROUTES, QUEUES, RECORDINGS, RINGGROUPS, TIMECONDITIONS, TIMEGROUPS, TRUNKS
from .cdr import cdr_rows
from .extensions import EXTENSIONS, sip_rows
from .settings import FREEPBX_SETTINGS

# ---------------------------------------------------------------------------
# Rows of the `asterisk` (config) database
# ---------------------------------------------------------------------------

def _featurecode(module: str, feature: str, description: str, default: str, providedest: int) -> Dict[str, Any]:
    # framework featurecode::update(): helptext '' and customcode '' (not NULL); enabled 1.
    return {"modulename": module, "featurename": feature, "description": description, "helptext": "",
            "defaultcode": default, "customcode": "", "enabled": 1, "providedest": providedest, "depend": None}


def _pjsip_trunk_rows(t: Dict[str, Any]) -> List[Dict[str, Any]]:
    """pjsip-table rows of a PJSIP trunk: the trunk form's fields minus PJSip::addTrunk's ignore list, flags 0."""
    settings = [
        ("extdisplay", "OUT_%d" % t["trunkid"]), ("sv_trunk_name", t["name"]), ("sv_usercontext", ""),
        ("sv_channelid", t["channelid"]), ("npanxx", ""), ("trunk_name", t["name"]), ("hcid", "on"),
        ("maxchans", t["maxchans"]), ("dialoutopts_cb", "sys"), ("disabletrunk", "off"),
        ("failtrunk_enable", "0"), ("username", t["username"]), ("auth_username", ""),
        ("secret", t["secret"]), ("authentication", "outbound"), ("registration", "send"), ("language", ""),
        ("sip_server", t["sip_server"]), ("sip_server_port", "5060"), ("context", "from-pstn"),
        ("transport", "0.0.0.0-udp"), ("dtmfmode", "auto"), ("auth_rejection_permanent", "off"),
        ("allow_unauthenticated_options", "off"), ("forbidden_retry_interval", "30"),
        ("fatal_retry_interval", "30"), ("retry_interval", "60"), ("expiration", "3600"),
        ("max_retries", "10000"), ("qualify_frequency", "60"), ("outbound_proxy", ""),
        ("user_eq_phone", "no"), ("contact_user", ""), ("from_domain", ""), ("from_user", ""),
        ("client_uri", ""), ("server_uri", ""), ("media_address", ""), ("aors", ""), ("aor_contact", ""),
        ("match", ""), ("support_path", "no"), ("t38_udptl", "no"), ("t38_udptl_ec", "none"),
        ("t38_udptl_nat", "no"), ("t38_udptl_maxdatagram", ""), ("fax_detect", "no"), ("trust_rpid", "no"),
        ("sendrpid", "no"), ("trust_id_outbound", "no"), ("identify_by", "default"), ("inband_progress", "no"),
        ("direct_media", "no"), ("rewrite_contact", "no"), ("rtp_symmetric", "yes"),
        ("media_encryption", "no"), ("force_rport", "yes"), ("message_context", ""), ("dialopts", ""),
        ("peerdetails", ""), ("userconfig", ""), ("register", ""), ("codecs", "ulaw,alaw,gsm,g726,g722"),
    ]
    return [{"id": str(t["trunkid"]), "keyword": k, "data": v, "flags": 0} for k, v in settings]


def _chansip_trunk_rows(t: Dict[str, Any]) -> List[Dict[str, Any]]:
    """sip-table rows of a chan_sip trunk (Core::addSipOrIaxTrunk + addTrunkRegister).

    `account` comes first, then the PEER Details lines in order; flags count
    from 2. The registration string is a separate `tr-reg-<id>` row, flags 0.
    """
    peer = [("account", t["channelid"]), ("host", t["sip_server"]), ("username", t["username"]),
            ("secret", t["secret"]), ("type", "peer"), ("context", "from-trunk"), ("insecure", "port,invite"),
            ("qualify", "yes"), ("disallow", "all"), ("allow", "ulaw&alaw"), ("fromuser", t["username"]),
            ("fromdomain", t["sip_server"])]
    rows = [{"id": "tr-peer-%d" % t["trunkid"], "keyword": k, "data": v, "flags": i}
            for i, (k, v) in enumerate(peer, start=2)]
    rows.append({"id": "tr-reg-%d" % t["trunkid"], "keyword": "register",
                 "data": "%s:%s@%s/%s" % (t["username"], t["secret"], t["sip_server"], MAIN_DID), "flags": 0})
    return rows


def config_rows() -> Dict[str, List[Dict[str, Any]]]:
    """Every row load() writes into the config database, per table, as column -> value dicts."""
    t: Dict[str, List[Dict[str, Any]]] = {}

    t["admin"] = [{"variable": "need_reload", "value": "false"},
                  {"variable": "version", "value": FRAMEWORK_VERSION}]
    t["ampusers"] = [{k: u[k] for k in ("username", "email", "extension", "password_sha1", "extension_low",
                                        "extension_high", "deptname", "sections")} for u in AMPUSERS]
    t["freepbx_settings"] = [dict(s) for s in FREEPBX_SETTINGS]
    t["modules"] = [{"id": i, "modulename": m, "version": v, "enabled": 1, "signature": None}
                    for i, (m, v) in enumerate(MODULES, start=1)]

    # users / devices / sip (WRITES §1.2-1.4, §1.9: virtual = users row only)
    t["users"], t["devices"], t["sip"] = [], [], []
    for e in EXTENSIONS:
        t["users"].append({
            "extension": e["number"], "password": "", "name": e["name"], "voicemail": e["users_voicemail"],
            "ringtimer": e["ringtimer"], "noanswer": "", "recording": "", "outboundcid": e["outboundcid"],
            "sipname": "", "noanswer_cid": e["noanswer_cid"], "busy_cid": e["busy_cid"],
            "chanunavail_cid": e["chanunavail_cid"], "noanswer_dest": e["noanswer_dest"],
            "busy_dest": e["busy_dest"], "chanunavail_dest": e["chanunavail_dest"],
            # mohclass is not written by addUser: the column default 'default' applies.
        })
        if e["tech"] == "virtual":
            continue
        t["devices"].append({"id": e["number"], "tech": e["tech"], "dial": e["dial"], "devicetype": "fixed",
                             "user": e["number"], "description": e["name"], "emergency_cid": e["emergency_cid"],
                             "hint_override": None})
        t["sip"].extend({"id": i, "keyword": k, "data": d, "flags": f} for i, k, d, f in sip_rows(e["number"]))

    t["findmefollow"] = [{
        "grpnum": e["number"], "strategy": e["followme_strategy"], "grptime": e["followme_grptime"],
        "grppre": "", "grplist": e["followme_grplist"], "annmsg_id": None, "postdest": e["followme_postdest"],
        "dring": "", "rvolume": "", "remotealert_id": None, "needsconf": "", "toolate_id": None,
        "pre_ring": e["followme_prering"], "ringing": "Ring", "calendar_enable": 0, "calendar_id": "",
        "calendar_group_id": "", "calendar_match": "yes"} for e in EXTENSIONS if e["followme"]]

    t["incoming"] = [dict(d) for d in DIDS]

    t["trunks"], t["trunk_dialpatterns"], t["pjsip"] = [], [], []
    for tr in TRUNKS:
        t["trunks"].append({k: tr[k] for k in ("trunkid", "name", "tech", "outcid", "keepcid", "maxchans",
                                                "failscript", "dialoutprefix", "channelid", "usercontext",
                                                "provider", "disabled", "continue", "routedisplay")})
        for prefix, pass_, prepend, seq in tr["dialpatterns"]:
            t["trunk_dialpatterns"].append({"trunkid": tr["trunkid"], "match_pattern_prefix": prefix,
                                            "match_pattern_pass": pass_, "prepend_digits": prepend, "seq": seq})
        if tr["tech"] == "pjsip":
            t["pjsip"].extend(_pjsip_trunk_rows(tr))
        else:
            t["sip"].extend(_chansip_trunk_rows(tr))

    route_cols = ("route_id", "name", "outcid", "outcid_mode", "password", "emergency_route",
                  "intracompany_route", "mohclass", "time_group_id", "dest", "time_mode", "calendar_id",
                  "calendar_group_id", "timezone", "notification_on")
    t["outbound_routes"] = [{k: r[k] for k in route_cols} for r in OUTBOUND_ROUTES]
    t["outbound_route_sequence"] = [{"route_id": r["route_id"], "seq": r["seq"]} for r in OUTBOUND_ROUTES]
    t["outbound_route_patterns"] = [
        {"route_id": r["route_id"], "match_pattern_prefix": p, "match_pattern_pass": s, "match_cid": c,
         "prepend_digits": d} for r in OUTBOUND_ROUTES for p, s, c, d in r["patterns"]]
    t["outbound_route_trunks"] = [{"route_id": r["route_id"], "trunk_id": tid, "seq": i}
                                  for r in OUTBOUND_ROUTES for i, tid in enumerate(r["trunks"])]

    t["recordings"] = [{k: r[k] for k in ("id", "displayname", "filename", "description", "fcode", "fcode_pass",
                                          "fcode_lang")} for r in RECORDINGS]
    t["music"] = [dict(m) for m in MOH_CLASSES]
    t["announcement"] = [dict(a) for a in ANNOUNCEMENTS]

    t["ivr_details"] = [{k: v for k, v in i.items() if k != "entries"} for i in IVRS]
    t["ivr_entries"] = [dict(ivr_id=i["id"], **e) for i in IVRS for e in i["entries"]]

    qc_cols = ("extension", "descr", "grppre", "alertinfo", "ringing", "maxwait", "password", "ivr_id", "dest",
               "cwignore", "queuewait", "use_queue_context", "togglehint", "qnoanswer", "callconfirm",
               "callconfirm_id", "qregex", "agentannounce_id", "joinannounce_id", "monitor_type",
               "monitor_heard", "monitor_spoken", "callback_id")
    t["queues_config"] = [{k: q[k] for k in qc_cols} for q in QUEUES]
    t["queues_details"] = []
    for q in QUEUES:
        t["queues_details"].extend({"id": q["extension"], "keyword": k, "data": v, "flags": 0}
                                   for k, v in q["details"])
        # Static agents: Local/<ext>@from-queue/n,<penalty>, flags = position (SCHEMA §4).
        t["queues_details"].extend({"id": q["extension"], "keyword": "member",
                                    "data": "Local/%s@from-queue/n,0" % m, "flags": pos}
                                   for pos, m in enumerate(q["members"]))

    t["ringgroups"] = [dict(r) for r in RINGGROUPS]
    t["meetme"] = [dict(c) for c in CONFERENCES]

    t["timegroups_groups"] = [{"id": g["id"], "description": g["description"]} for g in TIMEGROUPS]
    t["timegroups_details"] = [{"id": rid, "timegroupid": g["id"], "time": rule}
                               for g in TIMEGROUPS for rid, rule in g["rules"]]
    t["timeconditions"] = [{k: v for k, v in tc.items() if k != "override"} for tc in TIMECONDITIONS]

    # daynight: Daynight::edit() writes day, night, password (only if set), fc_description and the
    # two recording ids ('' = default prompt).
    t["daynight"] = []
    for cf in CALLFLOWS:
        for dmode in ("day", "night", "password", "fc_description", "day_recording_id", "night_recording_id"):
            if dmode == "password" and not cf["password"]:
                continue
            t["daynight"].append({"ext": cf["ext"], "dmode": dmode, "dest": cf[dmode]})

    fc = [_featurecode("findmefollow", "fmf_toggle", "Findme Follow Toggle", "*21", 0)]
    fc += [_featurecode("daynight", "toggle-mode-%s" % cf["ext"], "%s: %s" % (cf["ext"], cf["fc_description"]),
                        "*28%s" % cf["ext"], 1) for cf in CALLFLOWS]
    fc += [_featurecode("timeconditions", "toggle-mode-%d" % tc["timeconditions_id"],
                        "%d: %s" % (tc["timeconditions_id"], tc["displayname"]),
                        "*27%d" % tc["timeconditions_id"], 1) for tc in TIMECONDITIONS]
    fc += [_featurecode("recordings", "edit-recording-%d" % r["id"], "Edit Recording: %s" % r["displayname"],
                        "*29%d" % r["id"], 1) for r in RECORDINGS if r["fcode"]]
    t["featurecodes"] = fc
    return t


def _insert(cur, table: str, rows: List[Dict[str, Any]]) -> None:
    if not rows:
        return
    cols = list(rows[0])
    sql = "INSERT INTO `%s` (%s) VALUES (%s)" % (table, ", ".join("`%s`" % c for c in cols),
                                                ", ".join(["%s"] * len(cols)))
    cur.executemany(sql, [tuple(r[c] for c in cols) for r in rows])


def load(conn_config, conn_cdr, now: Optional[float] = None) -> None:
    """Insert the whole office into two connected (USE-ing) MySQLdb connections and commit.

    `now` (unix time, default ANCHOR = this process's start) anchors the CDR dates.
    """
    cur = conn_config.cursor()
    for table, rows in config_rows().items():
        _insert(cur, table, rows)
    conn_config.commit()
    cur = conn_cdr.cursor()
    _insert(cur, "cdr", cdr_rows(now))
    conn_cdr.commit()
