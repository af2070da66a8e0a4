"""FreePBX administrators (ampusers)."""
from __future__ import annotations

from ..params import Param
from ..routing import Resource
from ..services import ampusers

resource = Resource("ampusers", "FreePBX administrators (ampusers)")

ADMIN = {
    "type": "object",
    "description": "An ampusers row without its password hash",
    "properties": {
        "username": {"type": "string"},
        "sections": {"type": "array", "items": {"type": "string"},
                     "description": "Permission slugs; \"*\" = ALL SECTIONS"},
        "full_access": {"type": "boolean", "description": "sections include \"*\" (may use this API)"},
        "extension_low": {"type": "string"}, "extension_high": {"type": "string"},
        "deptname": {"type": "string"}, "email": {"type": "string", "nullable": True},
        "extension": {"type": "string", "nullable": True},
    },
    "required": ["username", "sections", "full_access"],
}
USER_PATH = {"username": Param("username", required=True, example="ops",
                              description="The administrator's user name")}

_PASSWORD = Param("password", required=True, secret=True, max_length=255, example="a long passphrase",
                  description="Stored only as FreePBX's SHA-1 hash; a 40-hex-digit value is hashed too "
                              "(never taken as a pre-computed hash)")
_SECTIONS = Param("sections", kind="array", required=True, max_length=190,
                  items_pattern=r"\*|[A-Za-z0-9][A-Za-z0-9_.-]*",
                  description="JSON-encoded array of permission slugs, e.g. [\"*\"] (ALL SECTIONS) or "
                              "[\"extensions\", \"did\", \"99\"]; stored ;-joined as FreePBX does",
                  example=["*"])


@resource.route("/ampusers", "GET", summary="Every administrator (never the password hashes)",
                response={"type": "array", "items": ADMIN}, errors=(503,))
def list_admins(params):
    return ampusers.list_admins()


# The issue names GET on the write routes as "planned: listing admins"; the
# listing is implemented, so GET /ampusers/add answers it too (an alias).
resource.route("/ampusers/add", "GET", summary="Every administrator (alias of GET /ampusers)",
               response={"type": "array", "items": ADMIN}, errors=(503,))(list_admins)


@resource.route("/ampusers/add", "POST", summary="Create an administrator", status=201, response=ADMIN,
                errors=(409, 503, 504), params=[
                    Param("username", required=True, max_length=190, pattern=r"[A-Za-z][A-Za-z0-9]*",
                          pattern_help="must be a letter followed by letters or digits",
                          names="/ampusers/<username>", example="ops"),
                    _PASSWORD, _SECTIONS,
                ])
def add_admin(params):
    return ampusers.add_admin(params["username"], params["password"], params["sections"]), "Created"


@resource.route("/ampusers/<username>", "GET", summary="One administrator (never the password hash)",
                response=ADMIN, errors=(404, 503), path_params=USER_PATH)
def get_admin(params, username):
    return ampusers.get_admin(username)


@resource.route("/ampusers/<username>", "PUT", summary="Replace an administrator's password and sections",
                response=ADMIN, errors=(404, 409, 503, 504), path_params=USER_PATH,
                params=[_PASSWORD, _SECTIONS])
def update_admin(params, username):
    return ampusers.update_admin(username, params["password"], params["sections"])


@resource.route("/ampusers/<username>", "DELETE", summary="Delete an administrator (never the last full one)",
                response=ADMIN, errors=(404, 409, 503, 504), path_params=USER_PATH)
def delete_admin(params, username):
    return ampusers.delete_admin(username)
