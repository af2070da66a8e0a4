"""Conferences (FreePBX conferences/meetme)."""
from ..routing import Resource

resource = Resource("conferences", "Conferences (FreePBX conferences/meetme)")
