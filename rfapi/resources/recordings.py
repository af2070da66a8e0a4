"""System recordings."""
from ..routing import Resource

resource = Resource("recordings", "System recordings")
