"""Ring groups."""
from ..routing import Resource

resource = Resource("ringgroups", "Ring groups")
