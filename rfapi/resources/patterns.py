"""Outbound routes and dial patterns."""
from ..routing import Resource

resource = Resource("patterns", "Outbound routes and dial patterns")
