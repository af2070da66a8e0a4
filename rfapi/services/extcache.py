"""The extensions cache (shared by every gunicorn worker).

Interface used by every write (extensions, follow-me, voicemail settings, …):
``invalidate()`` — call after any successful change that affects an extension's
listing. The implementation lives with the extensions resource (issue 4)."""
from __future__ import annotations


def invalidate() -> None:
    """Mark the cache stale (no-op until the cache exists)."""
    return None
