"""/openapi.json: the OpenAPI 3 document, generated from the route table."""
from flask import Response, request

from ..http import to_json
from ..openapi import document
from ..routing import Resource
from . import all_specs

resource = Resource("openapi", "The API description")


@resource.route("/openapi.json", "GET", summary="OpenAPI 3 document of every route (bare, no envelope)",
                auth=False, envelope=False,
                response={"type": "object", "required": ["openapi", "info", "paths"]})
def openapi(params):
    return Response(to_json(document(all_specs(), request.host_url.rstrip("/"))), mimetype="application/json")
