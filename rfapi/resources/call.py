"""Click-to-call."""
from __future__ import annotations

from ..auth import record_failure
from ..params import Param
from ..routing import Resource
from ..services import call

resource = Resource("call", "Click-to-call")

CALL_SCHEMA = {
    "type": "object",
    "required": ["extension", "channel", "context", "exten", "action_id", "queued"],
    "properties": {
        "extension": {"type": "string"},
        "channel": {"type": "string", "description": "the dial string rung first, e.g. PJSIP/101"},
        "context": {"type": "string"},
        "exten": {"type": "string"},
        "priority": {"type": "integer"},
        "callerid": {"type": "string", "description": "shown on the caller's phone while it rings"},
        "ring_seconds": {"type": "integer"},
        "autoanswer": {"type": "boolean"},
        "wait": {"type": "boolean"},
        "action_id": {"type": "string", "description": "ActionID of the Originate (its OriginateResponse "
                                                       "event carries the same one)"},
        "queued": {"type": "boolean"},
        "message": {"type": "string"},
        "wait_seconds": {"type": "number", "description": "with wait: how long the API waited"},
        "answered": {"type": "boolean", "nullable": True,
                     "description": "with wait: did the caller's phone answer (null: still ringing)"},
        "reason": {"type": "integer", "nullable": True,
                   "description": "OriginateResponse Reason: 4 answered, 3 no answer, 5 busy, 0 failed, ..."},
        "reason_text": {"type": "string", "description":
                        "answered, no answer, busy, rejected, congestion, failed, ...; busy comes from the "
                        "channel's hangup cause (Asterisk reports a busy phone as Reason 0)"},
        "hangup_cause": {"type": "integer", "nullable": True,
                         "description": "Q.850 cause of the caller's channel when the first leg failed "
                                        "(17 busy, 19 no answer); null otherwise"},
        "uniqueid": {"type": "string", "nullable": True},
        "originate_channel": {"type": "string", "nullable": True},
    },
}


@resource.route("/call", "POST", summary="Click-to-call: ring the extension, then dial dest",
                description="Rings the caller's own SIP device first (async AMI Originate into "
                            "from-internal, so outbound routes, caller ID and recording rules apply); "
                            "when it answers, Asterisk dials dest. With wait, waits for the first leg's "
                            "outcome: the extension's ring time + 5 s, at most 60 s.",
                params=[
                    Param("ext", "digits", required=True, max_length=20,
                          description="the caller's SIP extension (chan_pjsip or chan_sip)", example="101"),
                    Param("secret", required=True, secret=True, max_length=255,
                          description="that extension's SIP secret (proves the call is the desk user's)",
                          example="Example-secret-0101"),
                    Param("dest", required=True, max_length=20, pattern=call.DEST_PATTERN,
                          pattern_help=call.DEST_HELP,
                          description="the number to call: an external number (3-20 digits, optional "
                                      "leading +) or an extension of this PBX; feature codes (* #) only "
                                      "with [call] allow_feature_codes = yes", example="2125550147"),
                    Param("autoanswer", "boolean", default=False,
                          description="ask the caller's phone to answer by itself"),
                    Param("wait", "boolean", default=False,
                          description="wait for the first leg's outcome (ring time + 5 s, at most 60 s)"),
                ],
                response=CALL_SCHEMA, errors=(400, 403, 404, 409, 502, 503, 504), scope="calls")
def post_call(params):
    try:
        return call.click_to_call(params["ext"], params["secret"], params["dest"], params["autoanswer"],
                                  params["wait"])
    except call.WrongCallSecret:
        record_failure(params["ext"], "bad call secret")
        raise
