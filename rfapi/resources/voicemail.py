"""Voicemail messages."""
from ..routing import Resource

resource = Resource("voicemail", "Voicemail messages")
