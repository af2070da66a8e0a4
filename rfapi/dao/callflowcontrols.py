"""daynight table (Call Flow Control) and the toggles' feature codes."""
from __future__ import annotations

from ..text import text


def rows(db):
    """Every daynight row; several per toggle, ``dmode`` says what ``dest`` holds (SCHEMA §4)."""
    return db.query("SELECT ext, dmode, dest FROM daynight ORDER BY ext, dmode, dest", missing_ok=True)


def featurecodes(db):
    """The toggles' codes: (daynight, toggle-mode-<index>), default *28<index>."""
    return db.query("SELECT featurename, defaultcode, customcode, enabled FROM featurecodes "
                    "WHERE modulename = 'daynight' AND featurename LIKE 'toggle-mode-%%'", missing_ok=True)


def exists(db, index: str) -> bool:
    """A toggle exists when it has its fc_description row (daynight_list())."""
    rows = db.query("SELECT ext FROM daynight WHERE ext = %s AND dmode = 'fc_description'", (index,),
                    missing_ok=True)
    return any(text(r["ext"]) == index for r in rows)
