"""/openapi.json: the OpenAPI 3 document, generated from the route table."""
from flask import Response, request

from ..openapi import document
from ..http import to_json
from ..routing import Resource

resource = Resource("openapi", "The API description")


@resource.route("/openapi.json", "GET", summary="OpenAPI 3 document of every route (bare, no envelope)",
                auth=False, envelope=False,
                response={"type": "object", "required": ["openapi", "info", "paths"]})
def openapi(params):
    return Response(to_json(document(request.host_url.rstrip("/"))), mimetype="application/json")
