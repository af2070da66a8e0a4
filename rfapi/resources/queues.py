"""Queues and static members."""
from ..routing import Resource

resource = Resource("queues", "Queues and static members")
