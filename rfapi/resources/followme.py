"""Follow Me."""
from __future__ import annotations

from ..params import Param
from ..routing import Resource
from ..services import followme

resource = Resource("followme", "Follow Me")

EXT_PATH = {"extension": Param("extension", required=True, example="101",
                               description="The extension (FreePBX user) whose Follow Me group this is")}
GRPLIST = {"type": "array", "items": {"type": "string"},
           "description": "The group list as FreePBX stores it: extensions bare, external numbers with a # suffix"}
STATUS = {
    "type": "object",
    "properties": {
        "extension": {"type": "string"},
        "configured": {"type": "boolean", "description": "a findmefollow row exists"},
        "enabled": {"type": "boolean", "description": "as the dialplan decides: configured and "
                                                      "AMPUSER/<ext>/followme/ddial = DIRECT"},
        "ddial": {"type": "string", "nullable": True, "description": "DIRECT (on) / EXTENSION (off)"},
        "grptime": {"type": "integer", "nullable": True, "description": "ring time of the list, seconds"},
        "prering": {"type": "integer", "nullable": True, "description": "seconds the extension rings alone first"},
        "strategy": {"type": "string", "nullable": True},
        "grplist": GRPLIST,
    },
    "required": ["extension", "configured", "enabled", "grplist"],
}
RESULT = {"type": "object", "properties": dict(STATUS["properties"], created={
    "type": "boolean", "description": "the group did not exist and was created with FreePBX's defaults"}),
    "required": STATUS["required"] + ["created"]}


@resource.route("/followme/<extension>", "GET", summary="The follow-me group list", response=GRPLIST,
                errors=(404, 503, 504), path_params=EXT_PATH)
def get_list(params, extension):
    return followme.group_list(extension)


@resource.route("/followme/<extension>/status", "GET", summary="Whether follow-me is enabled, with ring time and list",
                response=STATUS, errors=(404, 503, 504), path_params=EXT_PATH)
def get_status(params, extension):
    return followme.status(extension)


@resource.route("/followme/<extension>/<entry>", "GET", summary="Whether a number is in the follow-me list",
                response={"type": "boolean"}, errors=(400, 404, 503, 504),
                path_params=dict(EXT_PATH, entry=Param("entry", required=True, pattern=followme.NUMBER_PATTERN,
                                                         example="5558675309",
                                                         description="A number (a trailing # is ignored)")))
def get_entry(params, extension, entry):
    return followme.has_entry(extension, entry)


@resource.route("/followme/<extension>", "POST", summary="Change follow-me: add/remove a number, enable, disable",
                description="addExternal / removeExternal need `number`. When the extension has no follow-me "
                            "group yet, addExternal and enable create it with FreePBX's defaults "
                            "(FOLLOWME_* settings); addExternal then leaves it disabled unless "
                            "FOLLOWME_DISABLED is off. Adding a number already listed changes nothing.",
                response=RESULT, errors=(404, 502, 503, 504), path_params=EXT_PATH, params=[
                    Param("action", required=True, enum=followme.ACTIONS, description="What to do", example="enable"),
                    Param("number", max_length=40, pattern=followme.NUMBER_PATTERN,
                          pattern_help=followme.NUMBER_HELP,
                          description="For addExternal/removeExternal: the number (a trailing # forces an "
                                      "external number even if it is also an extension)"),
                ])
def post_action(params, extension):
    return followme.apply(extension, params["action"], params.get("number"))
