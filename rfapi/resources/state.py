"""Device state and presence."""
from ..routing import Resource

resource = Resource("state", "Device state and presence")
