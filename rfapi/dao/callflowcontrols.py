"""daynight table (Call Flow Control) and the toggles' feature codes."""
from __future__ import annotations


def rows(db):
    """Every daynight row; several per toggle, ``dmode`` says what ``dest`` holds (SCHEMA §4)."""
    return db.query("SELECT ext, dmode, dest FROM daynight ORDER BY ext, dmode, dest", missing_ok=True)


def featurecodes(db):
    """The toggles' codes: (daynight, toggle-mode-<index>), default *28<index>."""
    return db.query("SELECT featurename, defaultcode, customcode, enabled FROM featurecodes "
                    "WHERE modulename = 'daynight' AND featurename LIKE 'toggle-mode-%%'", missing_ok=True)
