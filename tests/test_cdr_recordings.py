"""GET/DELETE /cdr/<uniqueid>/recording over the test world's monitor spool (real WAV files
laid out as FreePBX's cdr module looks for them), Range requests, the row picked among rows
sharing a uniqueid, names from the database that try to leave the monitor folder, and
/cdr?with_recordings=yes."""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import wave

import pytest

from tests.support import office, world
from tests.support.world import body

COLS = office.CDR_COLUMNS


def recorded_rows():
    """Office rows with a recordingfile, and the file's path relative to the monitor folder."""
    files = world.monitor_files()
    by_name = {rel.rsplit("/", 1)[1]: rel for rel in files}
    return [(r, by_name[r["recordingfile"]]) for r in office.cdr_rows(world.office_now()) if r["recordingfile"]]


def insert(pbx, **kw):
    row = {c: "" for c in COLS}
    row.update(duration=30, billsec=25, amaflags=3, sequence=0, disposition="ANSWERED")
    row.update(kw)
    cols = ", ".join("`%s`" % c for c in row)
    pbx.sql("INSERT INTO cdr (%s) VALUES (%s)" % (cols, ", ".join(["%s"] * len(row))), list(row.values()),
            which="cdr")
    return row


def rec(pbx, uniqueid, **kw):
    return pbx.get("cdr/%s/recording" % uniqueid, **kw)


def test_download_is_the_file_with_audio_headers(pbx):
    rows = recorded_rows()
    assert len(rows) >= 10
    r, rel = rows[0]
    data = world.monitor_files()[rel]
    resp = rec(pbx, r["uniqueid"])
    assert resp.status_code == 200
    assert resp.get_data() == data
    assert resp.headers["Content-Type"] == "audio/wav"
    assert resp.headers["Accept-Ranges"] == "bytes"
    assert resp.headers["Content-Length"] == str(len(data))
    assert resp.headers["X-CDR-Sequence"] == str(r["sequence"])
    assert resp.headers["Content-Disposition"] == 'attachment; filename="%s"' % r["recordingfile"]
    # The file is where FreePBX puts it: monitor/YYYY/MM/DD from the name's date part.
    day = r["recordingfile"].split("-")[3]
    assert rel.startswith("%s/%s/%s/" % (day[:4], day[4:6], day[6:8]))
    with wave.open(io.BytesIO(resp.get_data())) as w:
        assert (w.getnchannels(), w.getframerate(), w.getnframes()) == (1, 8000, 2000)


def test_every_recorded_office_call_downloads(pbx):
    for r, rel in recorded_rows():
        resp = rec(pbx, r["uniqueid"])
        assert resp.status_code == 200, r["uniqueid"]
        assert resp.get_data() == world.monitor_files()[rel]


@pytest.mark.parametrize("header, status, span", [
    ("bytes=0-99", 206, (0, 100)),
    ("bytes=100-", 206, (100, None)),
    ("bytes=-10", 206, (-10, None)),
    ("bytes=50-50", 206, (50, 51)),
    ("bytes=0-999999", 206, (0, None)),       # the end is clipped to the file
])
def test_single_byte_range_is_206(pbx, header, status, span):
    r, rel = recorded_rows()[1]
    data = world.monitor_files()[rel]
    size = len(data)
    resp = rec(pbx, r["uniqueid"], headers={"Range": header})
    assert resp.status_code == status
    a, b = span
    part = data[a:b] if b is not None else data[a:]
    first = a if a >= 0 else size + a
    assert resp.get_data() == part
    assert resp.headers["Content-Range"] == "bytes %d-%d/%d" % (first, first + len(part) - 1, size)
    assert resp.headers["Content-Length"] == str(len(part))
    assert resp.headers["Content-Type"] == "audio/wav"


def test_range_past_the_end_is_416(pbx):
    r, rel = recorded_rows()[1]
    size = len(world.monitor_files()[rel])
    resp = rec(pbx, r["uniqueid"], headers={"Range": "bytes=%d-" % size})
    assert resp.status_code == 416
    assert resp.headers["Content-Range"] == "bytes */%d" % size
    b = body(resp)
    assert b["status"] == 416 and "%d bytes" % size in b["message"]


def test_several_ranges_or_a_malformed_one_send_the_whole_file(pbx):
    r, rel = recorded_rows()[1]
    data = world.monitor_files()[rel]
    for header in ("bytes=0-1,5-6", "bytes=abc", "pages=1-2"):
        resp = rec(pbx, r["uniqueid"], headers={"Range": header})
        assert resp.status_code == 200, header
        assert resp.get_data() == data and "Content-Range" not in resp.headers


def test_not_found_cases(pbx):
    resp = rec(pbx, "1999999999.1")
    assert resp.status_code == 404 and "No call record" in body(resp)["message"]
    plain = next(r for r in office.cdr_rows(world.office_now())
                 if not r["recordingfile"] and not any(
                     o["recordingfile"] for o in office.cdr_rows(world.office_now()) if o["uniqueid"] == r["uniqueid"]))
    resp = rec(pbx, plain["uniqueid"])
    assert resp.status_code == 404 and body(resp)["message"] == "Call %s has no recording" % plain["uniqueid"]
    r, rel = recorded_rows()[2]
    os.unlink(pbx.monitor / rel)
    resp = rec(pbx, r["uniqueid"])
    assert resp.status_code == 404 and "not on disk" in body(resp)["message"]
    assert rec(pbx, "1" * 40).status_code == 404


def test_rows_sharing_a_uniqueid_use_the_first_with_a_file(pbx_rw):
    p = pbx_rw
    t = dt.datetime(2024, 3, 5, 10, 0, 0)
    uid = "1709632800.77"
    name = "in-5551230101-5557654321-20240305-100000-%s.wav" % uid
    insert(p, calldate=t, uniqueid=uid, linkedid=uid, sequence=10)  # first leg: no recording
    insert(p, calldate=t, uniqueid=uid, linkedid=uid, sequence=11, recordingfile="gone-" + name)  # planned, never made
    insert(p, calldate=t + dt.timedelta(seconds=20), uniqueid=uid, linkedid=uid, sequence=12, recordingfile=name)
    insert(p, calldate=t + dt.timedelta(seconds=40), uniqueid=uid, linkedid=uid, sequence=13, recordingfile=name)
    f = p.monitor / "2024" / "03" / "05" / name
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(office.wav_pcm(0.1))
    resp = rec(p, uid)
    assert resp.status_code == 200 and resp.get_data() == f.read_bytes()
    assert resp.headers["X-CDR-Sequence"] == "12"


@pytest.mark.parametrize("stored, where, ctype", [
    ("out-2125550147-102-20240306-110000-1709722800.5.gsm", "2024/03/06/", "audio/x-gsm"),
    ("q-400-5557654321-20240306-110000-1709722800.6.mp3", "2024/03/06/", "audio/mpeg"),
    ("q-400-5557654321-20240306-110000-1709722800.7.ogg", "2024/03/06/", "audio/ogg"),
    ("external-101-5557654321-20240306-110000-1709722800.8.WAV", "2024/03/06/", "audio/wav"),
    ("myrecording.wav", "2024/03/06/", "audio/wav"),                # no date in the name: calldate's day
    ("2024/03/06/in-x-y-20240306-110000-1.wav", "", "audio/wav"),   # stored relative to the monitor folder
])
def test_formats_and_where_the_file_is_looked_for(pbx_rw, stored, where, ctype):
    p = pbx_rw
    uid = "1709722800.%d" % (abs(hash(stored)) % 100000)
    insert(p, calldate=dt.datetime(2024, 3, 6, 11, 0, 0), uniqueid=uid, recordingfile=stored, sequence=5)
    f = p.monitor / (where + stored)
    f.parent.mkdir(parents=True, exist_ok=True)
    data = b"\x01\x02audio-bytes-" + stored.encode()
    f.write_bytes(data)
    resp = rec(p, uid)
    assert resp.status_code == 200, stored
    assert resp.get_data() == data and resp.headers["Content-Type"] == ctype


def test_wav49_name_is_the_WAV_file(pbx_rw):
    p = pbx_rw
    uid = "1709722800.901"
    insert(p, calldate=dt.datetime(2024, 3, 6, 11, 0, 0), uniqueid=uid,
           recordingfile="in-1-2-20240306-110000-%s.wav49" % uid)
    f = p.monitor / "2024" / "03" / "06" / ("in-1-2-20240306-110000-%s.WAV" % uid)
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(office.wav49())
    resp = rec(p, uid)
    assert resp.status_code == 200 and resp.get_data() == office.wav49()
    assert resp.headers["Content-Type"] == "audio/wav"


def test_full_path_inside_the_monitor_folder_is_served(pbx_rw):
    p = pbx_rw
    uid = "1709722800.902"
    f = p.monitor / "2024" / "03" / "06" / "old-style.wav"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(office.wav_pcm(0.05))
    insert(p, calldate=dt.datetime(2024, 3, 6, 11, 0, 0), uniqueid=uid, recordingfile=str(f))
    resp = rec(p, uid)
    assert resp.status_code == 200 and resp.get_data() == f.read_bytes()


def test_names_leading_out_of_the_monitor_folder_are_not_on_disk(pbx_rw):
    p = pbx_rw
    secret = p.root / "secret.wav"
    secret.write_bytes(b"RIFF-not-for-you")
    vm = next(p.spool.rglob("msg0000.wav"))
    link_dir = p.monitor / "2024" / "03" / "07"
    link_dir.mkdir(parents=True, exist_ok=True)
    (link_dir / "in-1-2-20240307-090000-9.wav").symlink_to(secret)
    (p.monitor / "2024" / "linkdir").symlink_to(p.root, target_is_directory=True)
    names = [
        str(secret),                                            # absolute, outside
        "/etc/passwd",
        "../secret.wav",                                        # traversal (also tried under YYYY/MM/DD)
        "../../../secret.wav",
        os.path.relpath(str(vm), str(p.monitor)),               # ../voicemail/default/...
        "in-1-2-20240307-090000-9.wav",                         # a symlink in the tree pointing outside
        "2024/linkdir/secret.wav",                              # a symlinked folder pointing outside
        str(p.monitor) + "/../secret.wav",                      # absolute, starts like the folder
        "in-1-2-2024\x000307-1.wav",                            # NUL
    ]
    for i, name in enumerate(names):
        uid = "1709800000.%d" % i
        insert(p, calldate=dt.datetime(2024, 3, 7, 9, 0, 0), uniqueid=uid, recordingfile=name)
        resp = rec(p, uid)
        assert resp.status_code == 404, name
        assert b"RIFF-not-for-you" not in resp.get_data() and "not on disk" in body(resp)["message"]
        d = p.delete("cdr/%s/recording" % uid)
        assert d.status_code == 404, name
    assert secret.read_bytes() == b"RIFF-not-for-you" and vm.exists()


def test_delete_removes_the_file_keeps_the_row_and_is_audited(pbx):
    r, rel = recorded_rows()[3]
    rows_before = pbx.sql("SELECT * FROM cdr WHERE uniqueid = %s ORDER BY sequence", (r["uniqueid"],), which="cdr")
    resp = pbx.delete("cdr/%s/recording" % r["uniqueid"])
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert body(resp)["data"] == {"uniqueid": r["uniqueid"], "sequence": r["sequence"],
                                  "recordingfile": r["recordingfile"], "deleted": rel}
    assert not (pbx.monitor / rel).exists()
    assert pbx.sql("SELECT * FROM cdr WHERE uniqueid = %s ORDER BY sequence", (r["uniqueid"],),
                   which="cdr") == rows_before
    lines = [json.loads(line) for line in (pbx.root / "audit.log").read_text().splitlines()]
    assert lines[-1]["action"] == "cdr.recording.delete" and lines[-1]["method"] == "DELETE"
    assert lines[-1]["result"]["deleted"] == rel and lines[-1]["user"] == world.API_USER
    assert rec(pbx, r["uniqueid"]).status_code == 404
    again = pbx.delete("cdr/%s/recording" % r["uniqueid"])
    assert again.status_code == 404 and "not on disk" in body(again)["message"]
    # Every other recording is still there.
    left = {str(q.relative_to(pbx.monitor)) for q in pbx.monitor.rglob("*") if q.is_file()}
    assert left == set(world.monitor_files()) - {rel}


def test_other_methods_are_405(pbx):
    r, _ = recorded_rows()[0]
    resp = pbx.post("cdr/%s/recording" % r["uniqueid"])
    assert resp.status_code == 405
    assert set(resp.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "DELETE"}


def test_without_credentials_nothing_is_read_or_deleted(pbx):
    r, rel = recorded_rows()[0]
    assert rec(pbx, r["uniqueid"], auth=False).status_code == 401
    assert pbx.delete("cdr/%s/recording" % r["uniqueid"], auth=False).status_code == 401
    assert (pbx.monitor / rel).exists()


def test_cdr_rows_say_recording_only_when_asked(pbx):
    r, rel = recorded_rows()[0]
    gone_r, gone_rel = recorded_rows()[4]
    os.unlink(pbx.monitor / gone_rel)
    plain = pbx.get("cdr", query_string={"limit": 100000})
    rows = body(plain)["data"]["rows"]
    assert rows and all("recording" not in x for x in rows)
    asked = pbx.get("cdr", query_string={"limit": 100000, "with_recordings": "yes"})
    assert asked.status_code == 200
    rows = body(asked)["data"]["rows"]
    assert len(rows) == len(office.cdr_rows(world.office_now()))
    on_disk = {rel.rsplit("/", 1)[1] for rel in world.monitor_files()} - {gone_rel.rsplit("/", 1)[1]}
    for x in rows:
        assert x["recording"] is (x["recordingfile"] in on_disk), x["uniqueid"]
    assert sum(x["recording"] for x in rows) >= 9
    assert any(x["recordingfile"] and not x["recording"] for x in rows)


def test_monitor_folder_falls_back_to_mixmon_dir_then_the_spool(pbx_rw):
    from rfapi import create_app

    p = pbx_rw
    ini = p.root / "no-monitor.ini"
    ini.write_text("".join(line + "\n" for line in p.ini.read_text().splitlines()
                           if not line.startswith("monitor =")))
    r, rel = recorded_rows()[0]
    data = world.monitor_files()[rel]

    def fetch():
        app = create_app(str(ini))
        try:
            return app.test_client().get("/api/v1/cdr/%s/recording" % r["uniqueid"], headers=p.auth)
        finally:
            app.extensions["rfapi"].close()

    # No [paths] monitor, MIXMON_DIR empty: ASTSPOOLDIR + /monitor (the world's spool/monitor).
    p.sql("UPDATE freepbx_settings SET value = %s WHERE keyword = 'ASTSPOOLDIR'", (str(p.root / "spool"),))
    resp = fetch()
    assert resp.status_code == 200 and resp.get_data() == data
    # MIXMON_DIR set (FreePBX's "Override Call Recording Location"): only there.
    other = p.root / "recordings-elsewhere"
    p.sql("UPDATE freepbx_settings SET value = %s WHERE keyword = 'MIXMON_DIR'", (str(other),))
    assert fetch().status_code == 404
    (other / rel).parent.mkdir(parents=True)
    (other / rel).write_bytes(b"RIFF-elsewhere")
    resp = fetch()
    assert resp.status_code == 200 and resp.get_data() == b"RIFF-elsewhere"


def test_range_and_csv_export_through_apache_and_gunicorn(pbx, tmp_path):
    """As served on a PBX: Apache's /api/v1 snippet in front of gunicorn on a unix socket."""
    from tests.test_apache import CLIENT, SNIPPET_MODULES, Apache, render_snippet, shared_dir
    from tests.support.procs import free_port
    from tests.test_gunicorn import AUTH, request, start_gunicorn

    started = []
    sdir = shared_dir()
    try:
        sock = sdir / "rfapi.sock"
        bind = "unix:%s" % sock
        g = start_gunicorn(pbx.ini, tmp_path / "gunicorn.log", bind, wait_for=str(sock))
        started.append(g)
        port = free_port()
        apache = Apache(tmp_path / "apache", sdir / "htdocs", ["127.0.0.1:%d" % port], render_snippet(bind),
                        modules=SNIPPET_MODULES)
        started.append(apache.start())
        via = ("127.0.0.1", port)
        r, rel = recorded_rows()[0]
        data = world.monitor_files()[rel]
        path = "/api/v1/cdr/%s/recording" % r["uniqueid"]
        whole = request(via, "GET", path, AUTH, source=CLIENT)
        assert whole.status == 200 and whole.body == data, apache.error_log()
        assert whole.headers["content-type"] == "audio/wav" and whole.headers["accept-ranges"] == "bytes"
        part = request(via, "GET", path, dict(AUTH, Range="bytes=44-1043"), source=CLIENT)
        assert part.status == 206 and part.body == data[44:1044]
        assert part.headers["content-range"] == "bytes 44-1043/%d" % len(data)
        bad = request(via, "GET", path, dict(AUTH, Range="bytes=%d-" % (len(data) + 5)), source=CLIENT)
        assert bad.status == 416 and bad.headers["content-range"] == "bytes */%d" % len(data)
        # The CSV export streams through with its cursor header.
        direct = request(str(sock), "GET", "/api/v1/cdr?format=csv&limit=100", AUTH)
        csv_via = request(via, "GET", "/api/v1/cdr?format=csv&limit=100", AUTH, source=CLIENT)
        assert csv_via.status == 200 and csv_via.body == direct.body and csv_via.body.count(b"\r\n") == 101
        assert csv_via.headers["x-next-cursor"] == direct.headers["x-next-cursor"]
        assert csv_via.headers["content-type"] == "text/csv; charset=utf-8"
        gone = request(via, "DELETE", path, AUTH, source=CLIENT)
        assert gone.status == 200 and not (pbx.monitor / rel).exists()
    finally:
        for t in reversed(started):
            t.stop()
        shutil.rmtree(sdir, ignore_errors=True)
