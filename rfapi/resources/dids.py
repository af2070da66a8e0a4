"""Inbound routes (DIDs)."""
from __future__ import annotations

from .. import destinations
from ..params import Param, require_changes
from ..routing import Resource
from ..services import dids

resource = Resource("dids", "Inbound routes (DIDs)")

_S = {"type": "string", "nullable": True}
ROUTE = {
    "type": "object",
    "description": "One row of FreePBX's incoming table, with its column names. `extension` is the DID "
                   "('' = any DID), `cidnum` the caller-ID number matched ('' = any caller).",
    "properties": {
        "extension": {"type": "string"}, "cidnum": _S, "destination": _S, "description": _S,
        "mohclass": {"type": "string"}, "privacyman": {"type": "integer", "nullable": True},
        "pmmaxretries": _S, "pmminlength": _S, "alertinfo": _S, "ringing": _S, "fanswer": _S, "reversal": _S,
        "grppre": _S, "delay_answer": {"type": "integer", "nullable": True}, "pricid": _S, "rvolume": _S,
        "indication_zone": _S,
    },
    "required": ["extension", "cidnum", "destination"],
}
ROUTES = {"type": "array", "items": ROUTE}
DID_PATH = {"did": Param("did", required=True, example="5559990001",
                         description="The DID exactly as stored (5551234567 and 15551234567 are different DIDs)")}


@resource.route("/dids", "GET", summary="Every inbound route", response=ROUTES, errors=(503,))
def list_dids(params):
    return dids.list_dids()


@resource.route("/dids/<did>", "GET", summary="The inbound routes of one DID (exact match, every CID)",
                response=ROUTES, errors=(404, 503), path_params=DID_PATH)
def get_did(params, did):
    return dids.get_did(did)


@resource.route("/did/add", "POST", summary="Create an inbound route (any caller ID) like FreePBX's GUI",
                status=201, response=ROUTE, errors=(409, 503, 504), params=[
                    Param("did", required=True, max_length=50, pattern=r"\+?[0-9]+",
                          pattern_help="must be digits with an optional leading +",
                          description="The DID: digits with an optional leading +", example="5559990001"),
                    Param("destination", default=dids.DEFAULT_DESTINATION, max_length=50,
                          pattern=destinations.PATTERN, pattern_help=destinations.HELP,
                          description="Where calls go (context,exten,priority); must exist on the PBX"),
                    Param("mohclass", default=dids.DEFAULT_MOHCLASS, max_length=80,
                          description="Music-on-hold class; must exist"),
                    Param("description", max_length=80, description="Default: the DID"),
                ])
def add_did(params):
    return dids.add_did(params), "Created"


@resource.route("/did/<did>", "DELETE", summary="Delete every inbound route of exactly this DID",
                response=ROUTES, errors=(404, 503, 504), path_params=DID_PATH)
def delete_did(params, did):
    return dids.delete_did(did)


UPDATE_PARAMS = [
    Param("cidnum", max_length=50, empty=True,
          description="caller-ID number of the route ('' = the any-caller route); required when "
                      "the DID has several routes"),
    Param("destination", max_length=50, pattern=destinations.PATTERN, pattern_help=destinations.HELP,
          description="Where calls go (context,exten,priority); must exist on the PBX"),
    Param("description", max_length=80, empty=True, description="'' clears it", example="Main line"),
    Param("mohclass", max_length=80, description="Music-on-hold class; must exist"),
]


@resource.route("/did/<did>", "PUT", summary="Change an inbound route (only what is sent), like FreePBX's edit",
                description="Core::editDIDProperties: the sent columns of one route, validated like POST /did/add; "
                            "sets need-reload when something changed. A DID with several routes (different caller "
                            "IDs) needs cidnum to say which one.",
                response=ROUTE, errors=(400, 404, 503, 504), path_params=DID_PATH, params=UPDATE_PARAMS)
def update_did(params, did):
    require_changes(UPDATE_PARAMS, selectors=("cidnum",))
    return dids.update_did(did, params)

