"""GET /recordings and the sound-file download: language/format choice, content
types, compound recordings, and nothing ever read outside the sounds directory."""
from __future__ import annotations

import os
from urllib.parse import quote

import pytest

from tests.support import office
from tests.support.world import body


def sound(pbx, lang, name, fmt):
    return (pbx.sounds / lang / ("%s.%s" % (name, fmt))).read_bytes()


def test_list_matches_fixture(pbx):
    r = pbx.get("recordings")
    assert r.status_code == 200
    got = body(r)["data"]
    assert [g["id"] for g in got] == [rec["id"] for rec in office.RECORDINGS]
    for g, want in zip(got, office.RECORDINGS):
        for k in ("id", "displayname", "description", "fcode", "fcode_pass", "fcode_lang"):
            assert g[k] == want[k], k
        assert g["filename"] == want["filename"].split("&")
        assert g["files"] == [{"name": n, "languages": {lang: sorted(fmts) for lang, fmts in want["files"][n].items()}}
                              for n in want["filename"].split("&")]
    assert got[0]["files"] == [{"name": "custom/welcome", "languages": {"en": ["gsm", "ulaw", "wav"],
                                                                         "fr": ["wav"]}}]
    assert got[3]["filename"] == ["custom/holiday-closed", "custom/after-hours"]


def test_list_hides_invalid_placeholders(pbx_rw):
    pbx_rw.sql("INSERT INTO recordings (id, displayname, filename, description) VALUES (9, '__invalid', '', '')")
    assert 9 not in [g["id"] for g in body(pbx_rw.get("recordings"))["data"]]


def test_download_default_language_prefers_wav(pbx):
    r = pbx.get("recordings/%s" % quote("Welcome Greeting"))
    assert r.status_code == 200
    assert r.data == sound(pbx, "en", "custom/welcome", "wav")
    assert r.headers["Content-Type"] == "audio/wav"
    assert r.headers["Content-Disposition"] == "attachment; filename=welcome.wav"
    assert r.headers["Content-Language"] == "en"
    assert r.headers["Content-Length"] == str(len(r.data))


@pytest.mark.parametrize("fmt,ctype", [("gsm", "audio/x-gsm"), ("ulaw", "audio/basic"), ("wav", "audio/wav")])
def test_download_each_format_byte_identical(pbx, fmt, ctype):
    r = pbx.get("recordings/Welcome Greeting", query_string={"format": fmt})
    assert r.status_code == 200
    assert r.data == sound(pbx, "en", "custom/welcome", fmt)
    assert r.headers["Content-Type"] == ctype
    assert r.headers["Content-Disposition"] == "attachment; filename=welcome.%s" % fmt


def test_download_other_language(pbx):
    r = pbx.get("recordings/Welcome Greeting", query_string={"lang": "fr"})
    assert r.status_code == 200
    assert r.data == sound(pbx, "fr", "custom/welcome", "wav")
    assert r.headers["Content-Language"] == "fr"
    assert r.data != sound(pbx, "en", "custom/welcome", "wav")


def test_without_wav_first_format_alphabetically(pbx):
    os.unlink(pbx.sounds / "en" / "custom" / "welcome.wav")
    r = pbx.get("recordings/Welcome Greeting")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "audio/x-gsm"
    assert r.data == sound(pbx, "en", "custom/welcome", "gsm")


@pytest.mark.parametrize("fmt,ctype", [("alaw", "audio/x-alaw-basic"), ("g722", "audio/G722"),
                                       ("sln", "application/octet-stream"), ("mp3", "audio/mpeg"),
                                       ("xyz", "application/octet-stream")])
def test_content_type_by_extension(pbx, fmt, ctype):
    (pbx.sounds / "en" / "custom" / ("after-hours.%s" % fmt)).write_bytes(b"\x01\x02" * 50)
    r = pbx.get("recordings/After Hours", query_string={"format": fmt})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == ctype
    assert r.data == b"\x01\x02" * 50


def test_system_default_language_from_soundlang(pbx_rw):
    pbx_rw.sql("CREATE TABLE soundlang_settings (keyword VARCHAR(20) NOT NULL PRIMARY KEY, value VARCHAR(80))")
    pbx_rw.sql("INSERT INTO soundlang_settings VALUES ('language', 'fr')")
    r = pbx_rw.get("recordings/Welcome Greeting")
    assert r.headers["Content-Language"] == "fr"
    assert r.data == sound(pbx_rw, "fr", "custom/welcome", "wav")
    # A recording without a French file falls back to en, as Asterisk does.
    r = pbx_rw.get("recordings/After Hours")
    assert r.status_code == 200 and r.headers["Content-Language"] == "en"
    assert r.data == sound(pbx_rw, "en", "custom/after-hours", "wav")


def test_dialect_falls_back_to_language(pbx_rw):
    pbx_rw.sql("CREATE TABLE soundlang_settings (keyword VARCHAR(20) NOT NULL PRIMARY KEY, value VARCHAR(80))")
    pbx_rw.sql("INSERT INTO soundlang_settings VALUES ('language', 'fr_CA')")
    r = pbx_rw.get("recordings/Welcome Greeting")
    assert r.headers["Content-Language"] == "fr"


def test_compound_recording_parts(pbx):
    r = pbx.get("recordings/Holiday Closure")
    assert r.status_code == 200
    assert r.data == sound(pbx, "en", "custom/holiday-closed", "wav")
    assert r.headers["Content-Disposition"] == "attachment; filename=holiday-closed.wav"
    r = pbx.get("recordings/Holiday Closure", query_string={"part": "2"})
    assert r.data == sound(pbx, "en", "custom/after-hours", "wav")
    r = pbx.get("recordings/Holiday Closure", query_string={"part": "3"})
    assert r.status_code == 404
    assert body(r) == {"status": 404, "message": "Recording 'Holiday Closure' has 2 parts", "data": None}
    r = pbx.get("recordings/Holiday Closure", query_string={"part": "0"})
    assert r.status_code == 400 and body(r)["data"]["errors"] == {"part": "must be at least 1"}


def test_unknown_name_language_or_format_is_404(pbx):
    r = pbx.get("recordings/No Such Recording")
    assert r.status_code == 404
    assert body(r)["message"] == "Recording 'No Such Recording' not found"
    r = pbx.get("recordings/welcome greeting")  # displayname match is exact, not case-insensitive
    assert r.status_code == 404
    r = pbx.get("recordings/Main Menu Options", query_string={"lang": "fr"})
    assert r.status_code == 404
    assert body(r)["message"] == "Recording 'Main Menu Options' has no sound file in any format (language fr)"
    r = pbx.get("recordings/Main Menu Options", query_string={"format": "gsm"})
    assert r.status_code == 404


def test_file_missing_on_disk_is_404(pbx):
    os.unlink(pbx.sounds / "en" / "custom" / "queue-join.wav")
    r = pbx.get("recordings/Queue Join")
    assert r.status_code == 404
    assert body(r)["message"] == "Recording 'Queue Join' has no sound file in any format (language en)"
    listed = [g for g in body(pbx.get("recordings"))["data"] if g["id"] == 5][0]
    assert listed["files"] == [{"name": "custom/queue-join", "languages": {}}]


@pytest.mark.parametrize("path", [
    "recordings/..", "recordings/../../etc/passwd", "recordings/..%2F..%2Fetc%2Fpasswd",
    "recordings/%2Fetc%2Fpasswd", "recordings/%2e%2e",
])
def test_path_tricks_in_the_name_are_404(pbx, path):
    r = pbx.get(path)
    assert r.status_code == 404
    assert r.headers["Content-Type"] == "application/json"


def test_control_characters_in_the_name_are_400(pbx):
    """Refused before any handler runs, like every path parameter."""
    r = pbx.get("recordings/x%00y")
    assert r.status_code == 400
    assert body(r)["data"]["errors"] == {"name": "must not contain control characters"}


@pytest.mark.parametrize("param,value", [("lang", "../en"), ("lang", "/etc"), ("lang", ".."),
                                          ("format", "wav/../../x"), ("format", "../wav")])
def test_path_tricks_in_parameters_are_400(pbx, param, value):
    r = pbx.get("recordings/Welcome Greeting", query_string={param: value})
    assert r.status_code == 400
    assert list(body(r)["data"]["errors"]) == [param]


def test_stored_filename_leaving_sounds_dir_is_404(pbx_rw, tmp_path):
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "passwd.wav").write_bytes(b"secret")
    rel = os.path.relpath(secret / "passwd", pbx_rw.sounds / "en")
    pbx_rw.sql("INSERT INTO recordings (id, displayname, filename, description) VALUES (20, 'Evil', %s, '')", (rel,))
    pbx_rw.sql("INSERT INTO recordings (id, displayname, filename, description) VALUES (21, 'Abs', %s, '')",
               (str(secret / "passwd"),))
    for name in ("Evil", "Abs"):
        r = pbx_rw.get("recordings/" + name)
        assert r.status_code == 404 and b"secret" not in r.data
    listed = {g["id"]: g for g in body(pbx_rw.get("recordings"))["data"]}
    assert listed[20]["files"] == [{"name": rel, "languages": {}}]


def test_symlink_leaving_sounds_dir_is_404(pbx, tmp_path):
    outside = tmp_path / "etc-passwd"
    outside.write_bytes(b"root:x:0:0")
    target = pbx.sounds / "en" / "custom" / "queue-join.wav"
    target.unlink()
    target.symlink_to(outside)
    r = pbx.get("recordings/Queue Join")
    assert r.status_code == 404 and b"root" not in r.data
    # A symlinked language folder pointing outside is refused the same way.
    (pbx.sounds / "de").symlink_to(tmp_path)
    (tmp_path / "custom").mkdir()
    (tmp_path / "custom" / "welcome.wav").write_bytes(b"outside")
    r = pbx.get("recordings/Welcome Greeting", query_string={"lang": "de"})
    assert r.status_code == 404 and b"outside" not in r.data


def test_symlink_inside_sounds_dir_is_followed(pbx):
    target = pbx.sounds / "en" / "custom" / "queue-join.wav"
    target.unlink()
    target.symlink_to(pbx.sounds / "en" / "custom" / "after-hours.wav")
    r = pbx.get("recordings/Queue Join")
    assert r.status_code == 200 and r.data == sound(pbx, "en", "custom/after-hours", "wav")
