"""AMI adapter: the only code that speaks the Asterisk Manager Interface.

pyst2 (``asterisk.manager``) is the client library; on Python 3.11 it has
defects, each worked around without touching pyst2 itself (the table is in
``pyst2patch``). One job per module:

* ``errors``     the typed failures callers catch (unreachable, timeout, bad input)
* ``wire``       framing, the CR/LF/NUL refusal, message parsing
* ``pyst2patch`` pyst2's Manager with reader, parser and send path replaced
* ``client``     ``AMI``: the shared request connection, AstDB, originate-and-wait
* ``feed``       ``EventFeed``: the long-lived events-on connection for live state

The adapter depends on no other part of rfapi: it is the boundary, services sit
above it. Everything callers use is re-exported here: one import path for
services and tests alike.
"""
from __future__ import annotations

from .client import AMI
from .errors import AmiError, AmiInputError, AmiTimeout, AmiUnavailable
from .feed import EventFeed
from .pyst2patch import Manager, login
from .wire import FORBIDDEN, Headers, Message, check_field, list_complete, parse_block, parse_message, shutting_down

__all__ = [
    "AMI", "AmiError", "AmiInputError", "AmiTimeout", "AmiUnavailable", "EventFeed", "FORBIDDEN",
    "Headers", "Manager", "Message", "check_field", "list_complete", "login", "parse_block",
    "parse_message", "shutting_down",
]
