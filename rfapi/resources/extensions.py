"""Extensions (users, devices) and the extensions cache listing."""
from ..routing import Resource

resource = Resource("extensions", "Extensions (users, devices) and the extensions cache listing")
