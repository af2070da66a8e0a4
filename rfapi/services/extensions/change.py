"""The plan of a PUT /extension/<ext>: validated against the extension as it is,
then FreePBX's writes for each field sent, keeping only real differences."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ...errors import BadRequest, Conflict
from ...text import text
from .. import catalog, extcache, vmconf
from .rows import RECORDING_KEYS, VM_CONTEXT, Op, followme_ops, followme_row
from .validation import CHANSIP_DTMF, PJSIP_DTMF, check_nanp, check_outboundcid

# API parameter -> voicemail.conf option (the form field vmdelete is written as delete, WRITES §1.7)
VM_OPTIONS = (("attach", "attach"), ("saycid", "saycid"), ("envelope", "envelope"), ("vmdelete", "delete"))
VM_FIELDS = ("email", "voicemailpassword") + tuple(p for p, _ in VM_OPTIONS)
DEST_FIELDS = ("noanswer_dest", "busy_dest", "chanunavail_dest")
DEVICE_FIELDS = ("secret", "emergencycid", "dtmfmode", "max_contacts")


class Change:
    """Everything one PUT writes, computed (and compared with what is there) before
    anything is written; only real differences are kept, so an unchanged value
    writes nothing and a PUT of what GET returned is a no-op."""

    def __init__(self, n: str, user: Dict[str, Any], device: Optional[Dict[str, Any]],
                 sip: Dict[str, Tuple[str, int]], fm: Optional[Dict[str, Any]], before: Dict[str, str]):
        self.n = n
        self.cur_user, self.cur_device, self.cur_sip, self.cur_fm = user, device, sip, fm
        self.before = before
        self.user: Dict[str, Any] = {}
        self.device: Dict[str, Any] = {}
        self.sip: Dict[str, str] = {}
        self.fm_create: Optional[Dict[str, Any]] = None
        self.fm_delete = False
        self.fm: Dict[str, Any] = {}
        self.ops: List[Op] = []
        self._astdb = dict(before)  # what AstDB will hold after self.ops
        self.vm_text: Optional[str] = None
        self.vm_edits: List[Tuple[str, str, Optional[str]]] = []  # the same change as vmconf.apply_edits input
        self.changed: List[str] = []
        self._param = ""

    def param(self, name: str) -> None:
        self._param = name

    def _mark(self) -> None:
        if self._param and self._param not in self.changed:
            self.changed.append(self._param)

    def set_user(self, col: str, value: Any) -> None:
        if text(self.cur_user.get(col)) != text(value) or (self.cur_user.get(col) is None and value is not None):
            self.user[col] = value
            self._mark()

    def set_device(self, col: str, value: Any) -> None:
        if self.cur_device is not None and text(self.cur_device.get(col)) != text(value):
            self.device[col] = value
            self._mark()

    def set_sip(self, keyword: str, value: str) -> None:
        cur = self.cur_sip.get(keyword)
        if cur is None or cur[0] != value:
            self.sip[keyword] = value
            self._mark()

    def set_fm(self, col: str, value: Any) -> None:
        if self.fm_create is not None:
            self.fm_create[col] = value
        elif self.cur_fm is not None and text(self.cur_fm.get(col)) != text(value):
            self.fm[col] = value
            self._mark()

    def put(self, family: str, key: str, value: str) -> None:
        full = "/%s/%s" % (family, key)
        if self._astdb.get(full) != value:
            self.ops.append(("put", family, key, value))
            self._astdb[full] = value
            self._mark()

    def dele(self, family: str, key: str) -> None:
        full = "/%s/%s" % (family, key)
        if full in self._astdb:
            self.ops.append(("del", family, key, None))
            del self._astdb[full]
            self._mark()

    def deltree(self, family: str, key: str) -> None:
        full = "/%s/%s" % (family, key)
        doomed = [k for k in self._astdb if k == full or k.startswith(full + "/")]
        if doomed:
            self.ops.append(("deltree", family, key, None))
            for k in doomed:
                del self._astdb[k]
            self._mark()

    def set_vm_text(self, text: str, current: str) -> None:
        if text != (self.vm_text if self.vm_text is not None else current):
            self.vm_text = text
            self._mark()

    def empty(self) -> bool:
        return not self.changed


def _options_of(raw_options: Dict[str, str]) -> List[Tuple[str, str]]:
    return list(raw_options.items())


def plan_update(n: str, p: Dict[str, Any], user: Dict[str, Any], device: Optional[Dict[str, Any]],
                sip: Dict[str, Tuple[str, int]], fm: Optional[Dict[str, Any]], vm_text: str,
                before: Dict[str, str], settings: Dict[str, str], db) -> Change:
    """Validate a PUT against the extension as it is (400 naming every bad field),
    then compute FreePBX's writes for each sent field."""
    errors: Dict[str, str] = {}
    tech = text(device["tech"]) if device else "virtual"
    if "tech" in p and p["tech"] != tech:
        errors["tech"] = ("cannot be changed from %s (devices of each technology have different rows); delete "
                          "and re-create the extension" % tech)
    for f in DEVICE_FIELDS:
        if f in p and device is None:
            errors[f] = "needs a device; a virtual extension has none"
    if "max_contacts" in p and device is not None and tech != "pjsip":
        errors["max_contacts"] = "is a PJSIP setting; this extension is %s" % tech
    if "dtmfmode" in p and device is not None:
        allowed = PJSIP_DTMF if tech == "pjsip" else CHANSIP_DTMF
        if p["dtmfmode"] not in allowed:
            errors["dtmfmode"] = "must be one of: %s for a %s device" % (", ".join(allowed), tech)
    # A new caller ID is checked as on create; the stored one is always accepted as it is
    # (FreePBX's GUI accepts any number), so PUT of what GET returned never fails.
    for f, check, current in (("outboundcid", check_outboundcid, user.get("outboundcid")),
                              ("emergencycid", check_nanp, device.get("emergency_cid") if device else None)):
        if p.get(f) and p[f] != text(current):
            try:
                p[f] = check(p[f])
            except ValueError as exc:
                errors[f] = str(exc)
    for f in DEST_FIELDS:
        if p.get(f) and not catalog.destination_exists(p[f], db):
            errors[f] = "is not a destination that exists on this PBX (see /pbx/framework/destinations)"

    cur_vm = extcache._vm_enabled(text(user.get("voicemail")))
    want_vm = p.get("voicemail", cur_vm)
    contexts = vmconf.find_mailbox(vm_text, n)
    cur_ctx = text(user.get("voicemail")) if cur_vm else ""
    box_ctx = cur_ctx if cur_ctx in contexts else (contexts[0] if contexts else None)
    creating_vm = want_vm and (not cur_vm or box_ctx is None)
    if want_vm and not cur_vm and contexts:
        raise Conflict("voicemail.conf already has a mailbox %s (in [%s]); remove it first"
                       % (n, ", ".join(contexts)), data={"number": n, "contexts": contexts})
    if creating_vm and not p.get("voicemailpassword"):
        errors["voicemailpassword"] = ("is required to enable voicemail" if not cur_vm else
                                       "is required: mailbox %s is missing from voicemail.conf" % n)
    if not want_vm:
        for f in VM_FIELDS:
            if f in p and not (f == "email" and p[f] == ""):
                errors[f] = "is only used with voicemail (send voicemail=yes to enable it)"
    cur_fm = fm is not None
    want_fm = p.get("followme", cur_fm)
    if "followmegrptime" in p and not want_fm:
        errors["followmegrptime"] = "is only used with followme=yes"
    if errors:
        raise BadRequest(errors)

    ch = Change(n, user, device, sip, fm, before)
    u = n + "/"
    raw_name = p.get("displayname")
    if raw_name is not None:
        # Core::addUser (users.name with < > as ( ), AMPUSER cidname as given), addDevice
        # (devices.description), the device's callerid row, the mailbox's name.
        ch.param("displayname")
        users_name = raw_name.replace("<", "(").replace(">", ")")
        ch.set_user("name", users_name)
        ch.set_device("description", raw_name)
        if "callerid" in sip:
            ch.set_sip("callerid", "%s <%s>" % (users_name, n))
        ch.put("AMPUSER", u + "cidname", raw_name)
    if "secret" in p:
        ch.param("secret")
        ch.set_sip("secret", p["secret"])
    if "outboundcid" in p:
        ch.param("outboundcid")
        ch.set_user("outboundcid", p["outboundcid"])
        ch.put("AMPUSER", u + "outboundcid", p["outboundcid"])
    if "emergencycid" in p:
        ch.param("emergencycid")
        ch.set_device("emergency_cid", p["emergencycid"])
        if p["emergencycid"]:
            ch.put("DEVICE", u + "emergency_cid", p["emergencycid"])
        else:
            ch.dele("DEVICE", u + "emergency_cid")
    if "ringtimer" in p:
        ch.param("ringtimer")
        ch.set_user("ringtimer", int(p["ringtimer"]))
        ch.put("AMPUSER", u + "ringtimer", str(int(p["ringtimer"])))
    if "callwaiting" in p:
        ch.param("callwaiting")
        if p["callwaiting"] == "enabled":
            ch.put("CW", n, "ENABLED")
        else:
            ch.dele("CW", n)
    if "max_contacts" in p:
        ch.param("max_contacts")
        ch.set_sip("max_contacts", str(p["max_contacts"]))
        if int(p["max_contacts"]) == 1:
            ch.set_sip("remove_existing", "yes")  # addDevice forces it for a single contact
    if "dtmfmode" in p:
        ch.param("dtmfmode")
        ch.set_sip("dtmfmode", p["dtmfmode"])
    for f in DEST_FIELDS:
        if f in p:
            ch.param(f)
            ch.set_user(f, p[f])
    for param, key in RECORDING_KEYS:
        if param in p:
            ch.param(param)
            ch.put("AMPUSER", u + key, p[param])
    if "recOndemand" in p:
        ch.param("recOndemand")
        ch.put("AMPUSER", u + "recording/ondemand", p["recOndemand"])
    if "recPriority" in p:
        ch.param("recPriority")
        ch.put("AMPUSER", u + "recording/priority", str(int(p["recPriority"])))

    _plan_voicemail(ch, n, p, user, device, vm_text, before, cur_vm, want_vm, creating_vm, box_ctx, contexts)
    _plan_followme(ch, n, p, settings, cur_fm, want_fm, before)
    return ch


def _display_name(p: Dict[str, Any], user: Dict[str, Any], device: Optional[Dict[str, Any]],
                  before: Dict[str, str], n: str) -> str:
    if p.get("displayname") is not None:
        return p["displayname"]
    if device is not None and text(device.get("description")):
        return text(device.get("description"))
    return before.get("/AMPUSER/%s/cidname" % n) or text(user.get("name"))


def _plan_voicemail(ch: Change, n: str, p: Dict[str, Any], user, device, vm_text: str, before,
                    cur_vm: bool, want_vm: bool, creating_vm: bool, box_ctx: Optional[str],
                    contexts: List[str]) -> None:
    u = n + "/"
    if "voicemail" in p:
        ch.param("voicemail")
    if creating_vm:
        # Voicemail::addMailbox (the Quick Create options, as create writes them, unless sent),
        # users.voicemail / AMPUSER voicemail = the context, mapMailBox, novmpw (passlogin=no).
        options = [(opt, ("yes" if p[param] else "no") if param in p else "no") for param, opt in VM_OPTIONS]
        line = vmconf.mailbox_line(n, p["voicemailpassword"], _display_name(p, user, device, before, n),
                                   p.get("email") or "", "", options)
        text = vmconf.set_entry(vm_text, VM_CONTEXT, n, line)
        ch.vm_edits.append((VM_CONTEXT, n, line))
        if vmconf.has_section(vm_text, "pbxaliases"):  # (the text as read: its parse is cached)
            alias = "%s@device=%s@%s" % (n, n, VM_CONTEXT)
            text = vmconf.set_entry(text, "pbxaliases", "%s@device" % n, alias)
            ch.vm_edits.append(("pbxaliases", "%s@device" % n, alias))
        ch.set_vm_text(text, vm_text)
        ch.set_user("voicemail", VM_CONTEXT)
        ch.put("AMPUSER", u + "voicemail", VM_CONTEXT)
        if not cur_vm:
            ch.put("AMPUSER", u + "novmpw", "yes")
            ch.dele("AMPUSER", u + "novmstar")
        return
    if cur_vm and not want_vm:
        # Voicemail::delMailbox (the line and the vmmapping alias) and users.voicemail=novm.
        # The spool folder (messages, greetings) is kept: DELETE /extension/<ext> with
        # deletevoicemail=yes is the way to destroy messages.
        text = vm_text
        for ctx in contexts:
            text, _ = vmconf.remove_entry(text, ctx, n)
            ch.vm_edits.append((ctx, n, None))
        text, _ = vmconf.remove_entry(text, "pbxaliases", "%s@device" % n)
        ch.vm_edits.append(("pbxaliases", "%s@device" % n, None))
        ch.set_vm_text(text, vm_text)
        ch.set_user("voicemail", "novm")
        ch.put("AMPUSER", u + "voicemail", "novm")
        return
    if not want_vm or box_ctx is None:
        return
    # Mailbox kept: rewrite its line only if one of its fields changes.
    boxes = vmconf.mailboxes(vm_text)
    cur = boxes[box_ctx][n]
    pin, name, email, pager = cur["pwd"], cur["name"], cur["email"], cur["pager"]
    options = dict(cur["options"])
    for f in ("email", "voicemailpassword") + tuple(pp for pp, _ in VM_OPTIONS) + ("displayname",):
        if f not in p:
            continue
        ch.param(f)
        if f == "email":
            email = p["email"]
        elif f == "voicemailpassword":
            pin = p["voicemailpassword"]
        elif f == "displayname":
            name = p["displayname"].replace(",", "")
        else:
            options[dict(VM_OPTIONS)[f]] = "yes" if p[f] else "no"
        new = vmconf.mailbox_line(n, pin, name, email, pager, _options_of(options))
        if vmconf.parse_mailbox(new.split("=", 1)[1]) != cur:
            ch.set_vm_text(vmconf.set_entry(vm_text, box_ctx, n, new), vm_text)
            ch.vm_edits[:] = [(box_ctx, n, new)]


def _plan_followme(ch: Change, n: str, p: Dict[str, Any], settings: Dict[str, str], cur_fm: bool, want_fm: bool,
                   before: Dict[str, str]) -> None:
    if "followme" in p:
        ch.param("followme")
    if want_fm and not cur_fm:
        ch.fm_create = followme_row(n, settings, p.get("followmegrptime"))
        ch._mark()
        devices = [d for d in (before.get("/AMPUSER/%s/device" % n) or "").split("&") if d]
        for op, family, key, value in followme_ops(n, ch.fm_create, settings, devices):
            ch.put(family, key, value or "")
        return
    if cur_fm and not want_fm:
        # Findmefollow::del: the row and the AMPUSER/<n>/followme tree.
        ch.fm_delete = True
        ch._mark()
        ch.deltree("AMPUSER", n + "/followme")
        return
    if want_fm and "followmegrptime" in p:
        ch.param("followmegrptime")
        ch.set_fm("grptime", int(p["followmegrptime"]))
        ch.put("AMPUSER", n + "/followme/grptime", str(int(p["followmegrptime"])))
