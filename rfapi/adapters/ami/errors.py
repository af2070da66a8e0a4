"""The AMI adapter's typed failures: what callers catch and map to HTTP answers.

Kept apart so services can tell "Asterisk unreachable" (503) from "Asterisk slow"
(504) from "the caller sent a field that would break framing" (400) without
knowing anything about the wire or pyst2."""
from __future__ import annotations


class AmiError(Exception):
    """Base of AMI failures."""


class AmiUnavailable(AmiError):
    """Asterisk cannot be reached, refused the login, or dropped the connection."""


class AmiTimeout(AmiError):
    """Asterisk accepted the action but did not answer within the timeout."""


class AmiInputError(AmiError, ValueError):
    """A header name or value would break AMI framing (CR, LF or NUL)."""

    def __init__(self, field: str):
        super().__init__("%s contains a forbidden character" % field)
        self.field = field
