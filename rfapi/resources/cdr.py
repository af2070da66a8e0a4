"""Call detail records."""
from __future__ import annotations

import os

from flask import Response, request
from werkzeug.datastructures import Range
from werkzeug.http import parse_range_header

from ..http import NotFound, reply
from ..params import Param
from ..routing import Resource
from ..services import callrecordings as recsvc
from ..services import cdr as svc

resource = Resource("cdr", "Call detail records")

_INTS = {"duration", "billsec", "amaflags", "sequence"}
ROW = {
    "type": "object",
    "required": list(svc.COLUMNS) + ["timestamp"],
    "properties": dict(
        {c: {"type": "integer"} if c in _INTS else {"type": "string"} for c in svc.COLUMNS},
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


SYNC_DESCRIPTION = (
    " Incremental sync (billing): since=<data.next of the previous sync> returns the rows written after it, "
    "oldest first in write order: by the end of the call chain (MAX(calldate + duration) over the rows sharing "
    "the uniqueid, which Asterisk writes together when that channel ends), then uniqueid, sequence and the "
    "other columns. data.next is never null: store it and pass it back; data.more=true means ask again now. A "
    "row is returned once its chain ended at least 60 s ago (plus CDR_BATCH_TIME with FreePBX's CDR batch "
    "mode), so every row comes exactly once, also when its calldate is older than rows already returned "
    "(long calls end later). To start, since=<Unix time>: every row whose chain ended after it (0: all). "
    "since cannot be combined with start, end or cursor; src, dest, did filter the rows (the chain end is "
    "still computed over the whole chain). Limits: a chain lasting more than 24 h is not returned by sync; "
    "in the hour repeated when local time falls back (CDRUSEGMT off) ends are ambiguous.")

CSV_DESCRIPTION = (
    " format=csv: the same rows in the same order as text/csv (RFC 4180, CRLF), header line with FreePBX's CDR "
    "report column names (" + ",".join(svc.CSV_COLUMNS) + "; calldate as stored), streamed in batches so a "
    "large export (limit up to %d) does not grow the worker's memory; the next cursor is in the X-Next-Cursor "
    "header (absent on the last page; with since it is always there, and X-More: 1/0)." % svc.MAX_CSV_LIMIT)

RECORDING_FIELD = {"type": "boolean", "description": "Only with with_recordings=yes: the file named in "
                                                     "recordingfile is on disk (absent otherwise)"}
ROW["properties"]["recording"] = RECORDING_FIELD
PAGE["properties"]["more"] = {"type": "boolean", "description": "Sync only (since): more rows are ready now"}


@resource.route("/cdr", "GET", summary="Call detail records, newest first, with exact paging; CSV export; "
                                       "incremental sync",
                description=DESCRIPTION + CSV_DESCRIPTION + SYNC_DESCRIPTION, response=PAGE, errors=(503, 504),
                produces="application/json, text/csv", params=[
                    Param("start", description="Unix timestamp: calls that started at or after it (default: "
                                               "the beginning)", **TS),
                    Param("end", description="Unix timestamp: calls that started at or before it (default: now)",
                          **TS),
                    Param("src", max_length=80, description="cdr.src exactly (caller number)"),
                    Param("dest", max_length=80, description="cdr.dst exactly (dialled number / destination)"),
                    Param("did", max_length=50, description="cdr.did exactly (inbound DID)"),
                    Param("limit", "integer", minimum=1, maximum=svc.MAX_CSV_LIMIT, default=svc.DEFAULT_LIMIT,
                          description="Rows per page (1-%d; up to %d with format=csv)" % (
                              svc.MAX_LIMIT, svc.MAX_CSV_LIMIT)),
                    Param("cursor", max_length=400, pattern=r"^[A-Za-z0-9_-]+$",
                          pattern_help="is not a cursor returned by this API (use data.next of the previous page)",
                          description="data.next of the previous page"),
                    Param("since", max_length=400, pattern=r"^[A-Za-z0-9_-]+$",
                          pattern_help="is not a sync cursor returned by this API (data.next of the previous "
                                       "sync), nor a Unix time",
                          description="Incremental sync: data.next of the previous sync, or a Unix time to start; "
                                      "not with start, end or cursor"),
                    Param("format", "enum", enum=("json", "csv"), default="json",
                          description="json (the envelope) or csv (text/csv download, FreePBX's columns)"),
                    Param("with_recordings", "boolean", default=False,
                          description="Add `recording` (true/false: the recording file is on disk) to each row; "
                                      "one file check per row with a recordingfile"),
                ])
def search(params):
    if params["format"] == "csv":
        chunks, nxt, more = svc.export_csv(params)
        resp = Response(chunks, status=200, mimetype="text/csv")
        resp.headers["Content-Type"] = "text/csv; charset=utf-8"
        resp.headers["Content-Disposition"] = 'attachment; filename="cdr.csv"'
        if nxt is not None:
            resp.headers["X-Next-Cursor"] = nxt
        if params["since"] is not None:
            resp.headers["X-More"] = "1" if more else "0"
        return resp
    return svc.search(params)


# -- call recordings ------------------------------------------------------------------

_CHUNK = 64 * 1024
REC_PATH = {"uniqueid": Param("uniqueid", required=True, example="1718112615.405",
                              description="cdr.uniqueid of the call (exactly), e.g. 1718112615.405")}


def _file_body(fh, start: int, length: int):
    try:
        fh.seek(start)
        left = length
        while left > 0:
            chunk = fh.read(min(_CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
    finally:
        fh.close()


def _safe_filename(path: str) -> str:
    name = os.path.basename(path)
    return "".join(c if c.isalnum() or c in "._-+@" else "_" for c in name) or "recording"


@resource.route(
    "/cdr/<uniqueid>/recording", "GET", produces="audio/*, application/octet-stream", errors=(404, 416, 503),
    summary="Download the call recording of a CDR", path_params=REC_PATH,
    description=(
        "The file named in cdr.recordingfile, from FreePBX's monitor folder ([paths] monitor; default "
        "MIXMON_DIR, else ASTSPOOLDIR/monitor), in YYYY/MM/DD/ taken from the name's date part as FreePBX's cdr "
        "module does (else the row's calldate); a stored full path is accepted only inside the monitor folder. "
        "Several rows share a uniqueid (legs of one channel): the oldest row (calldate, sequence) whose file is "
        "on disk is used and named in X-CDR-Sequence. Content-Type by extension (wav/WAV audio/wav, gsm "
        "audio/x-gsm, mp3 audio/mpeg, ogg audio/ogg, ...). Range: one byte range (bytes=a-b, a-, -n) answers 206 "
        "with Content-Range; a range beyond the end 416 with Content-Range: bytes */<size>; several ranges are "
        "ignored (200, whole file). 404 when no row has that uniqueid, the row has no recordingfile, or the file "
        "is not on disk (a name leading outside the monitor folder counts as not on disk)."))
def get_recording(params, uniqueid):
    row, path = recsvc.find(uniqueid) if len(uniqueid) <= 32 else _no_row(uniqueid)
    fh = open(path, "rb")
    try:
        size = os.fstat(fh.fileno()).st_size
        status, start, length = 200, 0, size
        headers = {"Accept-Ranges": "bytes", "X-CDR-Sequence": str(row["sequence"]),
                   "Content-Disposition": 'attachment; filename="%s"' % _safe_filename(path)}
        raw = request.headers.get("Range")
        if raw is not None:
            rng = parse_range_header(raw)
            if rng is not None and rng.units == "bytes" and len(rng.ranges) == 1:
                if rng.ranges[0][0] < 0 and -rng.ranges[0][0] > size > 0:
                    rng = Range("bytes", [(-size, None)])  # a suffix longer than the file is all of it
                span = rng.range_for_length(size)
                if span is None:
                    fh.close()
                    return reply(None, 416, "Range Not Satisfiable: the file has %d bytes" % size,
                                 {"Content-Range": "bytes */%d" % size, "Accept-Ranges": "bytes"})
                start, stop = span
                status, length = 206, stop - start
                headers["Content-Range"] = "bytes %d-%d/%d" % (start, stop - 1, size)
    except BaseException:
        fh.close()
        raise
    resp = Response(_file_body(fh, start, length), status=status, mimetype=recsvc.mimetype(path),
                    direct_passthrough=True)
    resp.headers["Content-Length"] = str(length)
    for k, v in headers.items():
        resp.headers[k] = v
    return resp


def _no_row(uniqueid):
    raise NotFound("No call record with uniqueid %s" % uniqueid[:32])


@resource.route(
    "/cdr/<uniqueid>/recording", "DELETE", errors=(404, 503), path_params=REC_PATH,
    summary="Delete the call recording of a CDR (the CDR row stays)",
    description="Removes the file GET would send (same rules); the cdr row, its recordingfile included, is "
                "left as it is (FreePBX's CDR report then shows no recording). Audited.",
    response={"type": "object", "required": ["uniqueid", "sequence", "recordingfile", "deleted"], "properties": {
        "uniqueid": {"type": "string"}, "sequence": {"type": "integer", "description": "the row used"},
        "recordingfile": {"type": "string"},
        "deleted": {"type": "string", "description": "path removed, relative to the monitor folder"}}})
def delete_recording(params, uniqueid):
    if len(uniqueid) > 32:
        _no_row(uniqueid)
    return recsvc.delete(uniqueid)
