"""SIPp phones for the real-Asterisk tier.

Each phone is one ``sipp`` process on a loopback port of its own. Scenarios are
written here (SIPp's XML), with the keywords SIPp documents: ``[authentication
username=.. password=..]`` answers Asterisk's digest challenge, ``-trace_msg``
keeps every SIP message the phone sent and received (asserted on for the
auto-answer headers), ``-inf`` supplies users. Phones only ever talk to the
private Asterisk on 127.0.0.1."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import List, Optional

_REGISTER = """  <send retrans="500">
    <![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[remote_ip]:[remote_port]>;tag=[pid]R[call_number]
      To: <sip:[field0]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      Max-Forwards: 70
      User-Agent: rfapi-sipp [field0]
      Expires: %(expires)d
      Content-Length: 0

    ]]>
  </send>
  <recv response="401" auth="true"/>
  <send retrans="500">
    <![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[remote_ip]:[remote_port]>;tag=[pid]R[call_number]
      To: <sip:[field0]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      [field1]
      Max-Forwards: 70
      User-Agent: rfapi-sipp [field0]
      Expires: %(expires)d
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
"""

_SDP = """      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=sipp 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
"""

def _reply(status: str, to_tag: bool = True, cseq: str = "[last_CSeq:]", extra: str = "",
           body: str = "      Content-Length: 0\n") -> str:
    """A response to the last request received (SIPp's [last_*] headers); the phone's
    dialog tag is added to To unless the request already carried it."""
    return """  <send>
    <![CDATA[
      SIP/2.0 %s
      [last_Via:]
      [last_From:]
      [last_To:]%s
      [last_Call-ID:]
      %s
%s%s
    ]]>
  </send>
""" % (status, ";tag=[pid]P[call_number]" if to_tag else "", cseq, extra, body)


_CONTACT = "      Contact: <sip:[field0]@[local_ip]:[local_port]>\n"
_OK_INVITE = _reply("200 OK", extra=_CONTACT, body=_SDP)

# An answering phone: INVITE -> 180 -> (ring) -> 200 / 486 / never; then waits
# for the end of the call, answering re-INVITEs (direct media) on the way.
_ANSWER_LOOP = """  <label id="idle"/>
  <recv request="INVITE" crlf="true"/>
""" + _reply("180 Ringing", extra=_CONTACT) + """%(after_ring)s
"""

_AFTER_RING = {
    "answer": """  <pause milliseconds="%(ring_ms)d"/>
""" + _OK_INVITE + """  <recv request="ACK"/>
  <label id="incall"/>
  <recv request="INVITE" optional="true" next="reinvite"/>
  <recv request="BYE"/>
""" + _reply("200 OK", to_tag=False) + """  <label id="reinvite"/>
""" + _OK_INVITE + """  <recv request="ACK" next="incall"/>
""",
    "busy": """  <pause milliseconds="%(ring_ms)d"/>
""" + _reply("486 Busy Here") + """  <recv request="ACK"/>
""",
    "noanswer": """  <recv request="CANCEL"/>
""" + _reply("200 OK") + _reply("487 Request Terminated", cseq="CSeq: [cseq] INVITE") + """  <recv request="ACK"/>
""",
}

# A calling phone: INVITE (challenged, answered with the digest) to <dest>,
# holds the call for hold_ms (answering re-INVITEs), then hangs up.
_CALL = """  <send retrans="500">
    <![CDATA[
      INVITE sip:%(dest)s@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[remote_ip]:[remote_port]>;tag=[pid]C[call_number]
      To: <sip:%(dest)s@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      Max-Forwards: 70
      User-Agent: rfapi-sipp [field0]
""" + _SDP + """
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="401" auth="true"/>
  <send>
    <![CDATA[
      ACK sip:%(dest)s@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[remote_ip]:[remote_port]>;tag=[pid]C[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <send retrans="500">
    <![CDATA[
      INVITE sip:%(dest)s@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[remote_ip]:[remote_port]>;tag=[pid]C[call_number]
      To: <sip:%(dest)s@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 2 INVITE
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      [field1]
      Max-Forwards: 70
      User-Agent: rfapi-sipp [field0]
""" + _SDP + """
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true" rrs="true">
    <action><ereg regexp=";tag=([^;> ]+)" search_in="hdr" header="To:" assign_to="junk,rtag"/></action>
  </recv>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[remote_ip]:[remote_port]>;tag=[pid]C[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 ACK
      [routes]
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <label id="hold"/>
  <recv request="INVITE" timeout="%(hold_ms)d" ontimeout="bye"/>
""" + _reply("200 OK", to_tag=False, extra=_CONTACT, body=_SDP) + """  <recv request="ACK" next="hold"/>
  <Reference variables="junk"/>
  <label id="bye"/>
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[remote_ip]:[remote_port]>;tag=[pid]C[call_number]
      To: <sip:%(dest)s@[remote_ip]:[remote_port]>;tag=[$rtag]
      Call-ID: [call_id]
      CSeq: 3 BYE
      [routes]
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
"""


def _scenario(name: str, body: str) -> str:
    return ('<?xml version="1.0" encoding="ISO-8859-1" ?>\n<!DOCTYPE scenario SYSTEM "sipp.dtd">\n'
            '<scenario name="%s">\n%s</scenario>\n' % (name, body))


class Phone:
    """One SIPp process: a phone with extension ``user`` / ``secret``."""

    def __init__(self, workdir: Path, name: str, server: str, users: List[tuple], port: int,
                 scenario: str, calls: int = 1, rate: Optional[int] = None, timeout: float = 60,
                 incoming: Optional[str] = None):
        self.dir = Path(workdir) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.port = port
        (self.dir / "scenario.xml").write_text(scenario)
        # SIPp expands keywords inside an injected field, not fields inside a keyword:
        # the whole [authentication ...] keyword is field1.
        (self.dir / "users.csv").write_text("SEQUENTIAL\n" + "".join(
            "%s;[authentication username=%s password=%s];\n" % (u, u, pw) for u, pw in users))
        argv = ["sipp", server, "-sf", str(self.dir / "scenario.xml"), "-inf", str(self.dir / "users.csv"),
                "-i", "127.0.0.1", "-p", str(port), "-m", str(calls), "-l", str(calls),
                "-mp", str(port + 1), "-trace_msg", "-message_file", str(self.dir / "messages.log"),
                "-trace_err", "-error_file", str(self.dir / "errors.log"),
                "-timeout", "%ds" % int(timeout), "-timeout_error", "-nostdin",
                "-max_recv_loops", "1000", "-aa"]
        if rate:
            argv += ["-r", str(rate)]
        if incoming:
            (self.dir / "incoming.xml").write_text(incoming)
            argv += ["-oocsf", str(self.dir / "incoming.xml")]
        self.log = open(self.dir / "sipp.out", "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=str(self.dir), start_new_session=True)

    def wait(self, timeout: float = 60) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError("SIPp %s still running after %.0f s\n%s" % (self.name, timeout, self.errors()))

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(5)
        self.log.close()

    def messages(self) -> str:
        p = self.dir / "messages.log"
        return p.read_text(errors="replace").replace("\r\n", "\n") if p.exists() else ""

    def errors(self) -> str:
        out = []
        for f in ("errors.log", "sipp.out"):
            p = self.dir / f
            if p.exists():
                out.append(p.read_text(errors="replace")[-2000:])
        return "\n".join(out)

    def received(self, method: str) -> List[str]:
        """Every SIP request of ``method`` this phone received, as text."""
        text = self.messages()
        blocks = re.split(r"\n(?=-{10,} )", text)
        return [b for b in blocks if re.search(r"message received .*\n\s*%s " % method, b, re.S)
                or re.search(r"received\]?[^\n]*\n%s sip:" % method, b)]

    def wait_for_message(self, pattern: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.messages(), re.S)
            if m:
                return m.group(0)
            time.sleep(0.1)
        raise AssertionError("phone %s never saw %r\n%s" % (self.name, pattern, self.messages()[-3000:]))


def register_scenario(expires: int = 3600) -> str:
    return _scenario("register", _REGISTER % {"expires": expires})


def registered_scenario(expires: int = 3600, stay_ms: int = 600000) -> str:
    """Register, then stay (the process is the phone; calls come to -oocsf)."""
    return _scenario("registered", _REGISTER % {"expires": expires} + '  <pause milliseconds="%d"/>\n' % stay_ms)


def answering_scenario(user: str, mode: str = "answer", ring_ms: int = 1000) -> str:
    """The out-of-call scenario of a registered phone (SIPp maps a request with a
    new Call-ID to it): take a call ``answer`` / ``busy`` / ``noanswer``."""
    body = _ANSWER_LOOP % {"after_ring": _AFTER_RING[mode] % {"ring_ms": ring_ms}}
    return _scenario("phone-" + mode, body.replace("[field0]", user))


def calling_scenario(dest: str, hold_ms: int = 3000) -> str:
    return _scenario("call", _CALL % {"dest": dest, "hold_ms": hold_ms})
