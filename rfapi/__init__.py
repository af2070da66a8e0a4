"""rfapi: the REST API that lives on a FreePBX phone system."""
from __future__ import annotations

__version__ = "0.1.0"

from .app import create_app  # noqa: E402

__all__ = ["create_app", "__version__"]
