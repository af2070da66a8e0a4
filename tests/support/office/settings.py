"""Advanced Settings (freepbx_settings) as the FreePBX 17 installer leaves them, plus the office's."""
from __future__ import annotations

from typing import Any, Dict, List, Sequence, Union

# ---------------------------------------------------------------------------
# Advanced Settings (freepbx_settings)
# ---------------------------------------------------------------------------


def _setting(keyword: str, value: Any, name: str, type_: str, category: str, *, default: Any = None,
             options: Union[str, Sequence[Any]] = "", level: int = 0, readonly: int = 0, hidden: int = 0,
             emptyok: int = 0, module: str = "", sortorder: int = 0, description: str = "") -> Dict[str, Any]:
    """A freepbx_settings row as freepbx_conf::define_conf_setting stores it.

    Booleans are stored '1'/'0', select/int options comma-joined, `defaultval`
    = the installer value (value may differ when the box changed it).
    """
    def text(v: Any) -> str:
        if isinstance(v, bool):
            return "1" if v else "0"
        return str(v)

    if not isinstance(options, str):
        options = ",".join(str(o) for o in options)
    return {"keyword": keyword, "value": text(value), "name": name, "level": level,
            "description": description or name, "type": type_, "options": options,
            "defaultval": text(value if default is None else default), "readonly": readonly, "hidden": hidden,
            "category": category, "module": module, "emptyok": emptyok, "sortorder": sortorder}


_DIR = "Directory Layout"
_MGR = "Asterisk Manager"
_CDR = "Remote CDR Database"
_DEV = "Device Settings"
_OPS = "Dialplan and Operational"
_FM = "Follow Me Module"

FREEPBX_SETTINGS: List[Dict[str, Any]] = [
    # Asterisk Manager (framework installer). The installer randomises AMPMGRPASS on a
    # real install; this office keeps the documented defaults admin/amp111.
    _setting("AMPMGRUSER", "admin", "Asterisk Manager User", "text", _MGR, level=2,
             description="Username for accessing the Asterisk Manager Interface (AMI), this will be "
                         "automatically updated in manager.conf."),
    _setting("AMPMGRPASS", "amp111", "Asterisk Manager Password", "text", _MGR, level=2,
             description="Password for accessing the Asterisk Manager Interface (AMI), this will be "
                         "automatically updated in manager.conf."),
    _setting("ASTMANAGERHOST", "localhost", "Asterisk Manager Host", "text", _MGR, level=2, readonly=1,
             description="Hostname for the Asterisk Manager"),
    _setting("ASTMANAGERPORT", "5038", "Asterisk Manager Port", "int", _MGR, options=(1024, 65535), level=2,
             readonly=1, description="Port for the Asterisk Manager"),
    _setting("ASTMANAGERPROXYPORT", "", "Asterisk Manager Proxy Port", "int", _MGR, options=(1024, 65535),
             level=2, readonly=1, emptyok=1, description="Optional port for an Asterisk Manager Proxy"),
    # Directory layout
    _setting("AMPBIN", "/var/lib/asterisk/bin", "FreePBX bin Dir", "dir", _DIR, level=4, readonly=1,
             description="Location of the FreePBX command line scripts."),
    _setting("AMPSBIN", "/usr/sbin", "FreePBX sbin Dir", "dir", _DIR, level=4, readonly=1,
             description="Where (root) command line scripts are located."),
    _setting("AMPWEBROOT", "/var/www/html", "FreePBX Web Root Dir", "dir", _DIR, level=4, readonly=1,
             description="The path to Apache webroot (leave off trailing slash)."),
    _setting("ASTAGIDIR", "/var/lib/asterisk/agi-bin", "Asterisk AGI Dir", "dir", _DIR, level=4, readonly=1,
             description="This is the default directory for Asterisks agi files."),
    _setting("ASTETCDIR", "/etc/asterisk", "Asterisk etc Dir", "dir", _DIR, level=4, readonly=1,
             description="This is the default directory for Asterisks configuration files."),
    _setting("ASTLOGDIR", "/var/log/asterisk", "Asterisk Log Dir", "dir", _DIR, level=4, readonly=1,
             description="This is the default directory for Asterisks log files."),
    _setting("ASTMODDIR", "/usr/lib/asterisk/modules", "Asterisk Modules Dir", "dir", _DIR, level=4,
             readonly=1, description="This is the default directory for Asterisks modules."),
    _setting("ASTSPOOLDIR", "/var/spool/asterisk", "Asterisk Spool Dir", "dir", _DIR, level=4, readonly=1,
             description="This is the default directory for Asterisks spool directory."),
    _setting("ASTRUNDIR", "/var/run/asterisk", "Asterisk Run Dir", "dir", _DIR, level=4, readonly=1,
             description="This is the default directory for Asterisks run files."),
    _setting("ASTVARLIBDIR", "/var/lib/asterisk", "Asterisk bin Dir", "dir", _DIR, level=4, readonly=1,
             description="This is the default directory for Asterisks lib files."),
    _setting("MOHDIR", "moh", "MoH Subdirectory", "select", _DIR, options=("moh", "mohmp3"), level=4,
             readonly=1, description="This is the subdirectory for the MoH files/directories which is located "
                                     "in ASTVARLIBDIR."),
    _setting("MIXMON_DIR", "", "Override Call Recording Location", "dir", _DIR, level=9, readonly=1, emptyok=1,
             description="Override the default location where asterisk will store call recordings. Be sure to "
                         "set proper permissions on the directory for the asterisk user."),
    # System setup / GUI
    _setting("AMPEXTENSIONS", "extensions", "User & Devices Mode", "select", "System Setup",
             options="extensions,deviceanduser", sortorder=-135,
             description="Sets the extension behavior in FreePBX."),
    # userman sets usermanager on every install; ampusers rows still authenticate (WRITES §4).
    _setting("AUTHTYPE", "usermanager", "Authorization Type", "select", "System Setup", default="database",
             options="database,none,webserver,usermanager", level=3, readonly=1, sortorder=-130,
             description="Authentication type to use for web admin."),
    _setting("SIPSECRETSIZE", "32", "Size of generated sip secrets", "int", "GUI Behavior", options=(6, 32),
             level=9, readonly=1,
             description="When creating a new sip extension this sets the max size of the generated secret. "
                         "This generally should be default."),
    # Dialplan and operational
    _setting("ASTCONFAPP", "app_confbridge", "Conference Room App", "select", _OPS,
             options=("app_meetme", "app_confbridge"),
             description="The asterisk application to use for conferencing."),
    _setting("ASTSIPDRIVER", "both", "SIP Channel Driver", "select", _OPS,
             options=("both", "chan_sip", "chan_pjsip"), level=2,
             description="The Asterisk channel driver to use for SIP."),
    _setting("CONCURRENCYLIMITDEFAULT", "3", "Extension Concurrency Limit", "select", _OPS, options=range(0, 121),
             description="Default maximum number of outbound simultaneous calls that an extension can make."),
    _setting("CFRINGTIMERDEFAULT", "0", "Call Forward Ringtimer Default", "select", _OPS,
             options=range(-1, 121),
             description="This is the default time in seconds to try and connect a call that has been call "
                         "forwarded by the server side CF, CFU and CFB options."),
    _setting("ENABLECW", True, "CW Enabled by Default", "bool", _OPS,
             description="Enable call waiting by default when an extension is created (Default is yes)."),
    _setting("DYNAMICHINTS", False, "Dynamically Generate Hints", "bool", _OPS, readonly=1,
             description="If true, Core will not statically generate hints."),
    # Deprecated and forced on since FreePBX 13 (framework upgrade script hides it).
    _setting("USEDEVSTATE", True, "Enable Custom Device States", "bool", _OPS, hidden=1,
             description="This allows custom hints to be created to support BLF for server side feature codes "
                         "such as daynight, followme, etc"),
    # Remote CDR database: all empty = the local asteriskcdrdb.cdr
    _setting("CDRDBHOST", "", "Remote CDR DB Host", "text", _CDR, level=3, readonly=1, emptyok=1),
    _setting("CDRDBNAME", "", "Remote CDR DB Name", "text", _CDR, level=3, readonly=1, emptyok=1),
    _setting("CDRDBPASS", "", "Remote CDR DB Password", "text", _CDR, level=3, readonly=1, emptyok=1),
    _setting("CDRDBPORT", "", "Remote CDR DB Port", "int", _CDR, options=(1024, 65536), level=3, readonly=1,
             emptyok=1),
    _setting("CDRDBTABLENAME", "", "Remote CDR DB Table", "text", _CDR, level=3, readonly=1, emptyok=1),
    _setting("CDRDBTYPE", "", "Remote CDR DB Type", "select", _CDR, options=",mysql,postgres", level=3,
             readonly=1, emptyok=1),
    _setting("CDRDBUSER", "", "Remote CDR DB User", "text", _CDR, level=3, readonly=1, emptyok=1),
    _setting("CDRUSEGMT", False, "Use GMT Time", "bool", _CDR, readonly=1,
             description="Insert the date information into the CDR database using GMT time"),
    # cel module settings (names/description not verified against the cel module source).
    _setting("CELDBNAME", "", "Remote CEL DB Name", "text", _CDR, level=3, readonly=1, emptyok=1, module="cel"),
    _setting("CELDBTABLENAME", "", "Remote CEL DB Table", "text", _CDR, level=3, readonly=1, emptyok=1,
             module="cel"),
    # Device defaults read when a device is created (WRITES §1.4)
    _setting("DEVICE_STRONG_SECRETS", True, "Require Strong Secrets", "bool", _DEV, sortorder=12),
    _setting("DEVICE_REMOVE_MAILBOX", False, "Remove mailbox Setting when no Voicemail", "bool", _DEV,
             sortorder=15),
    _setting("DEVICE_SIP_CANREINVITE", "no", "SIP canrenivite (directmedia)", "select", _DEV,
             options=("no", "yes", "nonat", "update"), sortorder=20),
    _setting("DEVICE_SIP_DTMF", "rfc2833", "SIP DTMF Signaling", "select", _DEV,
             options=("rfc2833", "auto", "shortinfo", "info", "inband"), sortorder=20),
    _setting("DEVICE_SIP_TRUSTRPID", "yes", "SIP trustrpid", "select", _DEV, options=("no", "yes"), sortorder=30),
    _setting("DEVICE_SIP_SENDRPID", "pai", "SIP sendrpid", "select", _DEV, options=("no", "yes", "pai"),
             sortorder=40),
    _setting("DEVICE_SIP_NAT", "yes", "SIP nat", "select", _DEV, options=("no", "yes", "never", "route"),
             sortorder=50),
    _setting("DEVICE_SIP_ENCRYPTION", "no", "SIP encryption", "select", _DEV, options=("no", "yes"),
             sortorder=60),
    _setting("DEVICE_SIP_QUALIFYFREQ", "60", "SIP qualifyfreq", "int", _DEV, options=(15, 86400), sortorder=70),
    _setting("DEVICE_QUALIFY", "yes", "SIP and IAX qualify", "text", _DEV, sortorder=80),
    _setting("DEVICE_DISALLOW", "", "SIP and IAX disallow", "text", _DEV, emptyok=1, sortorder=90),
    _setting("DEVICE_ALLOW", "", "SIP and IAX allow", "text", _DEV, emptyok=1, sortorder=90),
    _setting("DEVICE_CALLGROUP", "", "SIP and DAHDi callgroup", "text", _DEV, emptyok=1, sortorder=100),
    _setting("DEVICE_PICKUPGROUP", "", "SIP and DAHDi pickupgroup", "text", _DEV, emptyok=1, sortorder=110),
    # findmefollow install.php
    _setting("FOLLOWME_AUTO_CREATE", False, "Create Follow Me at Extension Creation Time", "bool", _FM,
             level=1, module="findmefollow", sortorder=30),
    _setting("FOLLOWME_DISABLED", True, "Disable Follow Me Upon Creation", "bool", _FM, level=1,
             module="findmefollow", sortorder=40),
    _setting("FOLLOWME_TIME", "20", "Default Follow Me Ring Time", "select", _FM, options=range(5, 121),
             level=1, module="findmefollow", sortorder=50),
    _setting("FOLLOWME_PRERING", "7", "Default Follow Me Initial Ring Time", "select", _FM,
             options=range(5, 61), level=1, module="findmefollow", sortorder=60),
    _setting("FOLLOWME_RG_STRATEGY", "ringallv2-prim", "Default Follow Me Ring Strategy", "select", _FM,
             options=("ringallv2", "ringallv2-prim", "ringall", "ringall-prim", "hunt", "hunt-prim",
                      "memoryhunt", "memoryhunt-prim", "firstavailable", "firstnotonphone"),
             level=1, module="findmefollow", sortorder=70),
]

SETTINGS: Dict[str, str] = {s["keyword"]: s["value"] for s in FREEPBX_SETTINGS}
