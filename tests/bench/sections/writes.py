"""POST /extension/add + DELETE /extension/<ext> round trips: their rate and
latency, and the AMI work (count and time spent in the peer) each one causes."""
from __future__ import annotations

import time
import urllib.parse

from tests.bench import load as L
from tests.bench import seed as S
from tests.bench.harness import PREFIX
from tests.bench.report import log


class WritesSection:
    def section_writes(self) -> None:
        log("\n== POST /extension/add + DELETE /extension/<ext> round trips")
        if not (self.has("POST", PREFIX + "/extension/add") and self.has("DELETE", PREFIX + "/extension/{extension}")):
            self.missing("add+delete extension", "POST /extension/add or DELETE /extension/<ext>")
            return
        api = self.client()
        first = self.scale.first_extension + self.scale.extensions + 1000
        adds, dels, pairs, errors = [], [], [], []
        n = max(3, self.n // 2)
        self.peer.clear_actions()
        self.peer.clear_busy()
        with self.profiled("writes"):
            for i in range(n + 1):
                ext = str(first + i)
                form = {"extension": ext, "exttype": "pjsip", "displayname": "Bench Temp %s" % ext,
                        "secret": "BenchSecret-%s-0123456789" % ext, "voicemail": "yes",
                        "email": "temp%s@%s" % (ext, S.DOMAIN), "voicemailpassword": "4321", "followme": "yes"}
                t0 = time.perf_counter()
                st, body, el_add = api.json("POST", PREFIX + "/extension/add",
                                            body=urllib.parse.urlencode(form).encode(),
                                            headers={"Content-Type": "application/x-www-form-urlencoded"})
                st2, body2, el_del = api.json("DELETE", PREFIX + "/extension/" + ext + "?deletevoicemail=1")
                total = time.perf_counter() - t0
                if st != 201 or st2 != 200:
                    errors.append({"extension": ext,
                                   "add": [st, body.get("message") if isinstance(body, dict) else None],
                                   "delete": [st2, body2.get("message") if isinstance(body2, dict) else None]})
                    if len(errors) >= 2:
                        break
                    continue
                if i == 0:
                    continue  # warm-up
                adds.append(el_add)
                dels.append(el_del)
                pairs.append(total)
        rounds = len(pairs) + 1 if pairs else 0  # the warm-up pair is included in the peer's counts
        busy = dict(self.peer.busy)
        res = {"pairs": len(pairs), "add": L.summary(adds), "delete": L.summary(dels),
               "round_trips_per_s": round(len(pairs) / sum(pairs), 2) if pairs else None, "errors": errors[:3],
               "ami_actions_per_round_trip": round(sum(c for c, _ in busy.values()) / rounds, 1) if rounds else None,
               "ami_peer_ms_per_round_trip": round(1000 * sum(t for _, t in busy.values()) / rounds, 1)
               if rounds else None,
               "ami_actions": {k: {"count": c, "peer_ms": round(t * 1000, 1)} for k, (c, t) in sorted(busy.items())}}
        self.results["writes"] = res
        if pairs:
            log("  %d pairs: %.2f add+delete round trips/s; add median %.0f ms (p95 %.0f), delete median %.0f ms "
                "(p95 %.0f)" % (len(pairs), res["round_trips_per_s"], res["add"]["median_ms"], res["add"]["p95_ms"],
                                res["delete"]["median_ms"], res["delete"]["p95_ms"]))
        if rounds:
            log("  per round trip: %s AMI actions, %s ms of them spent in the AMI peer answering (%s)"
                % (res["ami_actions_per_round_trip"], res["ami_peer_ms_per_round_trip"],
                   ", ".join("%s x%d" % (k, v["count"]) for k, v in res["ami_actions"].items())))
        if errors:
            log("  errors: %s" % errors[:3])
        api.close()
