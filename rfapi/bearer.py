"""Bearer auth: ``Authorization: Bearer rfapi_<id>_<secret>`` (rfapi/services/tokens.py).

A refused token counts toward the same per-address lock-out as a wrong Basic
password (rfapi.auth.record_failure) and is logged with the token's id at most,
never the secret. The route table decides what a token may then do
(rfapi/routing.py: each route's scope)."""
from __future__ import annotations

from typing import Optional

from flask import current_app, request

from .auth import REALM, User, record_failure
from .http import ApiError
from .services.tokens import BadToken, Tokens

QUERY_PARAM = "access_token"


def presented(header: Optional[str], query_token: bool) -> bool:
    """Does this request offer a token (rather than Basic credentials or nothing)?"""
    if header is not None:
        return header.split(" ", 1)[0].strip().lower() == "bearer"
    return query_token and QUERY_PARAM in request.args


def _presented_token(header: Optional[str]) -> str:
    if header is not None:
        parts = header.split(" ", 1)
        return parts[1].strip(" ") if len(parts) == 2 else ""
    values = request.args.getlist(QUERY_PARAM)
    return values[0] if len(values) == 1 else ""


def authenticate(header: Optional[str]) -> User:
    tokens: Tokens = current_app.extensions["rfapi.tokens"]
    try:
        token = tokens.verify(_presented_token(header))
    except BadToken as exc:
        record_failure("token:%s" % exc.token_id if exc.token_id else "token", exc.reason)
        raise ApiError("Unauthorized", status=401, headers={
            "WWW-Authenticate": 'Bearer realm="%s", error="invalid_token"' % REALM}) from None
    return User("token:%s" % token.id, "token", True, frozenset(token.scopes), token.name)
