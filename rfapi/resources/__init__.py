"""The resources: one module (and one Flask blueprint) per FreePBX thing.

Registered in this one place; each module defines ``resource = Resource(...)``."""

# Order is the order of the OpenAPI document.
MODULES = [
    "liveness",
    "coffee",
    "pbx",
    "announcements",
    "callflowcontrols",
    "conferences",
    "dids",
    "ivrs",
    "patterns",
    "queues",
    "ringgroups",
    "timeconditions",
    "recordings",
    "cdr",
    "extensions",
    "cache",
    "extdump",
    "ampusers",
    "tokens",
    "followme",
    "callforward",
    "donotdisturb",
    "callwaiting",
    "call",
    "state",
    "registrations",
    "voicemail",
    "events",
    "openapi",
]


def load():
    """Every resource, in document order (the one route registry)."""
    import importlib

    from ..routewords import use_rules

    loaded = [importlib.import_module("%s.%s" % (__name__, m)).resource for m in MODULES]
    use_rules([spec.rule for res in loaded for spec in res.specs])
    return loaded


def all_specs():
    """Every route of every resource: what the OpenAPI document and the tests list."""
    return [spec for res in load() for spec in res.specs]
