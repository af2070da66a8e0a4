"""Announcements (FreePBX announcement module)."""
from ..routing import Resource

resource = Resource("announcements", "Announcements (FreePBX announcement module)")
