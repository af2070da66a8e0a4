"""Long field lists copied from the captures (EndpointDetail, SIPshowpeer,
VoicemailUserEntry) with ``{placeholders}`` filled per object: the header
order and defaults are the real Asterisk's, so replies stay byte-exact.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from .wire import Headers


def parse_template(text: str) -> Headers:
    """Parse a ``Key: value`` per line block (used for the long field lists)."""
    out: Headers = []
    for line in text.strip("\n").split("\n"):
        k, _, v = line.partition(":")
        out.append((k, v[1:] if v.startswith(" ") else v))
    return out


# Field order and default values of EndpointDetail, as captured for 101
# (pjsip-show-endpoint-101.txt).  "{...}" values are filled per endpoint.
ENDPOINT_DETAIL = parse_template("""
ObjectType: endpoint
ObjectName: {name}
RpidImmediate: false
Webrtc: no
Ignore183WithoutSdp: false
SendAoc: false
DeviceStateBusyAt: 1
T38UdptlMaxdatagram: 0
CodecPrefsIncomingAnswer: prefer:pending, operation:intersect, keep:all, transcode:allow
SecurityNegotiation: no
DtlsRekey: 0
RtpPortEnd: 0
NamedPickupGroup: 
DirectMediaMethod: invite
SendRpid: false
PickupGroup: 
SdpSession: Asterisk
DtlsVerify: No
MessageContext: 
Tenantid: 
Mailboxes: {mailboxes}
RecordOnFeature: automixmon
DtlsPrivateKey: 
DtlsFingerprint: SHA-256
OverlapContext: 
OutgoingCallOfferPref: remote_merge
RtpPortStart: 0
FromDomain: 
TimersSessExpires: 1800
NamedCallGroup: 
DtlsCipher: 
MediaEncryptionOptimistic: false
SuppressQ850ReasonHeaders: false
Aors: {aors}
IdentifyBy: username,ip
CalleridPrivacy: allowed_not_screened
MwiSubscribeReplacesUnsolicited: no
CosAudio: 0
FollowEarlyMediaFork: true
Context: {context}
RtpSymmetric: true
Transport: {transport}
MohSuggest: default
T38Udptl: false
FaxDetect: false
T38BindUdptlToMediaAddress: false
TosVideo: 0
SrtpTag32: false
ReferBlindProgress: true
MaxAudioStreams: 1
Bundle: false
UseAvpf: false
CallGroup: 
SendConnectedLine: yes
FaxDetectTimeout: 0
SdpOwner: -
ForceRport: true
CalleridTag: 
RtpTimeoutHold: 0
SuppressMohOnSendonly: false
UsePtime: false
MediaAddress: 127.0.0.1
VoicemailExtension: 
RtpTimeout: 0
StirShaken: no
SetVar: 
ContactAcl: 
PreferredCodecOnly: false
GeolocOutgoingCallProfile: 
ForceAvp: false
RecordOffFeature: automixmon
FromUser: 
SendDiversion: true
SendHistoryInfo: false
T38UdptlIpv6: false
ToneZone: 
Language: 
AllowSubscribe: true
RtpIpv6: false
Callerid: {callerid}
MohPassthrough: false
CosVideo: 0
DtlsAutoGenerateCert: No
AsymmetricRtpCodec: false
GeolocIncomingCallProfile: 
IceSupport: false
AggregateMwi: true
OneTouchRecording: false
MwiFromUser: 
RedirectMethod: user
Accountcode: 
CodecPrefsOutgoingAnswer: prefer:pending, operation:intersect, keep:all, transcode:allow
Allow: (ulaw|alaw)
RewriteContact: true
UserEqPhone: false
RtpEngine: asterisk
FollowRedirectMethods: 
SubscribeContext: 
NotifyEarlyInuseRinging: false
IncomingMwiMailbox: 
IncomingCallOfferPref: local
AllowUnauthenticatedOptions: false
Auth: {auth}
DirectMediaGlareMitigation: none
TrustIdInbound: false
StirShakenProfile: 
BindRtpToMediaAddress: true
DisableDirectMediaOnNat: false
MediaEncryption: no
MediaUseReceivedTransport: false
AllowOverlap: true
DtmfMode: rfc4733
OutboundAuth: 
TosAudio: 0
DtlsCertFile: 
DtlsCaPath: 
DtlsSetup: active
ConnectedLineMethod: invite
G726NonStandard: false
100rel: yes
Timers: yes
DirectMedia: false
Acl: 
TimersMinSe: 90
TrustIdOutbound: false
SubMinExpiry: 0
RtcpMux: false
MaxVideoStreams: 1
AcceptMultipleSdpAnswers: false
CodecPrefsIncomingOffer: prefer:pending, operation:intersect, keep:all, transcode:allow
CodecPrefsOutgoingOffer: prefer:pending, operation:union, keep:all, transcode:allow
TrustConnectedLine: yes
SendPai: false
RtpKeepalive: 0
T38UdptlEc: none
T38UdptlNat: false
AllowTransfer: true
DtlsCaFile: 
OutboundProxy: 
InbandProgress: false
DeviceState: {device_state}
ActiveChannels: {active_channels}
""")

# SIPshowpeer's single Response (sip-show-peer-201.txt), after ActionID.
SIP_SHOW_PEER = parse_template("""
Channeltype: SIP
ObjectName: {name}
ChanObjectType: peer
SecretExist: Y
RemoteSecretExist: N
MD5SecretExist: N
Context: {context}
Language: 
ToneZone: <Not set>
AMAflags: Unknown
CID-CallingPres: Presentation Allowed, Not Screened
Callgroup: 
Pickupgroup: 
Named Callgroup: 
Named Pickupgroup: 
MOHSuggest: 
VoiceMailbox: {voicemailbox}
TransferMode: open
LastMsgsSent: -1
Maxforwards: 0
Call-limit: 0
Busy-level: 0
MaxCallBR: 384 kbps
Dynamic: {dynamic_yn}
Callerid: {callerid}
RegExpire: {regexpire} seconds
SIP-AuthInsecure: no
SIP-Forcerport: a
SIP-Comedia: N
ACL: N
SIP-CanReinvite: Y
SIP-DirectMedia: Y
SIP-PromiscRedir: N
SIP-UserPhone: N
SIP-VideoSupport: N
SIP-TextSupport: N
SIP-T.38Support: N
SIP-T.38EC: Unknown
SIP-T.38MaxDtgrm: 4294967295
SIP-Sess-Timers: Accept
SIP-Sess-Refresh: uas
SIP-Sess-Expires: 1800
SIP-Sess-Min: 90
SIP-RTP-Engine: asterisk
SIP-Encryption: N
SIP-RTCP-Mux: N
SIP-DTMFmode: rfc2833
ToHost: 
Address-IP: {address_ip}
Address-Port: {address_port}
Default-addr-IP: (null)
Default-addr-port: 0
Default-Username: {default_username}
Codecs: (ulaw)
Status: {status}
SIP-Useragent: {useragent}
Reg-Contact: {reg_contact}
QualifyFreq: 60000 ms
Parkinglot: 
SIP-Use-Reason-Header: N
Description: 
""")

# VoicemailUserEntry / VoicemailUserDetail body (voicemail-users-list.txt).
VOICEMAIL_USER = parse_template("""
VMContext: {context}
VoiceMailbox: {mailbox}
Fullname: {fullname}
Email: {email}
Pager: {pager}
ServerEmail: asterisk
FromString: 
MailCommand: /usr/sbin/sendmail -t
Language: {language}
TimeZone: {timezone}
Callback: 
Dialout: 
UniqueID: 
ExitContext: 
SayDurationMinimum: 2
SayEnvelope: Yes
SayCID: No
AttachMessage: No
AttachmentFormat: 
DeleteMessage: No
VolumeGain: 0.00
CanReview: No
CanMarkUrgent: Yes
CallOperator: No
MaxMessageCount: 100
MaxMessageLength: 180
NewMessageCount: {new}
OldMessageCount: {old}
""")


def fill_template(template: Headers, values: Dict[str, Any], overrides: Optional[Dict[str, Any]] = None) -> Headers:
    out: Headers = []
    for k, v in template:
        if overrides and k in overrides:
            v = overrides[k]
        elif v.startswith("{") and v.endswith("}"):
            v = values[v[1:-1]]
        elif "{" in v:
            v = v.format(**values)
        out.append((k, str(v)))
    return out
