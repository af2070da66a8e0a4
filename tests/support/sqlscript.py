"""FreePBX's reference schema scripts, made loadable into a throwaway world: split
into statements (comments and quoted text respected), and every statement pointed
at the world's database instead of FreePBX's own (never ``asterisk`` itself)."""
from __future__ import annotations

import re
from typing import List


def split_sql(text: str) -> List[str]:
    """Split an SQL script into statements.

    `;` ends a statement only outside quotes ('...', "...", `...`) and outside
    comments (``-- ``, ``#``, ``/* */``). Plain comments are dropped;
    MariaDB executable comments ``/*! ... */`` are kept because the server acts
    on them. DELIMITER blocks are not supported (the reference files have none).
    """
    statements: List[str] = []
    buf: List[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in ("'", '"', "`"):
            j = i + 1
            while j < n:
                if text[j] == "\\" and c != "`":
                    j += 2
                    continue
                if text[j] == c:
                    if j + 1 < n and text[j + 1] == c:  # doubled quote = escaped
                        j += 2
                        continue
                    break
                j += 1
            if j >= n:
                raise ValueError("unterminated quoted string in SQL script")
            buf.append(text[i:j + 1])
            i = j + 1
        elif c == "#" or (text.startswith("--", i) and (i + 2 == n or text[i + 2] in " \t\r\n")):
            j = text.find("\n", i)
            i = n if j < 0 else j  # keep the newline as a separator
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise ValueError("unterminated /* comment in SQL script")
            if text.startswith("/*!", i):
                buf.append(text[i:j + 2])
            else:
                buf.append(" ")
            i = j + 2
        elif c == ";":
            stmt = "".join(buf).strip()
            if stmt:
                statements.append(stmt)
            buf = []
            i += 1
        else:
            buf.append(c)
            i += 1
    tail = "".join(buf).strip()
    if tail:
        statements.append(tail)
    return statements


def adapt_statements(statements: List[str], source_db: str, target_db: str) -> List[str]:
    """Point CREATE DATABASE / USE at `target_db`; reject anything else naming `source_db`."""
    create_re = re.compile(
        r"^(CREATE\s+DATABASE\s+(?:IF\s+NOT\s+EXISTS\s+)?)`?%s`?(\s.*)?$" % re.escape(source_db),
        re.IGNORECASE | re.DOTALL)
    use_re = re.compile(r"^USE\s+`?%s`?$" % re.escape(source_db), re.IGNORECASE)
    qualified_re = re.compile(r"`?\b(asterisk|asteriskcdrdb)\b`?\s*\.", re.IGNORECASE)
    out = []
    saw_create = False
    for stmt in statements:
        m = create_re.match(stmt)
        if m:
            out.append("%s`%s`%s" % (m.group(1), target_db, m.group(2) or ""))
            saw_create = True
        elif use_re.match(stmt):
            out.append("USE `%s`" % target_db)
        elif re.match(r"^(CREATE|DROP)\s+DATABASE|^USE\s", stmt, re.IGNORECASE):
            raise ValueError("unexpected database statement in schema: %r" % stmt[:80])
        elif qualified_re.search(stmt):
            # A db-qualified name would write into the real FreePBX database.
            raise ValueError("schema statement names a real database: %r" % stmt[:80])
        else:
            out.append(stmt)
    if not saw_create:
        raise ValueError("schema has no CREATE DATABASE `%s` statement" % source_db)
    return out
