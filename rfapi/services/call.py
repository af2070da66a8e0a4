"""Click-to-call: ring the caller's own phone first, then (once it is answered)
let FreePBX's internal dialplan dial the destination.

The AMI exchange is an async Originate (AMI.md "Async Originate"):

    Action: Originate
    Channel: PJSIP/101                 devices.dial of the caller's device
    Context: from-internal             FreePBX's internal context: outbound routes,
    Exten: <dest>                      caller ID and recording rules apply to leg 2
    Priority: 1
    CallerID: "<dest>" <dest>          what the caller's phone shows while it rings
    Timeout: <ring time in ms>
    Variable: __REALCALLERIDNUM=101    who is really calling (see below)
    Variable: ...autoanswer headers... (only with autoanswer)
    Async: true

Why __REALCALLERIDNUM: the CallerID above is set on the caller's own channel so
the phone displays the number it is about to call. FreePBX's
macro-user-callerid finds the calling user from ``REALCALLERIDNUM`` (it only
falls back to CALLERID(num) when that is empty), then restores the user's own
caller ID before the outbound route runs. Setting it (inherited, as FreePBX
itself does) keeps outbound CID, route permissions and recording tied to the
real extension instead of to the destination number.

Autoanswer headers are set the way each driver expects them on the channel
being originated, and *without* an inheritance prefix so the destination leg
never receives them:
  chan_pjsip: ``PJSIP_HEADER(add,Alert-Info)`` / ``PJSIP_HEADER(add,Call-Info)``
              (a function write, as FreePBX's func-apply-sipheaders does)
  chan_sip:   ``SIPADDHEADER01`` / ``SIPADDHEADER02`` ("Header: value", what the
              SIPAddHeader application stores and chan_sip adds to the INVITE)
with ``Alert-Info: <uri>;info=alert-autoanswer`` and ``Call-Info:
<uri>;answer-after=0`` (``<uri>`` as FreePBX's paging module writes it)."""
from __future__ import annotations

import hmac
import re
from typing import Any, Dict, List, Optional, Tuple

from .. import audit
from ..dao import live as dao
from ..errors import ApiError, BadRequest, Forbidden, NotFound
from ..runtime import runtime

CONTEXT = "from-internal"
ALERT_INFO = "<uri>;info=alert-autoanswer"
CALL_INFO = "<uri>;answer-after=0"
DEFAULT_RING_SECONDS = 15          # FreePBX's "Ringtime Default" when nothing is set
ORIGINATE_DEFAULT_SECONDS = 30     # Asterisk's Originate Timeout when none is given
MAX_WAIT_SECONDS = 60.0
WAIT_MARGIN_SECONDS = 5.0          # OriginateResponse comes right after the ring time
# What a click-to-call may dial. Feature codes (*21 follow-me, *28 call flow
# toggles, *76 DND, ...) and '#' change PBX state as the calling extension, so by
# default only external numbers (E.164 has at most 15 digits; 20 leaves room for
# an international or trunk prefix; 3 is the shortest service number) and the
# PBX's own extensions are dialled. ``[call] allow_feature_codes = yes`` also
# allows digits with * and # (1..20).
DEST_PATTERN = r"\+?[0-9*#]{1,20}"          # the outer form (OpenAPI); the rule is dest_problem()
EXTERNAL = re.compile(r"\+?[0-9]{3,20}")
FEATURE_CODE = re.compile(r"[0-9*#]{1,20}")
DEST_HELP = "must be an external number (3-20 digits, optional leading +) or an extension"

# OriginateResponse Reason (Asterisk's AST_CONTROL_* value of the first leg's outcome).
REASONS = {0: "failed", 1: "hangup", 3: "no answer", 4: "answered", 5: "busy", 8: "congestion"}

# Q.850 causes of the originated channel that name the outcome better than Reason 0.
HANGUP_CAUSES = {17: "busy", 18: "no answer", 19: "no answer", 21: "rejected", 34: "congestion"}

_DIAL = re.compile(r"^(PJSIP|SIP)/[A-Za-z0-9_.+-]+$")


class WrongCallSecret(Forbidden):
    """The caller's SIP secret did not match: the web layer counts it as a failed
    login (same lock-out as Basic auth), so secrets cannot be guessed here."""


def ring_seconds(dev: Dict[str, Any]) -> int:
    """The extension's own ring time, else FreePBX's "Ringtime Default" (RINGTIMER),
    bounded to 5..60 s; 0 means "ring forever" in FreePBX, which an Originate
    cannot do, so Asterisk's own Originate default (30 s) is used then."""
    secs = dev.get("ringtimer") or 0
    if secs <= 0:
        try:
            secs = int(runtime().settings.get("RINGTIMER", str(DEFAULT_RING_SECONDS)))
        except ValueError:
            secs = DEFAULT_RING_SECONDS
    if secs <= 0:
        secs = ORIGINATE_DEFAULT_SECONDS
    return max(5, min(60, secs))


def wait_seconds(ring: int) -> float:
    return min(MAX_WAIT_SECONDS, ring + WAIT_MARGIN_SECONDS)


def autoanswer_variables(tech: str) -> List[str]:
    if tech == "pjsip":
        return ["PJSIP_HEADER(add,Alert-Info)=%s" % ALERT_INFO, "PJSIP_HEADER(add,Call-Info)=%s" % CALL_INFO]
    return ["SIPADDHEADER01=Alert-Info: %s" % ALERT_INFO, "SIPADDHEADER02=Call-Info: %s" % CALL_INFO]


def _caller(ext: str, secret: str) -> Dict[str, Any]:
    db = runtime().db
    dev = dao.device(db, ext)
    if dev is None:
        if dao.user(db, ext) is None:
            raise NotFound("Extension %s not found" % ext)
        raise BadRequest({"ext": "is not a SIP extension (it has no device)"})
    if dev["tech"] not in dao.SIP_TECHS:
        raise BadRequest({"ext": "is not a SIP extension (it is %s)" % (dev["tech"] or "unknown")})
    stored = dao.sip_secret(db, ext) or ""
    # Constant time, and an empty stored secret never matches anything.
    ok = hmac.compare_digest(secret.encode("utf-8"), stored.encode("utf-8")) and stored != ""
    if not ok:
        raise WrongCallSecret("Forbidden: wrong secret for extension %s" % ext)
    if not _DIAL.match(dev["dial"]):
        # Never hand Asterisk a dial string we cannot vouch for (e.g. a multi-device one).
        raise ApiError("Extension %s has no single SIP dial string" % ext, status=409)
    return dev


def originate_headers(dev: Dict[str, Any], dest: str, autoanswer: bool, ring: int) -> List[Tuple[str, str]]:
    headers = [
        ("Channel", dev["dial"]),
        ("Context", CONTEXT),
        ("Exten", dest),
        ("Priority", "1"),
        ("CallerID", '"%s" <%s>' % (dest, dest)),
        ("Timeout", str(ring * 1000)),
        ("Variable", "__REALCALLERIDNUM=%s" % dev["extension"]),
    ]
    if autoanswer:
        headers += [("Variable", v) for v in autoanswer_variables(dev["tech"])]
    headers.append(("Async", "true"))
    return headers


def _refused(resp) -> None:
    text = (resp.get("Message") or "").strip()
    if text == "Extension does not exist.":
        raise BadRequest({"dest": "no extension or route in %s matches this number" % CONTEXT},
                         message="Asterisk refused the call: Extension does not exist.")
    raise ApiError("Asterisk refused the call: %s" % (text or "no reason given"), status=502)


def dest_problem(dest: str) -> Optional[str]:
    """Why ``dest`` may not be dialled (None: it may)."""
    if EXTERNAL.fullmatch(dest):
        return None
    if "*" in dest or "#" in dest:
        if runtime().config.call_allow_feature_codes and FEATURE_CODE.fullmatch(dest):
            return None
        return "feature codes (* and #) are not allowed ([call] allow_feature_codes = no)"
    if dest.isdigit() and len(dest) <= 20 and dao.user(runtime().db, dest) is not None:
        return None  # an extension of this PBX (also a 1-2 digit one)
    return DEST_HELP


def click_to_call(ext: str, secret: str, dest: str, autoanswer: bool = False, wait: bool = False) -> Dict[str, Any]:
    why = dest_problem(dest)
    if why is not None:
        raise BadRequest({"dest": why})
    dev = _caller(ext, secret)
    ring = ring_seconds(dev)
    headers = originate_headers(dev, dest, autoanswer, ring)
    ami = runtime().ami
    data: Dict[str, Any] = {
        "extension": dev["extension"], "channel": dev["dial"], "context": CONTEXT, "exten": dest,
        "priority": 1, "callerid": '"%s" <%s>' % (dest, dest), "ring_seconds": ring,
        "autoanswer": bool(autoanswer), "wait": bool(wait),
    }
    if not wait:
        resp = ami.action("Originate", headers)
        if not resp.ok:
            _refused(resp)
        data.update({"action_id": resp.get("ActionID"), "queued": True, "message": resp.get("Message")})
        audit.record("call.originate", data)
        return data
    waited = wait_seconds(ring)
    resp, event, cause = ami.originate_and_wait(headers, waited)
    if not resp.ok:
        _refused(resp)
    data.update({"action_id": resp.get("ActionID"), "queued": True, "message": resp.get("Message"),
                 "wait_seconds": waited})
    data.update(_outcome(event, cause))
    audit.record("call.originate", data)
    return data


def _outcome(event, cause: Optional[int] = None) -> Dict[str, Any]:
    if event is None:
        # Still ringing (or Asterisk never said): the call goes on regardless.
        return {"answered": None, "reason": None, "reason_text": "no OriginateResponse within the wait",
                "uniqueid": None, "originate_channel": None, "hangup_cause": None}
    try:
        reason: Optional[int] = int(event.get("Reason", ""))
    except ValueError:
        reason = None
    uniqueid = event.get("Uniqueid")
    text = REASONS.get(reason, "unknown") if reason is not None else "unknown"
    if reason == 0 and cause in HANGUP_CAUSES:
        # Asterisk says Reason 0 both for "not reachable" and for a busy phone;
        # the channel's hangup cause tells them apart (AMI.md, busy capture).
        text = HANGUP_CAUSES[cause]
    return {
        "answered": event.get("Response") == "Success" and reason == 4,
        "reason": reason,
        "reason_text": text,
        "hangup_cause": cause,
        "uniqueid": None if uniqueid in (None, "", "<unknown>") else uniqueid,
        "originate_channel": event.get("Channel"),
    }
