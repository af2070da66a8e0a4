"""/test: is the API up and am I authenticated? Echoes the method, nothing secret."""
from flask import request

from ..routing import Resource

resource = Resource("test", "Liveness and credentials check")

ECHO = {"type": "object", "properties": {"method": {"type": "string"}}, "required": ["method"]}


def _echo(params):
    return {"method": request.method}


for _method in ("GET", "POST", "PUT", "DELETE"):
    resource.route("/test", _method, summary="Echo the method (%s)" % _method, response=ECHO)(_echo)
