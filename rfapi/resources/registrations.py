"""SIP registrations."""
from ..routing import Resource

resource = Resource("registrations", "SIP registrations")
