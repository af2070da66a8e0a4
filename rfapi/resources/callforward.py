"""Call forward (FreePBX callforward module)."""
from __future__ import annotations

from .. import params as P
from ..errors import BadRequest
from ..params import Param
from ..routing import Resource
from ..services import callforward as svc
from ..services import callservices as cs

resource = Resource("callforward", "Call forward: unconditional, busy and unavailable (FreePBX callforward)")

# Shared by the per-extension call services (forward, do-not-disturb, call waiting).
EXT_PATH = {"extension": Param("extension", required=True, example="101",
                               description="The extension (FreePBX user)")}
NUMBER = {"type": "string", "nullable": True}
FORWARDS = {
    "type": "object",
    "required": ["extension", "unconditional", "busy", "unavailable"],
    "properties": {
        "extension": {"type": "string"},
        "unconditional": dict(NUMBER, description="AstDB CF/<ext>: every call goes there (*72 / *73); null = off"),
        "busy": dict(NUMBER, description="AstDB CFB/<ext>: calls while the extension is busy (*90 / *91)"),
        "unavailable": dict(NUMBER, description="AstDB CFU/<ext>: calls not answered or while no phone is "
                                                "registered (*52 / *53)"),
    },
}
WHAT = {"unconditional": "every call", "busy": "calls while the extension is busy",
        "unavailable": "calls not answered or while the phone is unavailable"}


@resource.route("/callforward/<extension>", "GET", summary="The extension's call forward numbers",
                description="The unconditional (CF), busy (CFB) and unavailable (CFU) forward numbers FreePBX "
                            "keeps in AstDB; null where none is set. Feature codes and the User Control Panel "
                            "change the same keys.",
                response=FORWARDS, errors=(404, 503, 504), path_params=EXT_PATH)
def get_forwards(params, extension):
    return svc.get(extension)


@resource.route("/callforward/<extension>", "PUT", summary="Set or clear call forward numbers",
                description="Each field sent sets that forward (a number: digits, * and #, optionally a "
                            "leading +) or clears it (an empty string, or null in a JSON body); fields not sent "
                            "are kept. Writes what FreePBX's callforward module and its feature codes write: "
                            "AstDB CF/CFB/CFU/<ext>, and for the unconditional forward the BLF device states "
                            "Custom:CF<ext> and Custom:DEVCF<device> (BUSY when set, NOT_INUSE when cleared). "
                            "No reload is needed. A virtual extension takes only the unconditional forward "
                            "(409 otherwise). Announced on /events as a config event and written to the "
                            "audit log.",
                response=FORWARDS, errors=(404, 409, 502, 503, 504), path_params=EXT_PATH,
                params=[Param(f, empty=True, max_length=cs.NUMBER_MAX, pattern=cs.NUMBER_PATTERN,
                              pattern_help=cs.NUMBER_HELP,
                              example="5551234567",
                              description="Forward target for %s; '' or null clears it" % WHAT[f])
                        for f in svc.FIELDS])
def put_forwards(params, extension):
    raw = P.gather()  # null (JSON) clears a forward as '' does; validate() reads it as "not sent"
    wanted = {f: (params[f] or None) for f in svc.FIELDS if f in raw}
    if not wanted:
        raise BadRequest({"body": "send at least one of: %s" % ", ".join(svc.FIELDS)})
    return svc.put(extension, wanted)
