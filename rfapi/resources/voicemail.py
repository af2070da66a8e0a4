"""Voicemail messages."""
from __future__ import annotations

from flask import Response

from ..params import Param
from ..routing import Resource
from ..services import voicemail

resource = Resource("voicemail", "Voicemail messages")

MESSAGE = {
    "type": "object",
    "required": ["id", "folder", "file", "callerid", "origtime", "duration", "flag", "formats"],
    "properties": {
        "id": {"type": "string", "description": "msg_id (stable), or <Folder>-msgNNNN without one"},
        "msg_id": {"type": "string", "nullable": True},
        "folder": {"type": "string", "enum": list(voicemail.FOLDERS)},
        "file": {"type": "string", "description": "msgNNNN (changes when the folder is renumbered)"},
        "number": {"type": "integer"},
        "callerid": {"type": "string"},
        "callerid_name": {"type": "string"},
        "callerid_number": {"type": "string"},
        "origtime": {"type": "integer", "nullable": True, "description": "Unix time"},
        "origdate": {"type": "string"},
        "date": {"type": "string", "nullable": True, "description": "ISO 8601, UTC"},
        "duration": {"type": "integer", "nullable": True, "description": "seconds"},
        "flag": {"type": "string"},
        "urgent": {"type": "boolean"},
        "origmailbox": {"type": "string"}, "context": {"type": "string"}, "exten": {"type": "string"},
        "callerchan": {"type": "string"}, "category": {"type": "string"},
        "formats": {"type": "array", "items": {"type": "string"}, "description": "audio files present"},
        "mailbox": {"type": "string"}, "vm_context": {"type": "string"},
    },
}

DELETED = {
    "type": "object",
    "properties": {
        "mailbox": {"type": "string"}, "context": {"type": "string"},
        "deleted": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "folder": {"type": "string"}, "file": {"type": "string"}}}},
        "renumbered": {"type": "object", "description": "folder -> [{from, to}] renames made to keep "
                                                        "msg0000.. contiguous"},
        "mwi_refreshed": {"type": "boolean"},
        "mwi_error": {"type": "string"},
    },
}

PATHS = {"ext": Param("ext", required=True, example="101", description="the extension (mailbox)"),
         "message": Param("message", required=True, example="msg0000", pattern=voicemail.ID_PATTERN,
                          description="msg_id, msgNNNN (= INBOX/msgNNNN) or <Folder>-msgNNNN")}


@resource.route("/voicemail/<ext>", "GET", summary="Every message of the mailbox, newest first",
                response={"type": "array", "items": MESSAGE}, errors=(404, 503),
                path_params={"ext": PATHS["ext"]})
def get_messages(params, ext):
    return voicemail.list_messages(ext)


@resource.route("/voicemail/<ext>/<message>", "GET", summary="Download a message's audio",
                params=[Param("format", max_length=10, pattern=r"^[A-Za-z0-9-]{1,10}$",
                              pattern_help="must be a format name such as wav, WAV, wav49 or gsm",
                              description="wav, WAV (wav49), gsm, ...; default: the first present of "
                                          "wav, WAV, mp3, ogg, gsm, ...")],
                produces="audio/*, application/octet-stream", errors=(400, 404, 503), path_params=PATHS)
def get_audio(params, ext, message):
    data, ctype, name = voicemail.audio(ext, message, params["format"])
    resp = Response(data, status=200, mimetype=ctype)
    resp.headers["Content-Disposition"] = 'attachment; filename="%s"' % name
    resp.headers["Content-Length"] = str(len(data))
    return resp


@resource.route("/voicemail/<ext>/<message>", "DELETE", summary="Delete one message",
                response=DELETED, errors=(400, 404, 409, 503), path_params=PATHS)
def delete_message(params, ext, message):
    return voicemail.delete_messages(ext, [message])


@resource.route("/voicemail/<ext>", "POST", summary="Delete several messages (all or nothing)",
                params=[Param("messages", "array", required=True, max_length=80,
                              items_pattern=voicemail.ID_PATTERN, example=["msg0001"],
                              description="message ids (messages[]=..., repeated messages=..., or a JSON "
                                          "array); any unknown id: 404 listing them, nothing deleted")],
                response=DELETED, errors=(400, 404, 409, 503), path_params={"ext": PATHS["ext"]})
def delete_messages(params, ext):
    return voicemail.delete_messages(ext, params["messages"])
