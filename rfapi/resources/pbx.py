"""/pbx/...: FreePBX framework (reload, need-reload flag, catalogs) and Asterisk reload."""
from __future__ import annotations

from .. import audit
from ..routing import Resource
from ..services import catalog, events, framework

resource = Resource("pbx", "FreePBX framework and Asterisk control")

RELOAD_SCHEMA = {
    "type": "object",
    "properties": {
        "exit_code": {"type": "integer"},
        "messages": {"type": "array", "items": {"type": "string", "nullable": True}},
        "errors": {"type": "array", "items": {"type": "string"}},
        "output": {"type": "array", "items": {"type": "string"}},
    },
}


@resource.route("/pbx/framework/needreload", "GET", summary="FreePBX's need-reload flag",
                response={"type": "boolean"}, errors=(503,))
def get_needreload(params):
    return framework.need_reload()


@resource.route("/pbx/framework/needreload", "POST", summary="Set the need-reload flag (Apply Config button)",
                response={"type": "boolean"}, errors=(503,))
def post_needreload(params):
    result = framework.mark_need_reload()
    audit.record("needreload", result)
    events.changed("needreload", "changed", needreload=True)
    return result


@resource.route("/pbx/framework/reload", "GET", summary="Apply Config: fwconsole reload --json",
                response=RELOAD_SCHEMA, errors=(409, 500, 503, 504), scope="write")
def reload_freepbx(params):
    try:
        result = framework.reload_freepbx()
    except Exception as exc:
        audit.record("fwconsole-reload", {"failed": type(exc).__name__})
        events.changed("reload", "failed", error=type(exc).__name__)
        raise
    audit.record("fwconsole-reload", {"exit_code": result["exit_code"]})
    events.changed("reload", "done", exit_code=result["exit_code"], needreload=False)
    return result


@resource.route("/pbx/asterisk/reload", "GET", summary="Asterisk core reload over AMI",
                response={"type": "object"}, errors=(502, 503, 504), scope="write")
def reload_asterisk(params):
    result = framework.reload_asterisk()
    audit.record("asterisk-reload", result)
    return result


DESTINATION = {
    "type": "object",
    "required": ["destination", "description", "category"],
    "properties": {
        "destination": {"type": "string", "description": "context,exten,priority"},
        "description": {"type": "string"},
        "category": {"type": "string"},
        "module": {"type": "string", "description": "the FreePBX module that owns it"},
        "id": {"type": "string", "nullable": True, "description": "the target's own key (extension, id, ...)"},
    },
}


@resource.route("/pbx/framework/destinations", "GET", errors=(503,),
                summary="Every destination, as FreePBX's modules list them",
                response={"type": "array", "items": DESTINATION})
def get_destinations(params):
    return catalog.destinations()


@resource.route("/pbx/framework/destnumbers", "GET", errors=(503,),
                summary="Dialable numbers in use (extensions, ring groups, queues, conferences)",
                response={"type": "array", "items": {"type": "object", "required": ["number", "kind"],
                                                     "properties": {"number": {"type": "string"},
                                                                    "kind": {"type": "string"}}}})
def get_destnumbers(params):
    return catalog.destnumbers()


@resource.route("/pbx/framework/mohclasses", "GET", errors=(503,),
                summary="Music-on-hold classes",
                response={"type": "array", "items": {"type": "object", "properties": {
                    "id": {"type": "integer", "nullable": True}, "category": {"type": "string"},
                    "type": {"type": "string"}, "random": {"type": "boolean"},
                    "application": {"type": "string"}, "format": {"type": "string"}}}})
def get_mohclasses(params):
    return catalog.mohclasses()
