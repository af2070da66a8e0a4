"""Call detail records."""
from __future__ import annotations

from ..dao.cdr import COLUMNS
from ..params import Param
from ..routing import Resource
from ..services import cdr as svc

resource = Resource("cdr", "Call detail records")

_INTS = {"duration", "billsec", "amaflags", "sequence"}
ROW = {
    "type": "object",
    "required": list(COLUMNS) + ["timestamp"],
    "properties": dict(
        {c: {"type": "integer"} if c in _INTS else {"type": "string"} for c in COLUMNS},
        calldate={"type": "string",
                  "description": "Call start (cdr.calldate) as ISO 8601 with the PBX's UTC offset, "
                                 "e.g. 2024-06-11T09:30:15-04:00 (no offset for a date outside the Unix range)"},
        timestamp={"type": "integer", "nullable": True,
                   "description": "calldate as a Unix timestamp (null outside the Unix range)"},
    ),
}

PAGE = {
    "type": "object",
    "required": ["rows", "count", "next"],
    "properties": {
        "rows": {"type": "array", "items": ROW, "description": "Newest first"},
        "count": {"type": "integer", "description": "Rows in this page"},
        "next": {"type": "string", "nullable": True,
                 "description": "Opaque cursor: pass it back as `cursor` (with the same filters) for the next, "
                                "older page; null when this page is the last. The page after the cursor starts "
                                "exactly after the last row of this one, even among rows of the same second."},
    },
}

TS = dict(kind="integer", minimum=0, maximum=svc.MAX_TIMESTAMP)

DESCRIPTION = (
    "Rows of the CDR database's cdr table (every column), newest first. Filters combine with AND; start and "
    "end are inclusive Unix timestamps. calldate is stored in the PBX's local time (UTC when FreePBX's "
    "CDRUSEGMT is on); bounds are converted by MariaDB in the same statement (calldate >= "
    "FROM_UNIXTIME(start)) and `timestamp` is UNIX_TIMESTAMP(calldate), so both use one time zone and a row "
    "at the boundary second is included. Paging: ask with `limit`; while data.next is not null, repeat the "
    "request with cursor=data.next. The order is total (calldate, uniqueid, sequence, then the other columns), "
    "so each row is returned exactly once across pages, including rows that share a second. Rows written "
    "after the first page with an older calldate (CDRs are written when a call ends) appear only in a new "
    "search. The query walks the calldate index (a range) newest first and reads about limit rows; dest and "
    "did may use their own indexes; src has no index in FreePBX's schema, so narrow start/end when "
    "filtering on src over a large table. Errors: a bad timestamp or limit, start after end (when both are "
    "given) or a cursor this API did not issue -> 400 naming the parameter.")


@resource.route("/cdr", "GET", summary="Call detail records, newest first, with exact paging",
                description=DESCRIPTION, response=PAGE, errors=(503, 504), params=[
                    Param("start", description="Unix timestamp: calls that started at or after it (default: "
                                               "the beginning)", **TS),
                    Param("end", description="Unix timestamp: calls that started at or before it (default: now)",
                          **TS),
                    Param("src", max_length=80, description="cdr.src exactly (caller number)"),
                    Param("dest", max_length=80, description="cdr.dst exactly (dialled number / destination)"),
                    Param("did", max_length=50, description="cdr.did exactly (inbound DID)"),
                    Param("limit", "integer", minimum=1, maximum=svc.MAX_LIMIT, default=svc.DEFAULT_LIMIT,
                          description="Rows per page (1-%d)" % svc.MAX_LIMIT),
                    Param("cursor", max_length=400, pattern=r"^[A-Za-z0-9_-]+$",
                          pattern_help="is not a cursor returned by this API (use data.next of the previous page)",
                          description="data.next of the previous page"),
                ])
def search(params):
    return svc.search(params)
