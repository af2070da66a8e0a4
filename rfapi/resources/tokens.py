"""Scoped API tokens (Bearer) beside Basic auth; managed only with Basic credentials."""
from __future__ import annotations

from flask import current_app

from .. import audit
from ..params import Param
from ..routing import BASIC_ONLY, Resource
from ..services import tokens as svc

resource = Resource("tokens", "Scoped API tokens for clients that need less than full admin rights")

_TOKEN = {
    "type": "object",
    "required": ["id", "name", "scopes", "created", "last_used"],
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
        "name": {"type": "string"},
        "scopes": {"type": "array", "items": {"type": "string", "enum": list(svc.SCOPES)}},
        "created": {"type": "string", "description": "UTC, ISO 8601"},
        "last_used": {"type": "string", "nullable": True,
                      "description": "UTC, ISO 8601; recorded at most once a minute per worker"},
    },
}
_CREATED = dict(_TOKEN, required=_TOKEN["required"] + ["token"], properties=dict(
    _TOKEN["properties"], token={"type": "string", "description": "rfapi_<id>_<secret>: shown only in this "
                                                                   "answer, never again"}))


def _tokens() -> svc.Tokens:
    return current_app.extensions["rfapi.tokens"]


@resource.route("/tokens", "POST", summary="Create an API token (its secret is shown once)", status=201,
                params=[Param("name", required=True, max_length=svc.NAME_MAX, check=svc.check_name,
                              description="what the token is for, e.g. \"wallboard\" (printable, at most 64)"),
                        Param("scopes", "array", required=True, max_length=20, check=svc.check_scopes,
                              description="one or more of: " + "; ".join(
                                  "%s (%s)" % kv for kv in svc.SCOPES.items()), example='["read", "events"]')],
                response=_CREATED, errors=(503,), scope=BASIC_ONLY)
def create_token(params):
    out = _tokens().create(params["name"], params["scopes"])
    audit.record("tokens.create", {"id": out["id"], "name": out["name"], "scopes": out["scopes"]})
    return out, "Created: keep the token now, it is not shown again"


@resource.route("/tokens", "GET", summary="Every API token (never the secrets)",
                response={"type": "array", "items": _TOKEN}, errors=(503,), scope=BASIC_ONLY)
def list_tokens(params):
    return _tokens().list()


@resource.route("/tokens/<token_id>", "DELETE", summary="Revoke an API token (at once, in every worker)",
                response=_TOKEN, errors=(404, 503), scope=BASIC_ONLY,
                path_params={"token_id": Param("token_id", pattern="[0-9a-f]{16}", example="0123456789abcdef",
                                               description="the token's id (16 hex digits, the part after "
                                                           "rfapi_)")})
def revoke_token(params, token_id):
    out = _tokens().revoke(token_id)
    audit.record("tokens.revoke", {"id": out["id"], "name": out["name"]})
    return out
