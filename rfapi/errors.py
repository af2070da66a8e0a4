"""The errors a service raises to end a request with a given status.

HTTP-free (no Flask, no werkzeug), so services and data access can raise them;
the web layer (``rfapi.http``/``rfapi.app``) turns each into the JSON envelope.
The reason phrases are fixed here rather than taken from the running Python,
whose wording changed between versions (413, 422 in 3.13)."""
from __future__ import annotations

from http import HTTPStatus
from typing import Any, Dict, Optional

_REASONS = {
    404: "Not Found",
    413: "Request Entity Too Large",
    414: "Request URI Too Long",
    418: "I'm a teapot",
    422: "Unprocessable Entity",
}


def reason(status: int) -> str:
    """The standard reason phrase of an HTTP status ("Unknown" for none)."""
    if status in _REASONS:
        return _REASONS[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class ApiError(Exception):
    """Raise anywhere in a request to answer with this status/message/data."""

    status = 500

    def __init__(self, message: Optional[str] = None, data: Any = None, status: Optional[int] = None,
                 headers: Optional[Dict[str, str]] = None):
        if status is not None:
            self.status = status
        self.message = message or reason(self.status)
        self.data = data
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(ApiError):
    """400 with ``data: {"errors": {field: why}}``."""

    status = 400

    def __init__(self, errors: Dict[str, str], message: Optional[str] = None):
        if message is None:
            fields = ", ".join(sorted(errors))
            message = "Invalid parameter%s: %s" % ("s" if len(errors) > 1 else "", fields)
        super().__init__(message, {"errors": errors})


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class TooManyRequests(ApiError):
    status = 429


class ServiceUnavailable(ApiError):
    status = 503


class GatewayTimeout(ApiError):
    status = 504
