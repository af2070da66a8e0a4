"""recordings table (System Recordings) and the system default sound language."""
from __future__ import annotations

COLUMNS = ("id", "displayname", "filename", "description", "fcode", "fcode_pass", "fcode_lang")


def all_recordings(db):
    # Recordings::getAllRecordings skips the placeholder rows named '__invalid'.
    return db.query("SELECT %s FROM recordings WHERE displayname <> '__invalid' OR displayname IS NULL "
                    "ORDER BY id" % ", ".join(COLUMNS), missing_ok=True)


def by_displayname(db, name: str):
    return db.query("SELECT %s FROM recordings WHERE displayname = %%s ORDER BY id" % ", ".join(COLUMNS), (name,),
                    missing_ok=True)


def default_language(db):
    """Soundlang::getLanguage(): soundlang_settings `language` (the table exists
    only with the soundlang module); None when unset."""
    rows = db.query("SELECT value FROM soundlang_settings WHERE keyword = 'language'", missing_ok=True)
    return rows[0]["value"] if rows else None
