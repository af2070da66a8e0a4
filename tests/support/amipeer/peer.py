"""``AmiPeer``: the fake Asterisk, composed of its handler groups (one mixin
per module) over the server. It holds the PBX state (plain dicts tests may
change; take ``peer.lock`` while it runs), the behaviour switches and the
action -> handler table.
"""
from __future__ import annotations

import socket
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from .astdb import AstDBHandlers
from .calls import CallHandlers, SimChannel
from .cli import CommandHandlers
from .conn import PeerConn
from .constants import DEFAULT_DIALPLAN_PATTERNS, DEFAULT_MODULES
from .core import CoreHandlers
from .events import EventEmission
from .seed import transcript_seed
from .server import PeerServer
from .sip import SipHandlers
from .state import StateHandlers
from .voicemail import VoicemailHandlers
from .wire import Action


class AmiPeer(CoreHandlers, CommandHandlers, AstDBHandlers, StateHandlers, SipHandlers, VoicemailHandlers,
              CallHandlers, EventEmission, PeerServer):
    """A fake Asterisk manager on ``host:port`` (port 0 = pick a free one)."""

    def __init__(self, users: Optional[Dict[str, Any]] = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        # users: name -> secret (full FreePBX classes) or
        #        name -> {"secret": ..., "read": "call,...", "write": "call,..."}
        self.users: Dict[str, Any] = dict(users) if users is not None else {"admin": "amp111"}
        self.host = host
        self.port = int(port)
        self.lock = threading.RLock()

        # Behaviour controls.
        self.refuse_login = False
        self.login_fail_delay = 1.0
        self.stall = False
        self.response_delay = 0.0
        self.chan_sip = True
        self.originate_delay = 0.05
        self.call_duration = 0.05       # how long an answered call stays up
        self.channelvars: List[str] = []  # manager.conf channelvars (ChanVariable headers)

        # PBX state.
        self.astdb: Dict[str, str] = {}
        self.hints: Dict[str, Dict[str, Any]] = {}
        self.device_states: Dict[str, str] = {}
        self.presence: Dict[str, Dict[str, str]] = {}
        self.pjsip_endpoints: Dict[str, Dict[str, Any]] = {}
        self.pjsip_contacts: Dict[str, List[Dict[str, Any]]] = {}
        self.sip_peers: Dict[str, Dict[str, Any]] = {}
        self.dialplan_patterns: List[str] = list(DEFAULT_DIALPLAN_PATTERNS)
        self.originate_outcomes: Dict[str, str] = {}
        self.shutting_down = False   # answer every action "Asterisk is shutting down"
        self.voicemail_boxes: Dict[str, Dict[str, Any]] = {}
        self.modules = set(DEFAULT_MODULES)
        # Extra CLI commands for Action: Command: "words" -> output text, or a
        # callable(words) -> text or (success_bool, text).
        self.cli_commands: Dict[str, Any] = {}

        # Observations.
        self._actions: List[Action] = []
        self._action_cond = threading.Condition(self.lock)
        self.connections_opened = 0
        self.logins: List[Tuple[str, bool, Optional[str]]] = []
        self.reload_count = 0

        # Runtime.
        self._stopping = threading.Event()
        self._listener: Optional[socket.socket] = None
        self._listen_thread: Optional[threading.Thread] = None
        self._conns: Dict[int, PeerConn] = {}
        self._threads: List[threading.Thread] = []
        self._next_conn_id = 0
        self._chan_seq = 0
        self._uid_seq = 0
        self._channels: Dict[str, SimChannel] = {}
        self.processed_calls = 0
        self.started_at = time.time()
        self.reloaded_at = self.started_at

        self._handlers: Dict[str, Callable[[PeerConn, Action, str], bool]] = {
            "login": self._a_login,
            "setvar": self._a_setvar,
            "logoff": self._a_logoff,
            "ping": self._a_ping,
            "events": self._a_events,
            "coresettings": self._a_coresettings,
            "corestatus": self._a_corestatus,
            "coreshowchannels": self._a_coreshowchannels,
            "command": self._a_command,
            "originate": self._a_originate,
            "extensionstate": self._a_extensionstate,
            "extensionstatelist": self._a_extensionstatelist,
            "devicestatelist": self._a_devicestatelist,
            "presencestate": self._a_presencestate,
            "presencestatelist": self._a_presencestatelist,
            "pjsipshowendpoints": self._a_pjsipshowendpoints,
            "pjsipshowendpoint": self._a_pjsipshowendpoint,
            "pjsipshowcontacts": self._a_pjsipshowcontacts,
            "pjsipshowaors": self._a_pjsipshowaors,
            "pjsipshowregistrationsinbound": self._a_pjsipshowregistrationsinbound,
            "pjsipshowregistrationinboundcontactstatuses": self._a_pjsipshowreginboundcontactstatuses,
            "sippeers": self._a_sippeers,
            "sipshowpeer": self._a_sipshowpeer,
            "dbput": self._a_dbput,
            "dbget": self._a_dbget,
            "dbgettree": self._a_dbgettree,
            "dbdel": self._a_dbdel,
            "dbdeltree": self._a_dbdeltree,
            "reload": self._a_reload,
            "voicemailrefresh": self._a_voicemailrefresh,
            "voicemailuserslist": self._a_voicemailuserslist,
            "voicemailuserstatus": self._a_voicemailuserstatus,
            "voicemailboxsummary": self._a_voicemailboxsummary,
            "voicemailmove": self._a_voicemailmove,
            "voicemailremove": self._a_voicemailremove,
            "voicemailforward": self._a_voicemailforward,
            "mailboxcount": self._a_mailboxcount,
            "mailboxstatus": self._a_mailboxstatus,
        }

    # ------------------------------------------------------------- seeding

    def load_state(self, state: Dict[str, Any]) -> "AmiPeer":
        """Update state dicts from a mapping (the --seed-json format)."""
        dict_keys = ("astdb", "hints", "device_states", "presence", "pjsip_endpoints",
                     "pjsip_contacts", "sip_peers", "originate_outcomes", "voicemail_boxes",
                     "users", "cli_commands")
        with self.lock:
            for key, value in state.items():
                if key in dict_keys:
                    getattr(self, key).update(value)
                elif key == "dialplan_patterns":
                    self.dialplan_patterns[:] = list(value)
                elif key == "channelvars":
                    self.channelvars[:] = list(value)
                elif key in ("refuse_login", "login_fail_delay", "stall", "response_delay",
                             "chan_sip", "originate_delay", "call_duration"):
                    setattr(self, key, value)
                else:
                    raise ValueError("unknown state key %r" % key)
        return self

    def seed_from_transcripts(self) -> "AmiPeer":
        """Load the PBX the reference captures were taken on (AMI.md "What
        produced them"): PJSIP 101-103 (101 registered), chan_sip 201/202,
        the four hints, the AstDB seed, presence and the voicemail spool."""
        return self.load_state(transcript_seed())
