"""What the benchmark prints and judges: the live log lines, the final table, the
verdict per target and the py-spy profile digest. Pure functions of the results
dict, so a saved JSON can be re-read and re-printed the same way."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO = Path(__file__).resolve().parents[2]


def log(msg: str = "") -> None:
    print(msg, flush=True)


IDLE_LEAVES = {"Condition.wait", "_worker", "EpollSelector.select", "PollSelector.select", "select",
               "Arbiter.wait_for_signals", "SocketIO.readinto", "Event.wait", "Thread._wait_for_tstate_lock",
               "Queue.get", "sleep", "Arbiter.sleep"}


def profile_summary(path: Path, top: int = 25) -> str:
    """Top functions by self and by inclusive CPU samples, from py-spy's raw (collapsed) output."""
    self_count: Dict[str, int] = {}
    incl: Dict[str, int] = {}
    total = idle = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        n_i = int(n)
        # "func (file:line)" -> "func (file)": one entry per function, repo-relative paths.
        frames = [re.sub(r":\d+\)$", ")", f).replace(str(REPO) + "/", "") for f in stack.split(";")
                  if f and not f.startswith("process ")]
        if not frames or frames[-1].split(" ")[0] in IDLE_LEAVES:
            idle += n_i  # a thread parked in a wait/select/recv: not CPU work
            continue
        total += n_i
        self_count[frames[-1]] = self_count.get(frames[-1], 0) + n_i
        for f in set(frames):
            incl[f] = incl.get(f, 0) + n_i
    if not total:
        return "no samples"
    lines = ["%d busy samples at 200 Hz, all rfapi workers (%d more in waits: I/O, locks, idle threads)"
             % (total, idle), "self:"]
    lines += ["  %5.1f%% %s" % (100.0 * c / total, f) for f, c in sorted(self_count.items(), key=lambda x: -x[1])[:top]]
    lines += ["inclusive (rfapi/, flask, werkzeug, MySQLdb, asterisk frames):"]
    lines += ["  %5.1f%% %s" % (100.0 * c / total, f) for f, c in sorted(incl.items(), key=lambda x: -x[1])
              if any(k in f for k in ("rfapi/", "flask", "werkzeug", "MySQLdb", "asterisk", "json"))][:top]
    return "\n".join(lines)


def evaluate(results: Dict[str, Any]) -> List[Dict[str, Any]]:
    out = []
    for p in results["pairs"]:
        out.append({"what": p["name"], "value": p.get("ratio"), "target": p.get("target"), "holds": p.get("holds"),
                    "status": p["status"]})
    for t in results["throughput"]:
        if "name" in t:
            out.append({"what": t["name"], "value": t["ratio"], "target": t["target"], "holds": t["holds"],
                        "status": "ok"})
    ed = results.get("extdump")
    if ed:
        bounded = ed["sql_statements"] < 50
        out.append({"what": "GET /extdump SQL statements", "value": ed["sql_statements"],
                    "target": "bounded (not one per extension)", "holds": bounded, "status": "ok"})
        out.append({"what": "GET /extdump worker peak RSS MB", "value": ed["worker_peak_rss_mb"],
                    "target": "bounded (reported)", "holds": None, "status": "ok"})
    return out


def _ms(v) -> str:
    return "-" if v is None else ("%.2f" % v if v < 10 else "%.1f" % v if v < 1000 else "%.0f" % v)


def log_pair(row: Dict[str, Any]) -> None:
    a, b = row["api"], row["baseline"]
    log("  %-28s api median %8s ms p95 %8s  |  baseline median %8s ms p95 %8s  |  ratio %5s  %s"
        % (row["name"], _ms(a["median_ms"]), _ms(a["p95_ms"]), _ms(b["median_ms"]), _ms(b["p95_ms"]),
           row["ratio"], verdict(row.get("holds"))))


def verdict(holds: Optional[bool]) -> str:
    return "ok" if holds else ("MISSED" if holds is False else "-")


def table(results: Dict[str, Any]) -> str:
    m = results["meta"]
    lines = []
    lines.append("rfapi benchmark %s  (%s)" % (m.get("date"), m.get("size")))
    lines.append("machine: %s CPU(s) %s, %s GB RAM, %s, MariaDB %s (buffer pool %s MB), Python %s, gunicorn %s"
                 % (m.get("cpus"), m.get("cpu", "?"), m.get("mem_gb"), m.get("platform"), m.get("mariadb"),
                    m.get("innodb_buffer_pool_mb"), m.get("python"), m.get("gunicorn")))
    lines.append("load average at start %s, at end %s (shared machine); code: %s"
                 % (" ".join("%.2f" % x for x in m.get("loadavg_start", ())),
                    " ".join("%.2f" % x for x in m.get("loadavg_end", ())), m.get("git")))
    sd = results.get("seeding", {})
    lines.append("data: %s extensions (%s with voicemail, %s follow-me), %s DIDs, %s CDR rows over %s days, "
                 "%s hints, %s contacts, %s AstDB keys; seeding %s s (CDR: %s)"
                 % (sd.get("extensions"), sd.get("voicemail_boxes"), sd.get("followme_groups"), sd.get("dids"),
                    sd.get("cdr_rows"), sd.get("cdr_days"), sd.get("hints"), sd.get("contacts"), sd.get("astdb_keys"),
                    sd.get("seconds"), sd.get("cdr_method")))
    lines.append("server: %s; load: %s; latency: %s sequential keep-alive requests per series, API and "
                 "baseline alternating" % (results.get("gunicorn"), m.get("load_tool"), m.get("requests_per_latency_series")))
    lines.append("")
    hdr = "%-30s %9s %9s %8s | %9s %9s %8s | %6s %9s %s" % ("latency pair", "api p50", "api p95", "api r/s",
                                                              "base p50", "base p95", "base r/s", "ratio", "target",
                                                              "")
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for p in results["pairs"]:
        if p["status"] != "ok":
            lines.append("%-30s %s" % (p["name"], p["status"]))
            continue
        a, b = p["api"], p["baseline"]
        lines.append("%-30s %9s %9s %8s | %9s %9s %8s | %6s %9s %s"
                     % (p["name"], _ms(a["median_ms"]), _ms(a["p95_ms"]), _ms(a["rps"]), _ms(b["median_ms"]),
                        _ms(b["p95_ms"]), _ms(b["rps"]), p["ratio"] if p["ratio"] is not None else "-",
                        p["target"] or "", verdict(p["holds"])))
    lines.append("(ms; r/s = sequential requests per second; baselines: %s)"
                 % "; ".join(sorted({"%s: %s" % (p["name"].split(" ")[1], p["baseline_is"]) for p in results["pairs"]
                                     if p["status"] == "ok" and p["baseline_is"]})))
    ex = results["explain"]
    if ex:
        lines.append("")
        lines.append("EXPLAIN of the /cdr statements (captured on the wire; rows = the optimizer's estimate, before LIMIT):")
        by_name = {p["name"]: p for p in results["pairs"]}
        for e in ex:
            p = by_name.get(e["query"], {})
            lines.append("  %s: %d statements (%s); answered %s rows, the SELECTs returned %s rows"
                         % (e["query"], len(e["statements"]),
                            ", ".join(x.split()[0].upper() for x in e["statements"]), p.get("rows"),
                            p.get("sql_rows_returned")))
            for x in e["explain"]:
                for pl in x["plan"]:
                    lines.append("    %-10s type=%-6s key=%-9s rows=%-8s %s %s"
                                 % (e["query"][9:], pl.get("type"), pl.get("key"), pl.get("rows"),
                                    pl.get("Extra") or "", "" if x["uses_index"] else "  <-- NO INDEX"))
    ec = results.get("extensions_cold")
    if ec:
        rr = ec["reload_route"]
        lines.append("")
        lines.append("/extensions cold: POST /cache/extensions action=reload median %s ms; GET with the cache file "
                     "removed median %s ms" % (_ms(rr["median_ms"]) if isinstance(rr, dict) else rr,
                                               _ms(ec["get_after_removing_cache_file"]["median_ms"])))
    ed = results.get("extdump")
    if ed:
        lines.append("/extdump: %s extensions, %.1f MB JSON, median %s ms (p95 %s); %d SQL statements; %s AMI "
                     "actions; worker peak RSS %s MB (%s MB before the requests)"
                     % (ed["extensions"], (ed["bytes"] or 0) / 1e6, _ms(ed["time"]["median_ms"]),
                        _ms(ed["time"]["p95_ms"]), ed["sql_statements"], ed["ami_actions_per_request"],
                        ed["worker_peak_rss_mb"], ed["worker_rss_before_mb"]))
    for p in results["pairs"]:
        if "ami_actions_per_request" in p:
            lines.append("%s: %s AMI action(s) per request (%s)" % (p["name"], p["ami_actions_per_request"],
                                                                   ", ".join(p["ami_action_names"])))
    w = results.get("writes")
    if w:
        lines.append("add+delete extension: %s round trips/s over %d pairs; add median %s ms (p95 %s), delete "
                     "median %s ms (p95 %s)%s" % (w["round_trips_per_s"], w["pairs"], _ms(w["add"]["median_ms"]),
                                                  _ms(w["add"]["p95_ms"]), _ms(w["delete"]["median_ms"]),
                                                  _ms(w["delete"]["p95_ms"]),
                                                  ("; errors: %s" % w["errors"]) if w["errors"] else ""))
        if w.get("ami_actions_per_round_trip"):
            lines.append("  per round trip %s AMI actions; the AMI peer spent %s ms answering them"
                         % (w["ami_actions_per_round_trip"], w["ami_peer_ms_per_round_trip"]))
    if results["throughput"]:
        lines.append("")
        hdr = "%-34s %9s %8s %8s | %9s | %6s %8s" % ("throughput", "api r/s", "p50 ms", "p95 ms", "bare r/s",
                                                     "ratio", "target")
        lines.append(hdr)
        lines.append("-" * len(hdr))
        for t in results["throughput"]:
            if "name" not in t:
                lines.append("%-34s %s" % ("GET /test " + t["login"], t["status"]))
                continue
            lines.append("%-34s %9.0f %8s %8s | %9.0f | %6s %8s %s%s"
                         % (t["name"], t["api"]["rps"] or 0, _ms(t["api"]["p50_ms"]), _ms(t["api"]["p95_ms"]),
                            t["bare"]["rps"] or 0, t["ratio"], t["target"], verdict(t["holds"]),
                            "  (%d non-2xx)" % t["api"]["non_2xx"] if t["api"]["non_2xx"] else ""))
    if results["notes"]:
        lines.append("")
        lines += ["note: " + n for n in results["notes"]]
    lines.append("")
    lines.append("total run time %s s" % m.get("seconds_total"))
    return "\n".join(lines)
