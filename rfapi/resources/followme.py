"""Follow Me."""
from ..routing import Resource

resource = Resource("followme", "Follow Me")
