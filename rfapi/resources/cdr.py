"""Call detail records."""
from ..routing import Resource

resource = Resource("cdr", "Call detail records")
