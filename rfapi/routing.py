"""The route table: each resource declares its routes here once; the same
declarations route requests, validate parameters, answer 405/501, require auth
and produce the OpenAPI document (rfapi/openapi.py)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

from flask import Blueprint, Response, g, request
from werkzeug.routing import BaseConverter, Rule

from . import params as P
from .routewords import route_words, words_beside  # noqa: F401 (re-exported: the route table's words)
from .auth import authenticate
from .http import BadRequest, Forbidden, reply

ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# The scope an API token needs for a route (rfapi/services/tokens.py SCOPES):
# "read" for a GET, "write" for any other method, unless the route says otherwise.
# BASIC_ONLY: no token at all (managing tokens needs the admin's own credentials).
BASIC_ONLY = "basic-only"
# A parameter that, when true, needs one more scope (GET ...?secrets=yes).
PARAM_SCOPES = {"secrets": "secrets"}


def default_scope(method: str) -> str:
    return "read" if method.upper() == "GET" else "write"


@dataclass
class RouteSpec:
    rule: str
    method: str
    handler: Optional[Callable]
    summary: str = ""
    description: str = ""
    params: Sequence[P.Param] = ()
    response: Optional[Dict[str, Any]] = None  # JSON schema of "data" on success
    status: int = 200                            # success status
    errors: Sequence[int] = ()                   # extra documented error statuses
    planned: bool = False                        # declared but not implemented -> 501
    auth: bool = True
    produces: str = "application/json"           # e.g. "audio/*" for downloads
    tag: str = ""
    path_params: Dict[str, str] = field(default_factory=dict)  # name -> description
    envelope: bool = True                        # False: the response is the bare document
    scope: str = ""                              # a token's scope for this route ("": from the method)
    array_body: str = ""                         # a bare JSON array body is this parameter


def _word_free(blueprint: Blueprint, rule: str) -> str:
    """The rule with its last variable unable to match a route word beside it: PUT
    /ampusers/add is not "change admin add" (a name rfapi refuses) but a method
    /ampusers/add does not have (405, and Allow lists only what it has)."""
    m = list(re.finditer(r"<([A-Za-z_]+)>", rule))
    if not m:
        return rule
    name = "rfapi_word_free_%d" % (len(_CONVERTERS) + 1)

    class WordFree(BaseConverter):
        # Built when the rule joins an app's URL map (every route is declared by then).
        # A regex, not a to_python refusal: werkzeug checks methods before converting,
        # so only a segment that does not match at all keeps Allow exact.
        def __init__(self, url_map, *args, **kwargs):
            super().__init__(url_map, *args, **kwargs)
            words = route_words(rule)
            if words:
                self.regex = r"(?!(?:%s)$)[^/]+" % "|".join(re.escape(w) for w in words)

    _CONVERTERS[name] = WordFree
    blueprint.record(lambda state: state.app.url_map.converters.setdefault(name, WordFree))
    last = m[-1]
    return rule[:last.start()] + "<%s:%s>" % (name, last.group(1)) + rule[last.end():]


_CONVERTERS: Dict[str, Any] = {}


class Resource:
    """One blueprint per resource (a FreePBX module's worth of routes)."""

    def __init__(self, name: str, description: str = ""):
        self.name = name
        self.description = description
        self.blueprint = Blueprint(name, __name__)
        self.specs: List[RouteSpec] = []

    def route(self, rule: str, method: str = "GET", *, summary: str = "", description: str = "",
              params: Sequence[P.Param] = (), response: Optional[Dict[str, Any]] = None,
              status: int = 200, errors: Sequence[int] = (), auth: bool = True,
              produces: str = "application/json", path_params: Optional[Dict[str, str]] = None,
              envelope: bool = True, scope: str = "", array_body: str = ""):
        """Decorate ``handler(params, **url_args)``; it returns data (wrapped in the
        envelope with ``status``), a (data, message) tuple, or a Response."""

        def deco(fn: Callable) -> Callable:
            spec = RouteSpec(rule, method.upper(), fn, summary or (fn.__doc__ or "").strip().split("\n")[0],
                             description or (fn.__doc__ or "").strip(), tuple(params), response, status,
                             tuple(errors), False, auth, produces, self.name, path_params or {}, envelope,
                             scope, array_body)
            self._add(spec)
            return fn

        return deco

    def planned(self, rule: str, method: str, summary: str = "") -> None:
        """A method on the roadmap: answers 501 Not Implemented."""
        self._add(RouteSpec(rule, method.upper(), None, summary or "Planned; not implemented yet",
                            planned=True, tag=self.name))

    def _add(self, spec: RouteSpec) -> None:
        spec.scope = spec.scope or default_scope(spec.method)
        self.specs.append(spec)
        endpoint = "%s_%s_%s" % (self.name, spec.method.lower(), len(self.specs))
        self.blueprint.add_url_rule(_word_free(self.blueprint, spec.rule), endpoint, _view(spec),
                                    methods=[spec.method], provide_automatic_options=False)


def _view(spec: RouteSpec) -> Callable:
    secret_names = [p.name for p in spec.params if p.secret]  # what the audit log redacts
    param_scopes = {p.name: PARAM_SCOPES[p.name] for p in spec.params if p.name in PARAM_SCOPES}
    query_token = spec.scope == "events"  # EventSource cannot send an Authorization header

    def view(**url_args):
        scopes = None
        if spec.auth:  # before anything else, 501 included: without credentials, nothing is learnt
            scopes = authenticate(query_token).scopes
            if scopes is not None:
                _check_scope(spec.scope, scopes)
        if spec.planned:
            return reply(None, 501, "Not Implemented: %s %s is planned" % (spec.method, request.path))
        bad = {k: "must not contain control characters" for k, v in url_args.items()
               if isinstance(v, str) and P.has_control(v)}
        if bad:
            raise BadRequest(bad)
        raw = P.gather(spec.array_body)
        if query_token:
            raw.pop("access_token", None)
        values = P.validate(spec.params, raw)
        if scopes is not None:
            for name, scope in param_scopes.items():
                if values.get(name):
                    _check_scope(scope, scopes, "%s=yes" % name)
        gg = g._get_current_object()
        gg.rfapi_params = values
        gg.rfapi_secret_params = secret_names
        result = spec.handler(values, **url_args)
        if isinstance(result, Response):
            return result
        if isinstance(result, tuple):
            data, message = result
            return reply(data, spec.status, message)
        return reply(result, spec.status)

    view.__name__ = "%s_%s" % (spec.method.lower(), re.sub(r"[^A-Za-z0-9_]", "_", spec.rule))
    return view


def _check_scope(needed: str, scopes, what: str = "") -> None:
    """403 naming the scope a token lacks (Basic credentials have every scope)."""
    if needed == BASIC_ONLY:
        raise Forbidden("Forbidden: an API token cannot manage tokens; use Basic credentials",
                        {"scope": None})
    if needed not in scopes:
        raise Forbidden("Forbidden: this token needs the scope '%s'%s" % (needed, " for " + what if what else ""),
                        {"scope": needed})


class LazyBuilderRule(Rule):
    """A URL rule whose URL builders are compiled when first used, not when it is added.

    Werkzeug generates and compiles two Python functions per rule for ``url_for``: about
    85% of building the app, which every gunicorn worker (and every test) does. Answering
    a request only matches rules; rfapi builds no URL from an endpoint, and if something
    does, the builder is compiled then."""

    def _compile_builder(self, append_unknown: bool = True) -> Callable:
        compiled: List[Callable] = []

        def build(rule: Rule, *args: Any, **kwargs: Any):
            if not compiled:
                compiled.append(Rule._compile_builder(rule, append_unknown))
            return compiled[0](rule, *args, **kwargs)

        return build
