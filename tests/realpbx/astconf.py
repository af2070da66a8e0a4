"""The configuration the tier writes for its private Asterisk: the tier's own
text, FreePBX-shaped where rfapi reads or writes it, minimal elsewhere.

Everything Asterisk writes (ctl socket, pid, AstDB, spool, logs, sounds the
tests add) lives under the private root; only the binaries, modules and the
read-only data of the installation ($RFAPI_REAL_ASTERISK) are shared. Every
listener is on 127.0.0.1 on ports picked free for this run, so the tier never
meets a PBX, or another tier, on the same machine."""
from __future__ import annotations

from pathlib import Path
from typing import Dict

AMI_USER, AMI_SECRET = "admin", "amp111"
LIMITED_USER, LIMITED_SECRET = "limited", "limited-secret-4711"

# FreePBX's manager.conf [admin]: every class but security/agi/cc/aoc/test
FREEPBX_CLASSES = "system,call,log,verbose,command,agent,user,config,command,dtmf,reporting,cdr,dialplan,originate,message"
# the permission tests' user: what needs no originate or call class
LIMITED_CLASSES = "system,log,verbose,command,agent,user,config,dtmf,reporting,cdr,dialplan"


def asterisk_conf(dirs: Dict[str, Path]) -> str:
    """[directories] point every writable place into the private root and the
    modules/varlib at the installation; [options] keep the process quiet and local."""
    lines = ["[directories]"]
    lines += ["%s => %s" % (k, v) for k, v in dirs.items()]
    lines += [
        "",
        "[options]",
        "verbose = 3",
        "debug = 0",
        "timestamp = yes",
        "nocolor = yes",
        "highpriority = no",
        "dontwarn = yes",
        "transmit_silence = no",
        # each `asterisk -rx` is a console connection; the tests open many
        "hideconnect = yes",
        "",
    ]
    return "\n".join(lines)


MODULES_CONF = """[modules]
autoload = yes
; nothing of these is used by the tier; left out so a stray
; configuration on the installation cannot open a port
noload = res_ari.so
noload = res_http_websocket.so
noload = res_pjsip_transport_websocket.so
noload = res_phoneprov.so
noload = res_pjsip_phoneprov_provider.so
noload = cdr_custom.so
noload = cdr_csv.so
noload = cel_custom.so
noload = res_smdi.so
noload = chan_iax2.so
noload = chan_dahdi.so
noload = chan_mgcp.so
noload = chan_skinny.so
noload = chan_unistim.so
noload = res_xmpp.so
noload = pbx_dundi.so
noload = res_hep.so
noload = res_hep_pjsip.so
noload = res_hep_rtcp.so
noload = res_statsd.so
noload = res_prometheus.so
"""

LOGGER_CONF = """[general]
dateformat = %F %T.%3q

[logfiles]
messages.log => notice,warning,error,verbose(3)
"""


def manager_conf(port: int) -> str:
    return """[general]
enabled = yes
port = %(port)d
bindaddr = 127.0.0.1
displayconnects = no
timestampevents = yes

[%(admin)s]
secret = %(admin_secret)s
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.0
read = %(classes)s
write = %(classes)s
writetimeout = 5000

[%(limited)s]
secret = %(limited_secret)s
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.0
read = %(limited_classes)s
write = %(limited_classes)s
""" % {"port": port, "admin": AMI_USER, "admin_secret": AMI_SECRET, "classes": FREEPBX_CLASSES,
       "limited": LIMITED_USER, "limited_secret": LIMITED_SECRET, "limited_classes": LIMITED_CLASSES}


def pjsip_conf(port: int) -> str:
    """FreePBX's pjsip.conf shape: globals and the transport here, the
    endpoints/aors/auths in the pjsip.*.conf files its reload writes."""
    return """[global]
type = global
user_agent = FPBX-rfapi-tier
endpoint_identifier_order = ip,username,anonymous

[0.0.0.0-udp]
type = transport
protocol = udp
bind = 127.0.0.1:%d
allow_reload = yes

#include pjsip.aor.conf
#include pjsip.auth.conf
#include pjsip.endpoint.conf
""" % port


def sip_conf(port: int) -> str:
    """chan_sip on its own loopback port, UDP only (the peers' transport lines
    are reduced to udp by the tier's sip_additional.conf writer)."""
    return """[general]
context = from-sip-external
allowguest = no
alwaysauthreject = yes
; FreePBX's default (sipsettings nat=yes), as the peers it writes have
nat = force_rport,comedia
bindaddr = 127.0.0.1
bindport = %d
tcpenable = no
tlsenable = no
srvlookup = no
disallow = all
allow = ulaw
allow = alaw
useragent = FPBX-rfapi-tier-chansip
callevents = yes
notifyhold = yes
limitonpeers = yes

#include sip_additional.conf
""" % port


EXTENSIONS_CONF = """[general]
static = yes
writeprotect = no
clearglobalvars = no

[globals]

#include extensions_additional.conf
#tryinclude extensions_custom.conf
"""


def rtp_conf(start: int) -> str:
    return "[general]\nrtpstart = %d\nrtpend = %d\n" % (start, start + 998)


# Files whose absence only costs a warning: written empty so the log shows what matters.
QUIET = {
    "cdr.conf": "[general]\nenable = no\n",
    "cel.conf": "[general]\nenable = no\n",
    "features.conf": "[general]\n",
    "indications.conf": "[general]\ncountry = us\n\n[us]\ndescription = United States\n"
                        "ringcadence = 2000,4000\ndial = 350+440\nbusy = 480+620/500,0/500\n"
                        "ring = 440+480/2000,0/4000\ncongestion = 480+620/250,0/250\n",
    "musiconhold.conf": "[general]\n",
    "http.conf": "[general]\nenabled = no\n",
    "acl.conf": "",
    "ccss.conf": "[general]\n",
    "udptl.conf": "[general]\n",
    "res_parking.conf": "[general]\n",
    "confbridge.conf": "",
    "queues.conf": "[general]\n",
    "stasis.conf": "",
    "pjproject.conf": "",
    "pjsip_wizard.conf": "",
    "pjsip_notify.conf": "[clear-mwi]\nEvent=>message-summary\nContent-type=>application/simple-message-summary\n"
                         "Content=>Messages-Waiting: no\n",
    "cli_aliases.conf": "",
    "followme.conf": "[general]\n",
    "cdr_manager.conf": "[general]\nenabled = no\n",
    "cdr_csv.conf": "",
}


def with_mailcmd(voicemail_conf: str, mailbox: Path) -> str:
    """app_voicemail mails each message (the mailboxes have e-mail addresses);
    here the mail goes to a file in the private root instead of sendmail."""
    lines = voicemail_conf.split("\n")
    at = lines.index("[general]") + 1
    return "\n".join(lines[:at] + ["mailcmd=cat >> %s" % mailbox] + lines[at:])


def write_all(etc: Path, dirs: Dict[str, Path], ports: Dict[str, int], voicemail_conf: str) -> None:
    files = dict(QUIET)
    files.update({
        "asterisk.conf": asterisk_conf(dirs),
        "modules.conf": MODULES_CONF,
        "logger.conf": LOGGER_CONF,
        "manager.conf": manager_conf(ports["ami"]),
        "pjsip.conf": pjsip_conf(ports["pjsip"]),
        "sip.conf": sip_conf(ports["chansip"]),
        "extensions.conf": EXTENSIONS_CONF,
        "rtp.conf": rtp_conf(ports["rtp"]),
        # FreePBX's voicemail.conf (rfapi edits this very file)
        "voicemail.conf": with_mailcmd(voicemail_conf, dirs["astlogdir"] / "mail.out"),
    })
    # what FreePBX's reload writes starts out empty; tests/realpbx/freepbx.py fills it
    for name in ("pjsip.aor.conf", "pjsip.auth.conf", "pjsip.endpoint.conf", "sip_additional.conf",
                 "extensions_additional.conf"):
        files.setdefault(name, "")
    etc.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (etc / name).write_text(text)
