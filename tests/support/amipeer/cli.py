"""``Action: Command``: the CLI commands rfapi or tests may send (core show
version, reloads, database show/get/put/del/deltree, pjsip show contacts), any
extra ones a test registers, and Asterisk's exact "No such command" text.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Tuple

from .conn import PeerConn
from .constants import VERSION_LINE
from .text import cli_best_prefix, cli_words, command_output_lines
from .wire import Action, error, response


class CommandHandlers:
    """``Action: Command`` of ``AmiPeer`` (a mixin)."""

    def _a_command(self, conn: PeerConn, act: Action, aid: str) -> bool:
        cmd = act.get("Command", "") or ""
        if not cmd.strip():
            conn.send(error(aid, "No command provided"))
            return True
        ok, text, after = self._cli(cmd)
        fields = [("Message", "Command output follows")]
        fields += [("Output", line) for line in command_output_lines(text)]
        conn.send(response("Success" if ok else "Error", aid, fields))
        if after is not None:
            after()
        return True

    def _cli(self, line: str) -> Tuple[bool, str, Optional[Callable[[], None]]]:
        """Run a CLI command: (success, output text, thing to do after the reply)."""
        words = cli_words(line)
        joined = " ".join(words)
        lw = [w.lower() for w in words]
        with self.lock:
            custom = self.cli_commands.get(joined)
        if custom is not None:
            result = custom(words) if callable(custom) else custom
            if isinstance(result, tuple):
                return bool(result[0]), str(result[1]), None
            return True, str(result), None
        if lw[:3] == ["core", "show", "version"]:
            return True, VERSION_LINE + "\n", None
        if lw in (["core", "reload"], ["reload"], ["module", "reload"]):
            return True, "", lambda: self._do_reload(None)
        if lw[:2] == ["database", "show"] and len(words) <= 4:
            return True, self._cli_database_show(words[2:]), None
        if lw[:2] == ["database", "get"] and len(words) == 4:
            with self.lock:
                val = self.astdb.get("/%s/%s" % (words[2], words[3]))
            return True, ("Value: %s\n" % val if val is not None else "Database entry not found.\n"), None
        if lw[:2] == ["database", "put"] and len(words) == 5:
            with self.lock:
                self.astdb["/%s/%s" % (words[2], words[3])] = words[4]
            return True, "Updated database successfully\n", None
        if lw[:2] == ["database", "del"] and len(words) == 4:
            with self.lock:
                found = self.astdb.pop("/%s/%s" % (words[2], words[3]), None) is not None
            return True, ("Database entry removed.\n" if found else "Database entry does not exist.\n"), None
        if lw[:2] == ["database", "deltree"] and len(words) in (3, 4):
            n = self._db_deltree(words[2], words[3] if len(words) == 4 else "")
            return True, ("%d database entries removed.\n" % n if n else "Database entries do not exist.\n"), None
        if lw[:3] == ["pjsip", "show", "contacts"]:
            return True, self._cli_pjsip_show_contacts(), None
        if words and lw[0] == "database" and len(words) >= 2 and lw[1] in ("get", "put", "del", "deltree"):
            return True, "Usage: database %s\n" % {
                "get": "get <family> <key>", "put": "put <family> <key> <value>",
                "del": "del <family> <key>", "deltree": "deltree <family> [keytree]"}[lw[1]], None
        return False, ("No such command '%s' (type 'core show help %s' for other possible commands)\n"
                       % (joined, cli_best_prefix(words))), None

    def _cli_database_show(self, args: List[str]) -> str:
        prefix = "/" + "/".join(args) if args else ""
        with self.lock:
            rows = sorted((k, v) for k, v in self.astdb.items()
                          if not prefix or k == prefix or k.startswith(prefix + "/"))
        out = ["%-50s: %-25s\n" % (k, v) for k, v in rows]
        out.append("%d results found.\n" % len(rows))
        return "".join(out)

    def _cli_pjsip_show_contacts(self) -> str:
        short = {"Reachable": "Avail", "Unreachable": "Unavail", "NonQualified": "NonQual"}
        with self.lock:
            rows = []
            for aor in self._aor_names():
                for c in self._contacts_for(aor):
                    rows.append((aor, c))
        if not rows:
            return "No objects found.\n\n"
        out = ["\n",
               "  Contact:  <Aor/ContactUri..............................> <Hash....> <Status> <RTT(ms)..>\n",
               "=" * 90 + "\n", "\n"]
        for aor, c in rows:
            ident = self._contact_id(aor, c)
            out.append("  Contact:  %-46.46s %-10.10s %-7.7s %11.3f\n" % (
                "%s/%s" % (aor, c["uri"]), ident.split(";@", 1)[-1],
                short.get(c["status"], c["status"]), int(c["roundtrip_usec"]) / 1000.0))
        out.append("\nObjects found: %d\n\n" % len(rows))
        return "".join(out)
