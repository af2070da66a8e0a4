"""A week of call records (asteriskcdrdb.cdr), generated deterministically."""
from __future__ import annotations

import datetime as _dt
import random
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .base import MAIN_CID, MAIN_DID, _now
from .callflow import RINGGROUPS
from .extensions import EXTENSIONS_BY_NUMBER

# ---------------------------------------------------------------------------
# Call detail records (asteriskcdrdb.cdr)
# ---------------------------------------------------------------------------

CDR_COLUMNS: Tuple[str, ...] = (
    "calldate", "clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata", "duration",
    "billsec", "disposition", "amaflags", "accountcode", "uniqueid", "userfield", "did", "recordingfile", "cnum",
    "cnam", "outbound_cnum", "outbound_cnam", "dst_cnam", "linkedid", "peeraccount", "sequence")

CDR_CALLS = 240  # random calls; the row count does not depend on `now` (other tests rely on that)
_CDR_SEED = 20240611


def _make_callers() -> List[Tuple[str, str]]:
    r = random.Random(4711)
    names = ["WIRELESS CALLER", "SMITH JOHN", "ACME SUPPLY CO", "", "DR JONES OFFICE", "GARCIA MARIA",
             "NGUYEN T", "UNKNOWN", "BLUE CROSS", "LEE DENTAL LAB", "PATEL R", "OBRIEN K", "TOLL FREE CALL",
             "CITY OF BAYVIEW", "MARTIN P", "WIRELESS CALLER"]
    out = [("5557654321", "WIRELESS CALLER"), ("5559876543", "VIP CLIENT")]
    while len(out) < 40:
        num = "%d%03d%04d" % (r.choice((212, 310, 415, 555, 617, 646, 718, 917)), r.randint(200, 999),
                              r.randint(0, 9999))
        out.append((num, r.choice(names)))
    return out


CALLERS = _make_callers()


def _cid_parts(outboundcid: str) -> Tuple[str, str]:
    """'"Name" <num>' -> (name, num); bare number -> ('', num)."""
    if "<" in outboundcid:
        name, num = outboundcid.rsplit("<", 1)
        return name.strip().strip('"'), num.rstrip(">").strip()
    return "", outboundcid.strip()


class _CdrWriter:
    """Builds rows the way Asterisk numbers things: one global channel counter
    gives both the uniqueid suffix (decimal) and the channel name suffix (hex)."""

    def __init__(self) -> None:
        self.rows: List[Dict[str, Any]] = []
        self.counter = 400
        self.sequence = 1200

    def channel(self, peer: str, ts: int) -> Tuple[str, str]:
        self.counter += 1
        return "%s-%08x" % (peer, self.counter), "%d.%d" % (ts, self.counter)

    def add(self, ts: int, **kw: Any) -> Dict[str, Any]:
        row: Dict[str, Any] = {c: "" for c in CDR_COLUMNS}
        row.update(duration=0, billsec=0, amaflags=3, sequence=0)
        row.update(kw)
        row["calldate"] = _dt.datetime.fromtimestamp(ts)
        self.sequence += 1
        row["sequence"] = self.sequence
        self.rows.append(row)
        return row


def _recording_name(kind: str, to: str, frm: str, ts: int, uniqueid: str) -> str:
    # <type>-<to>-<from>-<YYYYMMDD>-<HHMMSS>-<uniqueid>.wav: the cdr module takes the date from part 4.
    return "%s-%s-%s-%s-%s.wav" % (kind, to, frm, time.strftime("%Y%m%d-%H%M%S", time.localtime(ts)), uniqueid)


def _dialstring(ext: str) -> str:
    return EXTENSIONS_BY_NUMBER[ext]["dial"]


def _ring_dial(w: _CdrWriter, r: random.Random, ts: int, caller: Dict[str, Any], ext: str, dcontext: str,
               dst: Optional[str] = None, answer_p: float = 0.72, record_kind: Optional[str] = None,
               lead: int = 0, allow_vm: bool = True) -> Tuple[int, bool]:
    """Caller channel dials one extension; on no answer a VoiceMail leg follows if the user has a box.
    Returns (end time, answered)."""
    e = EXTENSIONS_BY_NUMBER[ext]
    dchan, _ = w.channel(e["dial"], ts + lead)
    ring = r.randint(3, 16)
    answered = r.random() < answer_p and not e["dnd"]
    base = dict(caller, dst=dst or ext, dcontext=dcontext, dstchannel=dchan, lastapp="Dial",
                lastdata="%s,%d,HhtrIb(func-apply-sipheaders^s^1)" % (e["dial"], e["ringtimer"] or 20),
                dst_cnam=e["name"])
    if e["dnd"]:
        w.add(ts, **dict(base, duration=lead + 1, billsec=0, disposition="BUSY"))
        return ts + lead + 1, False
    if answered:
        talk = int(min(1800, r.expovariate(1 / 150.0))) + 4
        rec = ""
        if record_kind and r.random() < 0.3:
            rec = _recording_name(record_kind, ext, caller["src"], ts, caller["uniqueid"])
        w.add(ts, **dict(base, duration=lead + ring + talk, billsec=talk, disposition="ANSWERED",
                         recordingfile=rec))
        return ts + lead + ring + talk, True
    ring = e["ringtimer"] or 20
    w.add(ts, **dict(base, duration=lead + ring, billsec=0, disposition="NO ANSWER"))
    end = ts + lead + ring
    if allow_vm and e["voicemail"]:
        msg = r.randint(4, 60)
        w.add(end, **dict(caller, dst="vmu" + ext, dcontext="ext-local", dstchannel="", lastapp="VoiceMail",
                          lastdata="%s@default,u" % ext, duration=msg + 2, billsec=msg, disposition="ANSWERED",
                          dst_cnam=e["name"]))
        end += msg + 2
    return end, False


def _inbound(w: _CdrWriter, r: random.Random, ts: int, spec: Dict[str, Any]) -> None:
    num, name = spec["caller"]
    did = spec["did"]
    chan, uid = w.channel("PJSIP/carrier_primary", ts)
    caller = {"clid": '"%s" <%s>' % (name, num) if name else "<%s>" % num, "src": num, "channel": chan,
              "uniqueid": uid, "linkedid": uid, "did": did, "cnum": num, "cnam": name}
    route = spec["route"]
    if route == "short":  # hung up while the route was still setting variables
        w.add(ts, **dict(caller, dst=did, dcontext="ext-did-0002", lastapp="Set",
                         lastdata="__FROM_DID=%s" % did, duration=r.randint(1, 3), disposition="NO ANSWER"))
    elif route == "notroute":
        w.add(ts, **dict(caller, dst=did, dcontext="from-trunk", lastapp="Hangup", lastdata="",
                         duration=1, disposition="NO ANSWER"))
    elif route == "ah_announce":
        w.add(ts, **dict(caller, dst="s", dcontext="app-announcement-2", lastapp="Playback",
                         lastdata="custom/after-hours", duration=r.randint(6, 15), billsec=5,
                         disposition="ANSWERED"))
    elif route in ("ah_vm", "vm102"):
        box = "190" if route == "ah_vm" else "102"
        msg = r.randint(5, 70)
        w.add(ts, **dict(caller, dst="vmu" + box, dcontext="ext-local", lastapp="VoiceMail",
                         lastdata="%s@default,u" % box, duration=msg + 14, billsec=msg + 13, disposition="ANSWERED",
                         dst_cnam=EXTENSIONS_BY_NUMBER[box]["name"]))
    elif route == "ext":
        end, answered = _ring_dial(w, r, ts, caller, spec["ext"], "from-did-direct", record_kind="in",
                                   lead=spec.get("lead", 0))
        if answered and spec["ext"] == "109" and r.random() < 0.25:  # blind transfer by the front desk
            target = r.choice(["101", "105", "102"])
            _ring_dial(w, r, end, caller, target, "from-internal-xfer", answer_p=0.8)
    elif route == "ivr_hangup":
        t = r.randint(4, 25)
        w.add(ts, **dict(caller, dst="s", dcontext="ivr-1", lastapp="WaitExten", lastdata="10,", duration=t,
                         billsec=t - 1, disposition="ANSWERED"))
    elif route == "queue":
        wait = r.randint(4, 150)
        lead = spec.get("lead", 0)
        if r.random() < 0.8:
            member = r.choice(["102", "103", "104", "105"])
            talk = int(min(1500, r.expovariate(1 / 200.0))) + 10
            local, luid = w.channel("Local/%s@from-queue" % member, ts + lead + wait - 2)
            rec = _recording_name("q", "400", num, ts, uid) if r.random() < 0.4 else ""
            w.add(ts, **dict(caller, dst="400", dcontext="ext-queues", dstchannel=local + ";1", lastapp="Queue",
                             lastdata="400,t,,,300,,,,,", duration=lead + wait + talk,
                             billsec=lead + wait + talk - 1, disposition="ANSWERED", recordingfile=rec,
                             dst_cnam="Patient Support"))
            # The member leg: the Local channel's ;2 half dials the phone (same linkedid).
            mchan, muid = w.channel(EXTENSIONS_BY_NUMBER[member]["dial"], ts + lead + wait)
            w.add(ts + lead + wait - 2, **dict(
                caller, channel=local + ";2", uniqueid=luid, did="",
                dst=member, dcontext="from-queue", dstchannel=mchan, lastapp="Dial",
                lastdata="%s,,HhtrIb(func-apply-sipheaders^s^1)" % _dialstring(member), duration=talk + 2,
                billsec=talk, disposition="ANSWERED", dst_cnam=EXTENSIONS_BY_NUMBER[member]["name"]))
        else:  # caller gave up waiting
            w.add(ts, **dict(caller, dst="400", dcontext="ext-queues", lastapp="Queue",
                             lastdata="400,t,,,300,,,,,", duration=lead + wait, billsec=lead + wait - 1,
                             disposition="ANSWERED", dst_cnam="Patient Support"))
    elif route == "ringgroup":
        members = RINGGROUPS[0]["grplist"].split("-")
        lead = spec.get("lead", 0)
        winner = r.choice(members) if r.random() < 0.75 else None
        ring = r.randint(4, 15) if winner else 20
        talk = int(min(1500, r.expovariate(1 / 160.0))) + 5 if winner else 0
        data = "%s,20,Ttr" % "&".join(_dialstring(m) for m in members)
        for m in members:
            dchan, _ = w.channel(_dialstring(m), ts + lead)
            if m == winner:
                w.add(ts, **dict(caller, dst="600", dcontext="ext-group", dstchannel=dchan, lastapp="Dial",
                                 lastdata=data, duration=lead + ring + talk, billsec=talk, disposition="ANSWERED",
                                 dst_cnam=EXTENSIONS_BY_NUMBER[m]["name"]))
            else:
                w.add(ts, **dict(caller, dst="600", dcontext="ext-group", dstchannel=dchan, lastapp="Dial",
                                 lastdata=data, duration=lead + ring, billsec=0, disposition="NO ANSWER",
                                 dst_cnam=EXTENSIONS_BY_NUMBER[m]["name"]))
        if winner is None:  # ring group fail-over destination: the general mailbox
            msg = r.randint(5, 50)
            w.add(ts + lead + ring, **dict(caller, dst="vmu190", dcontext="ext-local", lastapp="VoiceMail",
                                           lastdata="190@default,u", duration=msg + 2, billsec=msg,
                                           disposition="ANSWERED", dst_cnam="General Mailbox"))
    else:
        raise AssertionError(route)


def _outbound(w: _CdrWriter, r: random.Random, ts: int, spec: Dict[str, Any]) -> None:
    e = EXTENSIONS_BY_NUMBER[spec["ext"]]
    number = spec["number"]
    trunk_number = number if len(number) != 10 else "1" + number
    chan, uid = w.channel(e["dial"], ts)
    cid_name, cid_num = _cid_parts(e["outboundcid"] or MAIN_CID)
    if spec.get("emergency") and e["emergency_cid"]:
        cid_num = e["emergency_cid"]
    base = {"clid": '"%s" <%s>' % (e["name"], e["number"]), "src": e["number"], "dst": number,
            "dcontext": "from-internal", "channel": chan, "uniqueid": uid, "linkedid": uid, "lastapp": "Dial",
            "cnum": e["number"], "cnam": e["name"], "outbound_cnum": cid_num, "outbound_cnam": cid_name}
    dchan, _ = w.channel("PJSIP/carrier_primary", ts)
    primary = "PJSIP/%s@carrier_primary,300,Tb(func-apply-sipheaders^s^1,(2))" % trunk_number
    disposition = spec["disposition"]
    ring = r.randint(3, 25)
    if disposition == "ANSWERED":
        talk = int(min(2400, r.expovariate(1 / 180.0))) + 3
        rec = _recording_name("out", number, e["number"], ts, uid) if r.random() < 0.2 else ""
        w.add(ts, **dict(base, dstchannel=dchan, lastdata=primary, duration=ring + talk, billsec=talk,
                         disposition="ANSWERED", recordingfile=rec))
    elif disposition == "CONGESTION":
        # Primary trunk congested: the route fails over to the backup trunk (same uniqueid/linkedid).
        w.add(ts, **dict(base, dstchannel=dchan, lastdata=primary, duration=1, billsec=0, disposition="CONGESTION"))
        bchan, _ = w.channel("SIP/carrier_backup", ts + 1)
        talk = int(min(1200, r.expovariate(1 / 120.0))) + 3
        w.add(ts + 1, **dict(base, dstchannel=bchan, lastdata="SIP/carrier_backup/%s,300,T" % trunk_number,
                             duration=ring + talk, billsec=talk, disposition="ANSWERED"))
    else:
        w.add(ts, **dict(base, dstchannel=dchan, lastdata=primary,
                         duration={"NO ANSWER": 45, "BUSY": 4, "FAILED": 1}[disposition], billsec=0,
                         disposition=disposition))


def _internal(w: _CdrWriter, r: random.Random, ts: int, spec: Dict[str, Any]) -> None:
    e = EXTENSIONS_BY_NUMBER[spec["ext"]]
    chan, uid = w.channel(e["dial"], ts)
    caller = {"clid": '"%s" <%s>' % (e["name"], e["number"]), "src": e["number"], "channel": chan,
              "uniqueid": uid, "linkedid": uid, "cnum": e["number"], "cnam": e["name"]}
    if spec["dst"] == "*97":
        t = r.randint(15, 120)
        w.add(ts, **dict(caller, dst="*97", dcontext="from-internal", lastapp="VoiceMailMain",
                         lastdata="%s@default" % e["number"], duration=t, billsec=t, disposition="ANSWERED"))
        return
    _ring_dial(w, r, ts, caller, spec["dst"], "from-internal", answer_p=0.75, record_kind="internal")


_INBOUND_DAY = [  # (weight, did, route, ext)
    (30, MAIN_DID, "ivr", None), (5, "1" + MAIN_DID, "ivr", None), (14, "5551230101", "ext", "101"),
    (4, "5551230102", "vip", "102"), (5, "5551230102", "vm102", None), (22, "5551230400", "queue", None),
    (4, "5551230177", "ext", "109"), (6, MAIN_DID, "short", None), (2, "5551230188", "notroute", None),
]
_IVR_CHOICES = [(30, "ringgroup", None), (30, "queue", None), (10, "ext", "105"), (15, "ext", "109"),
                (15, "ivr_hangup", None)]
_OUT_EXTS = ["101", "102", "103", "104", "105", "107", "109", "109", "112", "201"]
_INT_EXTS = ["101", "102", "103", "104", "105", "107", "108", "109", "110", "112"]


def _pick(r: random.Random, table: Sequence[Tuple[Any, ...]]) -> Tuple[Any, ...]:
    return r.choices(table, weights=[row[0] for row in table])[0]


def local_midnight(ts: int) -> int:
    """Start of the local calendar day holding ``ts`` (CDR calldate is local time)."""
    lt = time.localtime(ts)
    return int(time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday, 0, 0, 0, 0, 0, -1)))


def _call_specs(now: int) -> List[Dict[str, Any]]:
    """The calls of the week: kind, time and the choices that fix the number of rows.

    Every random draw here is made the same way whatever `now` is, so the
    number of rows never depends on `now` - only the dates do.
    """
    rng = random.Random(_CDR_SEED)
    midnight = local_midnight(now)
    day_weights = []
    for d in range(7):
        wday = time.localtime(midnight - d * 86400 + 43200).tm_wday
        day_weights.append(1.0 if wday < 5 else 0.15)
    specs = []
    for _ in range(CDR_CALLS):
        kind = rng.choices(["in", "out", "int"], weights=[45, 35, 20])[0]
        after_hours = rng.random() < (0.12 if kind == "in" else 0.04)
        day = rng.choices(range(7), weights=day_weights)[0]
        if after_hours:
            tod = rng.uniform(18.5, 22.0) * 3600 if rng.random() < 0.7 else rng.uniform(6.0, 8.3) * 3600
        else:
            tod = rng.uniform(8.5, 17.5) * 3600
        ts = int(midnight - day * 86400 + tod)
        if ts > now - 4 * 3600:  # today's slot is (nearly) in the future: use the same time yesterday
            ts -= 86400
        ts = max(ts, now - 7 * 86400 + 600)
        spec: Dict[str, Any] = {"kind": kind, "ts": ts, "seed": rng.getrandbits(32)}
        if kind == "in":
            spec["caller"] = rng.choice(CALLERS)
            if after_hours:
                spec["did"] = MAIN_DID if rng.random() < 0.85 else "1" + MAIN_DID
                spec["route"] = "ah_announce" if rng.random() < 0.5 else "ah_vm"
            else:
                _, did, route, ext = _pick(rng, _INBOUND_DAY)
                spec.update(did=did, route=route, ext=ext)
                if route == "ivr":
                    _, route, ext = _pick(rng, _IVR_CHOICES)
                    spec.update(route=route, ext=ext, lead=rng.randint(6, 18))
                elif route == "vip":
                    spec.update(route="ext", caller=CALLERS[1])
        elif kind == "out":
            spec["ext"] = rng.choice(_OUT_EXTS)
            area = rng.choice((212, 310, 415, 555, 617, 646, 718, 800, 917))
            number = "%d%03d%04d" % (area, rng.randint(200, 999), rng.randint(0, 9999))
            spec["number"] = ("1" + number) if rng.random() < 0.4 else number
            spec["disposition"] = rng.choices(["ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION"],
                                              weights=[65, 15, 10, 5, 5])[0]
        else:
            src = rng.choice(_INT_EXTS)
            spec["ext"] = src
            if rng.random() < 0.12 and EXTENSIONS_BY_NUMBER[src]["voicemail"]:
                spec["dst"] = "*97"
            else:
                spec["dst"] = rng.choice([x for x in _INT_EXTS if x != src])
        specs.append(spec)
    # A few fixed, recent calls that tests can rely on.
    specs += [
        {"kind": "out", "ts": now - 2 * 86400 - 3 * 3600, "seed": 1, "ext": "111", "number": "933",
         "disposition": "ANSWERED", "emergency": True},
        {"kind": "in", "ts": now - 3600, "seed": 2, "caller": CALLERS[0], "did": "5551230101", "route": "ext",
         "ext": "101"},
        {"kind": "out", "ts": now - 1800, "seed": 3, "ext": "102", "number": "2125550147",
         "disposition": "ANSWERED"},
        {"kind": "int", "ts": now - 600, "seed": 4, "ext": "103", "dst": "105"},
    ]
    specs.sort(key=lambda s: s["ts"])
    return specs


def cdr_rows(now: Optional[float] = None) -> List[Dict[str, Any]]:
    """The office's CDR rows (every cdr column) for the 7 days before `now` (default: ANCHOR).

    Deterministic for a given `now` and time zone; the row count is the same
    for every `now`. calldate is a naive local datetime, as Asterisk writes it.
    """
    now_i = _now(now)
    w = _CdrWriter()
    for spec in _call_specs(now_i):
        r = random.Random(spec["seed"])
        {"in": _inbound, "out": _outbound, "int": _internal}[spec["kind"]](w, r, spec["ts"], spec)
    return w.rows
