"""Cache control."""
from ..routing import Resource

resource = Resource("cache", "Cache control")
