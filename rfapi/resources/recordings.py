"""System recordings."""
from __future__ import annotations

from flask import send_file

from ..params import Param
from ..routing import Resource
from ..services import recordings as svc

resource = Resource("recordings", "System recordings")

RECORDING = {
    "type": "object",
    "required": ["id", "displayname", "filename", "description", "fcode", "fcode_pass", "fcode_lang", "files"],
    "properties": {
        "id": {"type": "integer", "description": "Destination play-system-recording,<id>,1"},
        "displayname": {"type": "string", "nullable": True, "description": "The name used by GET /recordings/{name}"},
        "filename": {"type": "array", "items": {"type": "string"},
                     "description": "Sound names played in order (FreePBX joins them with &), relative to the "
                                    "language folder, without extension"},
        "description": {"type": "string", "nullable": True},
        "fcode": {"type": "integer", "nullable": True, "description": "1 = re-record feature code *29<id> enabled"},
        "fcode_pass": {"type": "string", "nullable": True},
        "fcode_lang": {"type": "string", "nullable": True},
        "files": {"type": "array", "description": "What is on disk for each sound name",
                  "items": {"type": "object", "required": ["name", "languages"], "properties": {
                      "name": {"type": "string"},
                      "languages": {"type": "object",
                                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                                    "description": "language folder -> formats (file extensions) found"}}}},
    },
}

TYPES = ", ".join("%s → %s" % kv for kv in sorted(svc.CONTENT_TYPES.items()))


@resource.route("/recordings", "GET", summary="Every system recording",
                description="recordings rows by id (the '__invalid' placeholders FreePBX hides are left out), "
                            "with the sound files found under the sounds directory.",
                response={"type": "array", "items": RECORDING}, errors=(503,))
def list_recordings(params):
    return svc.list_recordings()


@resource.route(
    "/recordings/<name>", "GET", produces="audio/*, application/octet-stream", errors=(404, 503),
    summary="Download the sound file of a system recording",
    path_params={"name": "The recording's displayname, exactly"},
    description=(
        "Sends <sounds>/<language>/<sound name>.<format> as an attachment "
        "(Content-Disposition: attachment; filename=<sound name's last part>.<format>), with Content-Language. "
        "Language: `lang` if given (only that one), else the system default language (soundlang's `language` "
        "setting, default en), then that language without its dialect, then en - the order Asterisk searches. "
        "Format: `format` if given, else wav when present, else the first extension in alphabetical order. "
        "A compound recording (several sound names joined with &) sends part `part` (default 1, the first "
        "sound played); a part beyond the last is 404. Content-Type by extension: " + TYPES +
        "; anything else, including raw signed linear (sln*, host-endian PCM), application/octet-stream. "
        "404 if the name is unknown or no such file exists; nothing outside the sounds directory is ever "
        "read (.., absolute names and symlinks leading out count as missing)."),
    params=[
        Param("lang", pattern=r"^[A-Za-z0-9_-]{1,20}$", max_length=20,
              pattern_help="must be a language folder name (letters, digits, _ or -)",
              description="Language folder, e.g. en, fr, en_GB"),
        Param("format", pattern=r"^[A-Za-z0-9]{1,10}$", max_length=10,
              pattern_help="must be a file extension (letters and digits)",
              description="File extension, e.g. wav, gsm, ulaw"),
        Param("part", "integer", minimum=1, maximum=100, default=1,
              description="Which sound of a compound recording (1 = first)"),
    ])
def download(params, name):
    f = svc.sound_file(name, params["lang"], params["format"], params["part"])
    resp = send_file(f["path"], mimetype=svc.content_type(f["format"]), as_attachment=True,
                     download_name=f["filename"], conditional=False, etag=False, max_age=0)
    resp.headers["Content-Language"] = f["language"]
    return resp
