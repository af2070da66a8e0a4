"""Scale seeding for the benchmark: a FreePBX the size of a busy hosted PBX.

What one call of ``seed()`` lays down (sizes from ``Scale``):

* a throwaway world (``tests.support.dbworld.create_world()``; the caller drops it)
  holding the fixture office's non-extension configuration (settings, admins,
  modules, trunks, routes, IVR, queue, ...) plus, instead of the office's 16
  extensions, ``Scale.extensions`` generated chan_pjsip extensions written the
  way FreePBX writes them: a ``users`` row, a ``devices`` row and the 54 ``sip``
  rows of ``tests.support.office.pjsip_rows`` each; a share with voicemail
  (``users.voicemail='default'``, a voicemail.conf line, a [pbxaliases] line,
  spool folders, a few messages) and a share with a ``findmefollow`` group;
* ``Scale.dids`` inbound routes (``incoming``);
* ``Scale.cdr_rows`` CDR rows over ``Scale.days`` days with realistic traffic:
  45 % inbound (caller numbers from a skewed pool, a DID, ring/no answer ->
  voicemail, IVR -> queue -> member legs), 35 % outbound (10- and 11-digit
  numbers, trunk congestion fail-over), 20 % internal; weekday and
  business-hours skew; legs of one call share a ``linkedid``; a few busy
  extensions and DIDs take most of the traffic. Rows are generated in calldate
  order (as Asterisk writes them) in a child process and bulk loaded with
  ``LOAD DATA LOCAL INFILE`` while the next chunk is generated;
* the AMI peer's state: AstDB for every extension (the keys FreePBX writes),
  ``Scale.hints`` hints with device states and presence, ``Scale.contacts``
  PJSIP contacts, an endpoint per extension.

Speed: the cdr table is loaded without its secondary indexes, which are then
rebuilt in one ALTER TABLE (a sorted bulk build instead of 2,000,000 random
B-tree inserts). The table ends up identical to the reference DDL; ``seed()``
checks that by comparing SHOW CREATE TABLE with a freshly created world.
"""
from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import random
import tempfile
import time
from bisect import bisect
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import MySQLdb

from tests.support import bulkload, dbworld, office

# ---------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------


@dataclass
class Scale:
    extensions: int = 5000
    cdr_rows: int = 2_000_000
    days: int = 365
    dids: int = 200
    hints: int = 1000
    contacts: int = 1000
    vm_share: float = 0.6          # extensions with a voicemail box
    fm_share: float = 0.2          # extensions with a follow-me group
    first_extension: int = 1000

    @classmethod
    def full(cls) -> "Scale":
        return cls()

    @classmethod
    def quick(cls) -> "Scale":
        return cls(extensions=1000, cdr_rows=200_000, dids=100, hints=300, contacts=300)

    @classmethod
    def tiny(cls) -> "Scale":
        return cls(extensions=50, cdr_rows=2000, days=30, dids=10, hints=30, contacts=30)


@dataclass
class Seeded:
    world: Any
    scale: Scale
    now: int
    exts: List[Dict[str, Any]]
    dids: List[Dict[str, Any]]
    peer_state: Dict[str, Any]
    timings: Dict[str, float] = field(default_factory=dict)
    cdr_count: int = 0
    cdr_method: str = ""
    notes: List[str] = field(default_factory=list)


FIRST = ("Alice", "Bob", "Carol", "David", "Emma", "Frank", "Grace", "Henry", "Isabel", "Jack", "Karen", "Liam",
         "Maria", "Noah", "Olivia", "Peter", "Quinn", "Rosa", "Sam", "Tina", "Umar", "Vera", "Walter", "Xenia",
         "Yusuf", "Zoe", "Ahmed", "Beatriz", "Chen", "Dmitri", "Elena", "Fatima", "Giorgio", "Hana", "Ivan",
         "Julia", "Kenji", "Lucia", "Mateo", "Nadia")
LAST = ("Johnson", "Smith", "White", "Brown", "Davis", "Miller", "Wilson", "Moore", "Garcia", "Taylor",
        "Anderson", "Thomas", "Jackson", "Martin", "Lee", "Perez", "Thompson", "Harris", "Clark", "Lewis",
        "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
        "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter")
DOMAIN = "bench.example"


# ---------------------------------------------------------------------------
# Extensions, DIDs, config rows
# ---------------------------------------------------------------------------

def make_extensions(scale: Scale) -> List[Dict[str, Any]]:
    """The generated extensions (a deterministic mix), in the shape office.pjsip_rows wants."""
    r = random.Random(7001)
    out = []
    n_vm = int(round(scale.extensions * scale.vm_share))
    n_fm = int(round(scale.extensions * scale.fm_share))
    vm_set = set(r.sample(range(scale.extensions), n_vm))
    fm_set = set(r.sample(range(scale.extensions), n_fm))
    for i in range(scale.extensions):
        number = str(scale.first_extension + i)
        name = "%s %s" % (FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)])
        vm = i in vm_set
        fm = i in fm_set
        e = {
            "number": number, "name": name, "tech": "pjsip",
            "secret": hashlib.md5(("bench-sip-" + number).encode()).hexdigest()[:32],
            "sip_callerid": "%s <%s>" % (name, number),
            "max_contacts": "3" if i % 10 == 3 else "1",
            "voicemail": vm,
            "vm_password": "%04d" % (1000 + (i * 37) % 9000) if vm else None,
            "email": "%s.%s@%s" % (name.split()[0].lower(), number, DOMAIN) if vm else None,
            "vm_options": (("attach", "yes"), ("saycid", "no"), ("envelope", "no"), ("delete", "no")),
            "outboundcid": '"%s" <555%07d>' % (name, 2000000 + i) if i % 4 == 0 else "",
            "emergency_cid": "555%07d" % (2000000 + i) if i % 25 == 0 else "",
            "ringtimer": 0 if i % 7 else 25,
            "followme": fm,
            "followme_enabled": fm and i % 2 == 0,
            "followme_grplist": ("%s-555%07d#" % (number, 8000000 + i)) if fm else None,
            "followme_strategy": "ringallv2-prim",
            "followme_grptime": 20,
            "followme_prering": 7,
            "followme_postdest": "ext-local,%s,dest" % number,
            "callwaiting": i % 9 != 0,
            "dnd": i % 33 == 0,
        }
        out.append(e)
    return out


def make_dids(scale: Scale, exts: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Inbound routes: two main numbers to the office IVR/queue, the rest direct to extensions."""
    r = random.Random(7002)
    dids = []
    for k in range(scale.dids):
        number = "555%07d" % (3000000 + k)
        if k == 0:
            dest, desc = "ivr-1,s,1", "Main Number"
        elif k == 1:
            dest, desc = "ext-queues,400,1", "Support Line"
        else:
            e = exts[r.randrange(len(exts))]
            dest, desc = "from-did-direct,%s,1" % e["number"], "%s Direct" % e["name"]
        dids.append(office.did_row(number, dest, desc))
    return dids


def config_tables(exts: List[Dict[str, Any]], dids: List[Dict[str, Any]]) -> Dict[str, List[Dict[str, Any]]]:
    """Rows per config table: the office's, with its extensions and DIDs replaced by the generated ones."""
    t = office.config_rows()
    t["sip"] = [row for row in t["sip"] if str(row["id"]).startswith("tr-")]  # keep only trunk rows
    t["users"], t["devices"], t["findmefollow"] = [], [], []
    for e in exts:
        t["users"].append({
            "extension": e["number"], "password": "", "name": e["name"],
            "voicemail": office.VM_CONTEXT if e["voicemail"] else "novm", "ringtimer": e["ringtimer"],
            "noanswer": "", "recording": "", "outboundcid": e["outboundcid"], "sipname": "",
            "noanswer_cid": "", "busy_cid": "", "chanunavail_cid": "", "noanswer_dest": "", "busy_dest": "",
            "chanunavail_dest": ""})
        t["devices"].append({"id": e["number"], "tech": "pjsip", "dial": "PJSIP/" + e["number"],
                             "devicetype": "fixed", "user": e["number"], "description": e["name"],
                             "emergency_cid": e["emergency_cid"], "hint_override": None})
        t["sip"].extend({"id": i, "keyword": k, "data": d, "flags": f} for i, k, d, f in office.pjsip_rows(e))
        if e["followme"]:
            t["findmefollow"].append({
                "grpnum": e["number"], "strategy": e["followme_strategy"], "grptime": e["followme_grptime"],
                "grppre": "", "grplist": e["followme_grplist"], "annmsg_id": None,
                "postdest": e["followme_postdest"], "dring": "", "rvolume": "", "remotealert_id": None,
                "needsconf": "", "toolate_id": None, "pre_ring": e["followme_prering"], "ringing": "Ring",
                "calendar_enable": 0, "calendar_id": "", "calendar_group_id": "", "calendar_match": "yes"})
    t["incoming"] = [dict(d) for d in dids]
    return t


def insert_tables(conn, tables: Dict[str, List[Dict[str, Any]]], batch: int = 5000) -> int:
    """Multi-row INSERTs (mysqlclient rewrites executemany into one INSERT per batch)."""
    cur = conn.cursor()
    n = 0
    for table, rows in tables.items():
        if not rows:
            continue
        cols = list(rows[0])
        sql = "INSERT INTO `%s` (%s) VALUES (%s)" % (table, ", ".join("`%s`" % c for c in cols),
                                                    ", ".join(["%s"] * len(cols)))
        values = [tuple(r[c] for c in cols) for r in rows]
        for i in range(0, len(values), batch):
            cur.executemany(sql, values[i:i + batch])
        n += len(values)
    conn.commit()
    return n


# ---------------------------------------------------------------------------
# voicemail.conf and the spool
# ---------------------------------------------------------------------------

def vm_line(e: Dict[str, Any]) -> str:
    return "%s=%s,%s,%s,%s,%s" % (e["number"], e["vm_password"], e["name"].replace(",", ""),
                                  e["email"].replace(",", "|"), "", "|".join("%s=%s" % kv for kv in e["vm_options"]))


def voicemail_conf(exts: List[Dict[str, Any]]) -> str:
    """The office's voicemail.conf ([general], [zonemessages]) with the generated boxes."""
    head = office.voicemail_conf().split("\n[default]\n", 1)[0]
    boxes = [e for e in exts if e["voicemail"]]
    out = [head, "", "[default]"] + [vm_line(e) for e in boxes]
    out += ["", "[pbxaliases]"] + ["%s@device=%s@%s" % (e["number"], e["number"], office.VM_CONTEXT) for e in boxes]
    return "\n".join(out) + "\n\n"


def build_spool(base: Path, exts: List[Dict[str, Any]], now: int) -> int:
    """INBOX/Old for every box; every 10th box holds two new and one old message. Returns files written."""
    wav = office.wav_pcm(seconds=0.2)
    files = 0
    boxes = [e for e in exts if e["voicemail"]]
    for j, e in enumerate(boxes):
        for folder in ("INBOX", "Old"):
            (base / office.VM_CONTEXT / e["number"] / folder).mkdir(parents=True, exist_ok=True)
        if j % 10:
            continue
        for k, (folder, stem, age) in enumerate((("INBOX", "msg0000", 3600), ("INBOX", "msg0001", 1800),
                                                ("Old", "msg0000", 86400))):
            origtime = now - age - j
            m = {"box": e["number"], "callerid": '"CALLER" <555%07d>' % (9000000 + j), "origtime": origtime,
                 "callerchan": "PJSIP/carrier_primary-%08x" % (j * 3 + k), "origdate": office.vm_origdate(origtime),
                 "msg_id": "%d-%08x" % (origtime, j * 3 + k), "flag": "", "duration": 5 + k}
            d = base / office.VM_CONTEXT / e["number"] / folder
            (d / (stem + ".txt")).write_text(office.message_txt(m))
            (d / (stem + ".wav")).write_bytes(wav)
            files += 2
    return files


# ---------------------------------------------------------------------------
# AMI peer state
# ---------------------------------------------------------------------------

def astdb(exts: List[Dict[str, Any]]) -> Dict[str, str]:
    """AstDB keys FreePBX keeps per extension (WRITES §1.5, §1.8), as office.astdb() lays them out."""
    s = office.SETTINGS
    db: Dict[str, str] = {}
    for e in exts:
        n = e["number"]
        u = "/AMPUSER/%s/" % n
        db.update({
            u + "cwtone": "disabled", u + "accountcode": "", u + "rvolume": "", u + "password": "",
            u + "ringtimer": str(e["ringtimer"]), u + "cfringtimer": s["CFRINGTIMERDEFAULT"],
            u + "concurrency_limit": s["CONCURRENCYLIMITDEFAULT"], u + "noanswer": "", u + "recording": "",
            u + "outboundcid": e["outboundcid"], u + "cidname": e["name"], u + "cidnum": n,
            u + "voicemail": office.VM_CONTEXT if e["voicemail"] else "novm", u + "answermode": "disabled",
            u + "intercom": "enabled", u + "recording/in/external": "dontcare",
            u + "recording/out/external": "dontcare", u + "recording/in/internal": "dontcare",
            u + "recording/out/internal": "dontcare", u + "recording/ondemand": "disabled",
            u + "recording/priority": "10", u + "device": n,
            u + "hint": "PJSIP/%s&Custom:DND%s,CustomPresence:%s" % (n, n, n),
        })
        if e["callwaiting"]:
            db["/CW/%s" % n] = "ENABLED"
        if e["dnd"]:
            db["/DND/%s" % n] = "YES"
            db["/CustomDevstate/DND%s" % n] = "BUSY"
        d = "/DEVICE/%s/" % n
        db.update({d + "user": n, d + "tech": "pjsip", d + "dial": "PJSIP/" + n, d + "type": "fixed",
                   d + "default_user": n})
        if e["emergency_cid"]:
            db[d + "emergency_cid"] = e["emergency_cid"]
        db["/CustomPresence/%s" % n] = "available,,"
        if e["followme"]:
            f = u + "followme/"
            db.update({
                f + "strategy": e["followme_strategy"], f + "prering": str(e["followme_prering"]),
                f + "grptime": str(e["followme_grptime"]), f + "grplist": e["followme_grplist"], f + "grppre": "",
                f + "rvolume": "", f + "dring": "", f + "annmsg": "", f + "remotealertmsg": "",
                f + "toolatemsg": "", f + "postdest": e["followme_postdest"], f + "ringing": "Ring",
                f + "grpconf": "DISABLED", f + "ddial": "DIRECT" if e["followme_enabled"] else "EXTENSION",
                f + "changecid": "default", f + "fixedcid": ""})
            db["/CustomDevstate/FOLLOWME%s" % n] = "BUSY" if e["followme_enabled"] else "NOT_INUSE"
    return db


def peer_state(exts: List[Dict[str, Any]], scale: Scale, now: int) -> Dict[str, Any]:
    """State for AmiPeer.load_state: hints/states/presence for the first ``hints``
    extensions, one registered contact for each of the first ``contacts``, an
    endpoint for every extension (as Asterisk lists every configured one)."""
    r = random.Random(7003)
    hints, states, presence, endpoints, contacts = {}, {}, {}, {}, {}
    agents = ("Yealink SIP-T46U 108.86.0.45", "Yealink SIP-T54W 96.86.0.70", "PolycomVVX-VVX_450-UA/6.4.3.5018",
              "Grandstream GXP2170 1.0.11.6", "Z 5.6.1 v2.10.20.3", "Cisco/SPA504G-7.6.2c")
    for i, e in enumerate(exts):
        n = e["number"]
        registered = i < scale.contacts
        if i < scale.hints:
            hints[n] = {"context": "from-internal", "hint": "PJSIP/%s&Custom:DND%s,CustomPresence:%s" % (n, n, n)}
            if not registered:
                states["PJSIP/" + n] = "UNAVAILABLE"
            else:
                states["PJSIP/" + n] = r.choices(("NOT_INUSE", "INUSE", "RINGING", "ONHOLD"), (80, 14, 4, 2))[0]
            if e["dnd"]:
                states["Custom:DND" + n] = "BUSY"
            p = r.choices((("available", "", ""), ("away", "lunch", "Back at two"), ("dnd", "", ""),
                           ("xa", "", "On leave")), (85, 8, 5, 2))[0]
            presence["CustomPresence:" + n] = {"state": p[0], "subtype": p[1], "message": p[2]}
        mailboxes = "%s@%s" % (n, office.VM_CONTEXT) if e["voicemail"] else "%s@device" % n
        cl = []
        if registered:
            ip = "10.%d.%d.%d" % (1 + i // 62500, (i // 250) % 250, i % 250 + 1)
            port = 5060 if i % 3 else 40000 + i % 20000
            cl.append({"uri": "sip:%s@%s:%d" % (n, ip, port), "via_addr": ip, "via_port": port,
                       "user_agent": agents[i % len(agents)], "status": "Reachable",
                       "roundtrip_usec": 1500 + (i * 7919) % 30000, "expiration_time": now + 300 + (i * 37) % 3300,
                       "call_id": "%s@%s" % (hashlib.md5(("c-%s" % n).encode()).hexdigest()[:16], ip),
                       "qualify_frequency": 60})
            contacts[n] = cl
        endpoints[n] = {
            "device_state": "Not in use" if registered else "Unavailable",
            "contacts": [c["uri"] for c in cl], "auth": "%s-auth" % n, "aors": n, "password": e["secret"],
            "callerid": "%s <%s>" % (e["name"], n), "context": "from-internal", "mailboxes": mailboxes,
            "transport": "",
            "aor": {"max_contacts": int(e["max_contacts"]), "remove_existing": e["max_contacts"] == "1",
                    "mailboxes": mailboxes, "qualify_frequency": 60, "minimum_expiration": 60,
                    "maximum_expiration": 7200}}
    for key, value in astdb(exts).items():
        if key.startswith("/CustomDevstate/FOLLOWME"):
            states["Custom:" + key.split("/", 2)[2]] = value
    return {"hints": hints, "device_states": states, "presence": presence, "pjsip_endpoints": endpoints,
            "pjsip_contacts": contacts, "astdb": astdb(exts)}


# ---------------------------------------------------------------------------
# CDR
# ---------------------------------------------------------------------------

# Share of a weekday's calls per hour (business-hours skew, lunch dip).
HOUR_WEIGHTS = (0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 0.8, 2.5, 6, 9, 10, 9.5, 6.5, 8, 9.5, 9, 7.5, 5, 2.5, 1.5, 1, 0.8,
                0.5, 0.3)


def _skewed_index(r: random.Random, n: int, power: float = 2.2) -> int:
    """0..n-1, heavily favouring low indexes (a few busy extensions/DIDs/callers)."""
    return min(n - 1, int(n * (r.random() ** power)))


class CdrGen:
    """Rows in calldate order as tab-separated lines (LOAD DATA's default format)."""

    def __init__(self, exts: List[Dict[str, Any]], dids: List[Dict[str, Any]], now: int, days: int, seed: int):
        self.r = random.Random(seed)
        self.exts = [(e["number"], e["name"], e["voicemail"]) for e in exts]
        self.dids = [(d["extension"], d["destination"]) for d in dids]
        self.now = now
        self.days = days
        self.counter = 1000
        self.sequence = 5000
        r = random.Random(seed + 1)
        # 20,000 outside numbers the PBX talks to again and again (NANP-shaped).
        self.callers = ["%d%03d%04d" % (r.choice((212, 305, 310, 415, 512, 555, 617, 646, 702, 718, 917)),
                                        r.randint(200, 999), r.randint(0, 9999)) for _ in range(20000)]
        self.cnames = ("WIRELESS CALLER", "SMITH JOHN", "ACME SUPPLY CO", "", "GARCIA MARIA", "NGUYEN T",
                       "UNKNOWN", "BLUE CROSS", "PATEL R", "TOLL FREE CALL", "CITY OF BAYVIEW", "LEE K")
        self.cum_hours = list(accumulate(HOUR_WEIGHTS))

    # -- one call ----------------------------------------------------------
    def _chan(self, peer: str, ts: int) -> Tuple[str, str]:
        self.counter += 1
        return "%s-%08x" % (peer, self.counter), "%d.%d" % (ts, self.counter)

    def _row(self, out: List[str], date: str, clid, src, dst, dcontext, channel, dstchannel, lastapp, lastdata,
             duration, billsec, disposition, uniqueid, did, recordingfile, cnum, cnam, ocnum, ocnam, dst_cnam,
             linkedid) -> None:
        self.sequence += 1
        out.append("\t".join((date, clid, src, dst, dcontext, channel, dstchannel, lastapp, lastdata, str(duration),
                              str(billsec), disposition, "3", "", uniqueid, "", did, recordingfile, cnum, cnam,
                              ocnum, ocnam, dst_cnam, linkedid, "", str(self.sequence))))

    def _ext(self) -> Tuple[str, str, bool]:
        return self.exts[_skewed_index(self.r, len(self.exts), 1.8)]

    def call(self, ts: int, out: List[str]) -> None:
        r = self.r
        date = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
        kind = r.random()
        if kind < 0.45:
            self._inbound(ts, date, out)
        elif kind < 0.80:
            self._outbound(ts, date, out)
        else:
            self._internal(ts, date, out)

    def _dial_ext(self, out, ts, date, caller, ext, dcontext, did, record) -> None:
        """Ring one extension: answered, or no answer followed by a voicemail leg."""
        r = self.r
        number, name, has_vm = ext
        clid, src, channel, uid, cnum, cnam = caller
        dchan, _ = self._chan("PJSIP/" + number, ts)
        lastdata = "PJSIP/%s,20,HhtrIb(func-apply-sipheaders^s^1)" % number
        ring = r.randint(3, 18)
        if r.random() < 0.72:
            talk = int(min(3600, r.expovariate(1 / 160.0))) + 3
            rec = ""
            if record and r.random() < 0.15:
                rec = "%s-%s-%s-%s-%s.wav" % (record, number, src, time.strftime("%Y%m%d-%H%M%S", time.localtime(ts)),
                                              uid)
            self._row(out, date, clid, src, number, dcontext, channel, dchan, "Dial", lastdata, ring + talk, talk,
                      "ANSWERED", uid, did, rec, cnum, cnam, "", "", name, uid)
            return
        self._row(out, date, clid, src, number, dcontext, channel, dchan, "Dial", lastdata, 20, 0,
                  r.choice(("NO ANSWER", "NO ANSWER", "NO ANSWER", "BUSY")), uid, did, "", cnum, cnam, "", "", name,
                  uid)
        if has_vm:
            msg = r.randint(4, 60)
            vdate = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts + 20))
            self._row(out, vdate, clid, src, "vmu" + number, "ext-local", channel, "", "VoiceMail",
                      "%s@default,u" % number, msg + 2, msg, "ANSWERED", uid, did, "", cnum, cnam, "", "", name, uid)

    def _inbound(self, ts, date, out) -> None:
        r = self.r
        num = self.callers[_skewed_index(r, len(self.callers), 1.5)] if r.random() < 0.8 else \
            "%d%03d%04d" % (r.randint(201, 989), r.randint(200, 999), r.randint(0, 9999))
        name = self.cnames[int(num) % len(self.cnames)]
        chan, uid = self._chan("PJSIP/carrier_primary", ts)
        clid = '"%s" <%s>' % (name, num) if name else "<%s>" % num
        caller = (clid, num, chan, uid, num, name)
        did, dest = self.dids[_skewed_index(r, len(self.dids), 2.5)]
        if dest.startswith("from-did-direct,"):
            target = dest.split(",")[1]
            self._dial_ext(out, ts, date, caller, self._lookup(target), "from-did-direct", did, "in")
            return
        # Main number: IVR, then a queue whose member answers (two legs, one linkedid), or a hang-up.
        wait = r.randint(5, 120)
        if r.random() < 0.25:
            self._row(out, date, clid, num, "s", "ivr-1", chan, "", "WaitExten", "10,", wait, wait - 1, "ANSWERED",
                      uid, did, "", num, name, "", "", "", uid)
            return
        member = self._ext()
        local, luid = self._chan("Local/%s@from-queue" % member[0], ts + wait)
        talk = int(min(2400, r.expovariate(1 / 200.0))) + 8
        self._row(out, date, clid, num, "400", "ext-queues", chan, local + ";1", "Queue", "400,t,,,300,,,,,",
                  wait + talk, wait + talk - 1, "ANSWERED", uid, did, "", num, name, "", "", "Patient Support", uid)
        mdate = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts + wait))
        mchan, _ = self._chan("PJSIP/" + member[0], ts + wait)
        self._row(out, mdate, clid, num, member[0], "from-queue", local + ";2", mchan, "Dial",
                  "PJSIP/%s,,HhtrIb(func-apply-sipheaders^s^1)" % member[0], talk + 2, talk, "ANSWERED", luid, "", "",
                  num, name, "", "", member[1], uid)

    def _lookup(self, number: str) -> Tuple[str, str, bool]:
        idx = int(number) - int(self.exts[0][0])
        if 0 <= idx < len(self.exts) and self.exts[idx][0] == number:
            return self.exts[idx]
        return (number, "", False)

    def _outbound(self, ts, date, out) -> None:
        r = self.r
        number, name, _ = self._ext()
        chan, uid = self._chan("PJSIP/" + number, ts)
        dest = self.callers[_skewed_index(r, len(self.callers), 1.3)] if r.random() < 0.6 else \
            "%d%03d%04d" % (r.randint(201, 989), r.randint(200, 999), r.randint(0, 9999))
        if r.random() < 0.4:
            dest = "1" + dest
        trunk_number = dest if len(dest) == 11 else "1" + dest
        clid = '"%s" <%s>' % (name, number)
        dchan, _ = self._chan("PJSIP/carrier_primary", ts)
        lastdata = "PJSIP/%s@carrier_primary,300,Tb(func-apply-sipheaders^s^1,(2))" % trunk_number
        ocnum = "5551230100"
        disp = r.random()
        if disp < 0.65:
            talk = int(min(3600, r.expovariate(1 / 180.0))) + 3
            rec = ""
            if r.random() < 0.1:
                rec = "out-%s-%s-%s-%s.wav" % (dest, number, time.strftime("%Y%m%d-%H%M%S", time.localtime(ts)), uid)
            self._row(out, date, clid, number, dest, "from-internal", chan, dchan, "Dial", lastdata,
                      r.randint(3, 25) + talk, talk, "ANSWERED", uid, "", rec, number, name, ocnum, "Bench PBX", "",
                      uid)
        elif disp < 0.70:
            # Primary trunk congested: fail-over leg on the backup trunk (same uniqueid and linkedid).
            self._row(out, date, clid, number, dest, "from-internal", chan, dchan, "Dial", lastdata, 1, 0,
                      "CONGESTION", uid, "", "", number, name, ocnum, "Bench PBX", "", uid)
            bchan, _ = self._chan("SIP/carrier_backup", ts + 1)
            talk = int(min(1200, r.expovariate(1 / 120.0))) + 3
            bdate = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts + 1))
            self._row(out, bdate, clid, number, dest, "from-internal", chan, bchan, "Dial",
                      "SIP/carrier_backup/%s,300,T" % trunk_number, r.randint(3, 25) + talk, talk, "ANSWERED", uid,
                      "", "", number, name, ocnum, "Bench PBX", "", uid)
        else:
            d = r.choices(("NO ANSWER", "BUSY", "FAILED"), (15, 10, 5))[0]
            self._row(out, date, clid, number, dest, "from-internal", chan, dchan, "Dial", lastdata,
                      {"NO ANSWER": 45, "BUSY": 4, "FAILED": 1}[d], 0, d, uid, "", "", number, name, ocnum,
                      "Bench PBX", "", uid)

    def _internal(self, ts, date, out) -> None:
        r = self.r
        src = self._ext()
        chan, uid = self._chan("PJSIP/" + src[0], ts)
        clid = '"%s" <%s>' % (src[1], src[0])
        if src[2] and r.random() < 0.1:
            t = r.randint(15, 120)
            self._row(out, date, clid, src[0], "*97", "from-internal", chan, "", "VoiceMailMain",
                      "%s@default" % src[0], t, t, "ANSWERED", uid, "", "", src[0], src[1], "", "", "", uid)
            return
        dst = self._ext()
        if dst[0] == src[0]:
            dst = self.exts[(self.exts.index(dst) + 1) % len(self.exts)]
        self._dial_ext(out, ts, date, (clid, src[0], chan, uid, src[0], src[1]), dst, "from-internal", "",
                       "internal")

    # -- a whole day -------------------------------------------------------------
    def day_weights(self) -> List[float]:
        midnight = office.local_midnight(self.now)
        out = []
        for d in range(self.days, 0, -1):  # oldest first
            wday = time.localtime(midnight - d * 86400 + 43200).tm_wday
            out.append(1.0 if wday < 5 else (0.2 if wday == 5 else 0.1))
        return out

    def day(self, days_back: int, rows_wanted: int, out: List[str]) -> int:
        """Append about ``rows_wanted`` rows of the day ``days_back`` days ago, in time order."""
        midnight = office.local_midnight(self.now) - days_back * 86400
        r = self.r
        calls = max(1, int(rows_wanted / 1.35))
        hours = self.cum_hours
        total = hours[-1]
        times = sorted(midnight + bisect(hours, r.random() * total) * 3600 + r.randrange(3600)
                       for _ in range(calls))
        start = len(out)
        for ts in times:
            if len(out) - start >= rows_wanted:
                break
            self.call(ts, out)
        while len(out) - start < rows_wanted:  # top up with late calls, still in order
            self.call(midnight + 86399 - r.randrange(60), out)
        del out[start + rows_wanted:]
        return rows_wanted


def _day_budgets(total: int, weights: List[float]) -> List[int]:
    w = sum(weights)
    budgets = [int(total * x / w) for x in weights]
    budgets[-1] += total - sum(budgets)  # exact total
    return budgets


def _generate_chunks(exts, dids, now, days, total, chunk_rows, outdir, queue) -> None:
    """Child process: write TSV chunk files and announce each on ``queue``; None ends."""
    try:
        gen = CdrGen(exts, dids, now, days, seed=20240611)
        budgets = _day_budgets(total, gen.day_weights())
        buf: List[str] = []
        k = 0
        for i, rows in enumerate(budgets):
            gen.day(days - i, rows, buf)
            if len(buf) >= chunk_rows or i == len(budgets) - 1:
                path = os.path.join(outdir, "cdr-%04d.tsv" % k)
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write("\n".join(buf))
                    fh.write("\n")
                queue.put((path, len(buf)))
                buf = []
                k += 1
        queue.put(None)
    except BaseException as exc:  # the parent must not wait forever
        queue.put(("error", repr(exc)))
        raise


def load_cdr(world, exts, dids, scale: Scale, now: int, log: Callable[[str], None] = print) -> Tuple[int, str]:
    """Generate and bulk-load the CDR rows; returns (rows in the table, method used)."""
    conn = MySQLdb.connect(db=world.cdr_db, local_infile=1, **dbworld.server_args())
    cur = conn.cursor()
    cur.execute("SELECT @@GLOBAL.local_infile")
    local_infile = str(cur.fetchone()[0]) in ("1", "ON")
    big = scale.cdr_rows >= 100_000
    method = "LOAD DATA LOCAL INFILE" if local_infile else "executemany (multi-row INSERT, 2000 rows)"
    t0 = time.monotonic()
    # Big loads build the indexes afterwards: one sorted pass per index instead of random inserts.
    with bulkload.indexes_built_after(cur, world.cdr_db, "cdr") if big else contextlib.nullcontext():
        _load_generated(conn, cur, exts, dids, scale, now, local_infile, log if big else None)
    if big:
        log("  cdr: loaded and indexed in %.0f s" % (time.monotonic() - t0))
    cur.execute("ANALYZE TABLE cdr")
    cur.fetchall()
    cur.execute("SELECT COUNT(*) FROM cdr")
    count = cur.fetchone()[0]
    conn.close()
    return count, method


def _load_generated(conn, cur, exts, dids, scale: Scale, now: int, local_infile: bool,
                    log: Optional[Callable[[str], None]]) -> None:
    """Rows from a generator process, chunk by chunk (one file each), committed per chunk."""
    tmp = tempfile.mkdtemp(prefix="rfapi-bench-cdr-")
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue(maxsize=2)
    chunk = max(1000, min(200_000, scale.cdr_rows // 10 or 1000))
    proc = ctx.Process(target=_generate_chunks, args=(exts, dids, now, scale.days, scale.cdr_rows, chunk, tmp, q),
                       daemon=True)
    proc.start()
    loaded = 0
    t0 = time.monotonic()
    try:
        while True:
            item = q.get(timeout=600)
            if item is None:
                break
            if item[0] == "error":
                raise RuntimeError("CDR generator failed: %s" % item[1])
            path, n = item
            if local_infile:
                cur.execute("LOAD DATA LOCAL INFILE %s INTO TABLE cdr CHARACTER SET utf8mb4 (" +
                            ", ".join(office.CDR_COLUMNS) + ")", (path,))
            else:
                with open(path, encoding="utf-8") as fh:
                    rows = [line.rstrip("\n").split("\t") for line in fh]
                sql = "INSERT INTO cdr (%s) VALUES (%s)" % (", ".join(office.CDR_COLUMNS),
                                                            ", ".join(["%s"] * len(office.CDR_COLUMNS)))
                for i in range(0, len(rows), 2000):
                    cur.executemany(sql, rows[i:i + 2000])
            conn.commit()
            os.unlink(path)
            loaded += n
            if log:
                log("  cdr: %9d rows loaded (%.0f s)" % (loaded, time.monotonic() - t0))
    finally:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.terminate()
        for f in Path(tmp).glob("*"):
            f.unlink()
        os.rmdir(tmp)


# ---------------------------------------------------------------------------
# Everything
# ---------------------------------------------------------------------------

def seed(scale: Scale, root: Path, log: Callable[[str], None] = print, world=None) -> Seeded:
    """Create (unless given) and fill a world, voicemail.conf and the spool under ``root``.

    The caller owns the world and must drop it (``dbworld.drop_world``), also on errors:
    on an exception here the world created here is dropped before re-raising."""
    now = int(time.time())
    own = world is None
    t_all = time.monotonic()
    if own:
        world = dbworld.create_world()
    try:
        exts = make_extensions(scale)
        dids = make_dids(scale, exts)
        s = Seeded(world=world, scale=scale, now=now, exts=exts, dids=dids, peer_state={})
        t = time.monotonic()
        conn = MySQLdb.connect(db=world.config_db, **dbworld.server_args())
        n = insert_tables(conn, config_tables(exts, dids))
        conn.close()
        s.timings["config_rows"] = time.monotonic() - t
        log("seed: %d config rows (%d extensions x 54 sip rows, %d DIDs) in %.1f s"
            % (n, len(exts), len(dids), s.timings["config_rows"]))
        t = time.monotonic()
        spool = root / "spool" / "voicemail"
        spool.mkdir(parents=True, exist_ok=True)
        files = build_spool(spool, exts, now)
        etc = root / "etc" / "asterisk"
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "voicemail.conf").write_text(voicemail_conf(exts))
        sounds = root / "sounds"
        office.build_sounds(str(sounds))
        s.peer_state = peer_state(exts, scale, now)
        s.timings["files_and_peer"] = time.monotonic() - t
        log("seed: voicemail.conf (%d boxes), spool (%d files), AstDB (%d keys) in %.1f s"
            % (sum(1 for e in exts if e["voicemail"]), files, len(s.peer_state["astdb"]),
               s.timings["files_and_peer"]))
        t = time.monotonic()
        s.cdr_count, s.cdr_method = load_cdr(world, exts, dids, scale, now, log)
        s.timings["cdr"] = time.monotonic() - t
        log("seed: %d CDR rows over %d days (%s) in %.1f s" % (s.cdr_count, scale.days, s.cdr_method,
                                                                s.timings["cdr"]))
        s.timings["total"] = time.monotonic() - t_all
        return s
    except BaseException:
        if own:
            dbworld.drop_world(world)
        raise
