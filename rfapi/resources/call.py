"""Click-to-call."""
from ..routing import Resource

resource = Resource("call", "Click-to-call")
