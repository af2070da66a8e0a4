"""FreePBX administrators (ampusers)."""
from ..routing import Resource

resource = Resource("ampusers", "FreePBX administrators (ampusers)")
