"""Full configuration dump of extensions."""
from __future__ import annotations

from ..params import Param
from ..routing import Resource
from ..services import extdump

resource = Resource("extdump", "Full configuration dump of extensions")

SECRETS = Param("secrets", kind="boolean", default=False,
                description="include SIP secrets, voicemail PINs and user passwords (audit-logged); "
                            "default: null in their place")
DUMP = {
    "type": "object",
    "properties": {
        "extension": {"type": "string"},
        "tech": {"type": "string"},
        "user": {"type": "object", "description": "the users row"},
        "device": {"type": "object", "nullable": True, "description": "the devices row"},
        "sip": {"type": "object", "description": "every sip keyword -> data, in flags order"},
        "followme": {"type": "object", "nullable": True, "description": "the findmefollow row"},
        "voicemail": {"type": "object", "nullable": True,
                      "description": "voicemail.conf box: context, pwd, name, email, pager, options"},
    },
}


@resource.route("/extdump", "GET", summary="Every configuration item of every extension (no AstDB)",
                params=[SECRETS], response={"type": "array", "items": DUMP}, errors=(503,))
def dump_all(params):
    return extdump.dump_all(params["secrets"])


@resource.route("/extdump/<extension>", "GET", summary="One extension's configuration plus its AstDB",
                params=[SECRETS], errors=(404, 503, 504), path_params={"extension": "extension number"},
                response=dict(DUMP, properties=dict(DUMP["properties"], astdb={
                    "type": "object", "description": "'/FAMILY/key' -> value (AMPUSER, DEVICE, CW, DND, CF...)"})))
def dump_one(params, extension):
    return extdump.dump_one(extension, params["secrets"])
