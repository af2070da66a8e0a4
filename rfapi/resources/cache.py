"""Cache control."""
from __future__ import annotations

from ..http import BadRequest
from ..params import Param
from ..routing import Resource
from ..services import extcache

resource = Resource("cache", "Cache control")

CONTEXTS = ("extensions",)
ACTIONS = ("reload",)


@resource.route("/cache/<context>", "POST", summary="Rebuild a cache (context=extensions, action=reload)",
                params=[Param("action", required=True, enum=ACTIONS, description="reload", example="reload")],
                response={"type": "object", "properties": {"context": {"type": "string"},
                                                           "extensions": {"type": "integer"}}},
                errors=(400, 503), path_params={"context": Param("context", required=True, enum=CONTEXTS, example="extensions",
                                                              description="extensions")})
def post_cache(params, context):
    if context not in CONTEXTS:
        raise BadRequest({"context": "must be one of: %s" % ", ".join(CONTEXTS)})
    return {"context": context, "extensions": extcache.reload()}, "Reloaded"
