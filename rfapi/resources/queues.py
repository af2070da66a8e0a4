"""Queues and static members."""
from __future__ import annotations

from ..routing import Resource
from ..services import queues as svc

resource = Resource("queues", "Queues and static members")

S = {"type": "string"}
NS = {"type": "string", "nullable": True}
I = {"type": "integer"}
NI = {"type": "integer", "nullable": True}

MEMBER = {
    "type": "object",
    "required": ["interface", "extension", "penalty", "data"],
    "properties": {
        "interface": {"type": "string", "description": "e.g. Local/101@from-queue/n"},
        "extension": {"type": "string", "nullable": True,
                      "description": "The extension of a Local/<ext>@... agent; null for other interfaces"},
        "penalty": {"type": "integer", "nullable": True},
        "data": {"type": "string", "description": "The member row as stored"},
    },
}

QUEUE = {
    "type": "object",
    "required": ["extension", "descr", "grppre", "alertinfo", "ringing", "maxwait", "password", "ivr_id", "dest",
                 "cwignore", "queuewait", "use_queue_context", "togglehint", "qnoanswer", "callconfirm",
                 "callconfirm_id", "qregex", "agentannounce_id", "joinannounce_id", "monitor_type", "monitor_heard",
                 "monitor_spoken", "callback_id", "settings", "members"],
    "properties": {
        "extension": {"type": "string", "description": "Queue number; destination ext-queues,<extension>,1"},
        "descr": S, "grppre": S, "alertinfo": S,
        "ringing": {"type": "integer", "description": "1 = ring instead of music on hold"},
        "maxwait": {"type": "string", "description": "Seconds, or ''"},
        "password": {"type": "string", "description": "Agent login PIN"},
        "ivr_id": {"type": "string", "description": "Break-out IVR id, or none/0"},
        "dest": {"type": "string", "description": "Fail-over destination"},
        "cwignore": I, "queuewait": NI, "use_queue_context": NI, "togglehint": NI, "qnoanswer": NI,
        "callconfirm": NI, "callconfirm_id": NI, "qregex": NS,
        "agentannounce_id": {"type": "integer", "nullable": True, "description": "recordings.id"},
        "joinannounce_id": {"type": "integer", "nullable": True, "description": "recordings.id"},
        "monitor_type": NS, "monitor_heard": NI, "monitor_spoken": NI, "callback_id": S,
        "settings": {"type": "object", "additionalProperties": {"type": "string"},
                     "description": "queues_details keyword -> data (queues.conf options such as strategy, "
                                    "timeout, retry, music), member rows excepted"},
        "members": {"type": "array", "items": MEMBER, "description": "Static agents in position order"},
    },
}


@resource.route("/queues", "GET", summary="Every queue with its settings and static members",
                description="queues_config rows by queue number; queues_details options as a dict; the static "
                            "agents (member rows, ordered by flags) parsed. Dynamic agents live in AstDB and "
                            "are not listed here.",
                response={"type": "array", "items": QUEUE}, errors=(503,))
def list_queues(params):
    return svc.list_queues()
