"""Call flow control toggles (FreePBX daynight module)."""
from ..routing import Resource

resource = Resource("callflowcontrols", "Call flow control toggles (FreePBX daynight module)")
