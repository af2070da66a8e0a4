"""/coffee: RFC 2324. A PBX is not a coffee pot."""
from ..http import reply
from ..routing import Resource

resource = Resource("coffee", "Hyper Text Coffee Pot Control Protocol")


@resource.route("/coffee", "GET", summary="Brew coffee (RFC 2324)", status=418, errors=(418,))
def brew(params):
    return reply(None, 418, "I'm a teapot")
