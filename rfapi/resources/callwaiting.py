"""Call waiting (FreePBX callwaiting module)."""
from __future__ import annotations

from ..params import Param
from ..routing import Resource
from .callforward import EXT_PATH
from ..services import callwaiting as svc

resource = Resource("callwaiting", "Call waiting (FreePBX callwaiting)")

STATUS = {"type": "object", "required": ["extension", "enabled"],
          "properties": {"extension": {"type": "string"},
                         "enabled": {"type": "boolean", "description": "AstDB CW/<ext> = ENABLED"}}}


@resource.route("/callwaiting/<extension>", "GET", summary="Whether call waiting is on",
                description="On when AstDB CW/<ext> is ENABLED; off when the key is missing. New extensions "
                            "start with it on when FreePBX's ENABLECW setting is on. The feature codes *70 (on) "
                            "and *71 (off) change the same key.",
                response=STATUS, errors=(404, 503, 504), path_params=EXT_PATH)
def get_cw(params, extension):
    return svc.get(extension)


@resource.route("/callwaiting/<extension>", "PUT", summary="Turn call waiting on or off",
                description="Writes what FreePBX's callwaiting module and *70/*71 write: AstDB CW/<ext> = "
                            "ENABLED (on) or the key deleted (off). Takes effect on the next call, no reload. "
                            "A virtual extension cannot have it turned on (409). Announced on /events as a "
                            "config event and written to the audit log.",
                response=STATUS, errors=(404, 409, 502, 503, 504), path_params=EXT_PATH,
                params=[Param("enabled", kind="boolean", required=True, example=True,
                              description="true = on, false = off")])
def put_cw(params, extension):
    return svc.put(extension, params["enabled"])
