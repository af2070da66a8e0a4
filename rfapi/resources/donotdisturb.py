"""Do-not-disturb (FreePBX donotdisturb module)."""
from __future__ import annotations

from ..params import Param
from ..routing import Resource
from .callforward import EXT_PATH
from ..services import donotdisturb as svc

resource = Resource("donotdisturb", "Do-not-disturb (FreePBX donotdisturb)")

STATUS = {"type": "object", "required": ["extension", "enabled"],
          "properties": {"extension": {"type": "string"},
                         "enabled": {"type": "boolean", "description": "AstDB DND/<ext> = YES"}}}


@resource.route("/donotdisturb/<extension>", "GET", summary="Whether do-not-disturb is on",
                description="On when AstDB DND/<ext> is YES, as FreePBX's GUI reads it; the feature codes *76 "
                            "(toggle), *78 (on) and *79 (off) change the same key.",
                response=STATUS, errors=(404, 503, 504), path_params=EXT_PATH)
def get_dnd(params, extension):
    return svc.get(extension)


@resource.route("/donotdisturb/<extension>", "PUT", summary="Turn do-not-disturb on or off",
                description="Writes what FreePBX's donotdisturb module and *78/*79 write: AstDB DND/<ext> = YES "
                            "(on) or the key deleted (off), and the device states Custom:DND<ext> (part of the "
                            "extension's hint) and Custom:DEVDND<device> for each of its devices: BUSY when on, "
                            "UNAVAILABLE when off. Phones watching the extension see it busy; /events carries "
                            "the hint change as a state event (from Asterisk) and rfapi's write as a config "
                            "event. No reload is needed; the change is in the audit log.",
                response=STATUS, errors=(404, 502, 503, 504), path_params=EXT_PATH,
                params=[Param("enabled", kind="boolean", required=True, example=True,
                              description="true = on, false = off")])
def put_dnd(params, extension):
    return svc.put(extension, params["enabled"])
