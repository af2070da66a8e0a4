"""IVRs and their entries."""
from ..routing import Resource

resource = Resource("ivrs", "IVRs and their entries")
