"""The event stream behind ``GET /events``: one hub per process, fed by

* the process's one AMI event connection (the live state table's ``EventFeed``,
  shared: ``add_listener``; the mask grows to ``call,system`` for ContactStatus
  and PeerStatus), translated on the reader thread into small JSON events;
* rfapi's own writes, from every worker: each write appends one JSON line to the
  journal ``<cache>/events.journal`` and bumps the shared counter
  ``<cache>/events.generation`` (``SharedCounter``: a memory-mapped number); one
  thread per process compares that number every ``JOURNAL_POLL`` s (a memory
  read, no system call) and reads the new lines when it moved. A file rather than
  an AMI UserEvent: writes are announced while Asterisk is down too, no other AMI
  client sees rfapi's traffic, and a write does not wait for an AMI round trip.

Every event is appended once, as finished SSE text (``id:``, ``event:``, ``data:``),
to a bounded buffer (``BUFFER`` events, ``MAX_AGE`` s) and numbered; subscribers do
not get copies: each keeps a cursor into the buffer and waits on one condition.
Publishing is an append and a ``notify_all``, so neither the AMI reader nor any
subscriber ever waits for another subscriber. A subscriber that falls ``MAX_BEHIND``
events behind (a client that does not read) gets a final ``dropped`` event and its
stream ends; a blocked socket write is cut after ``SEND_TIMEOUT`` s.

Ids are ``<origin>-<number>``: the origin is random per process, because each
gunicorn worker numbers its own stream. ``Last-Event-ID`` from this process and
still in the buffer replays what was missed; anything else (another worker, a
restarted one, older than the buffer) gets one ``resync`` event: re-read ``/state``
and ``/registrations``. After a lost AMI connection the hub publishes ``resync``
to everyone as well (events of the gap are gone)."""
from __future__ import annotations

from .announce import changed  # noqa: F401
from .calls import CallTracker  # noqa: F401
from .hub import Hub, build, close_all, hub, hub_of  # noqa: F401
from .journal import JOURNAL, JOURNAL_COUNTER, Journal, JournalReader  # noqa: F401
from .model import AMI_EVENTS, AMI_MASK, CONTROL, TYPES, Event, device_extension, max_streams, utc  # noqa: F401
from .sse import stream  # noqa: F401
from .translate import translate  # noqa: F401
