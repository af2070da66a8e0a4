"""Time conditions and time groups."""
from ..routing import Resource

resource = Resource("timeconditions", "Time conditions and time groups")
