"""Inbound routes (DIDs)."""
from ..routing import Resource

resource = Resource("dids", "Inbound routes (DIDs)")
