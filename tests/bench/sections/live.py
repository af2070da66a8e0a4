"""GET /state and /registrations against one raw AMI event-list round trip on a
plain socket (the physical limit of a live read), and how many AMI actions
each request costs."""
from __future__ import annotations

from tests.bench.harness import PREFIX
from tests.bench.rawami import RawAmi
from tests.bench.report import log, log_pair
from tests.support import world


class LiveSection:
    def section_live(self) -> None:
        log("\n== /state and /registrations vs one raw AMI event-list round trip")
        defaults = {"/state": [[("Action", "ExtensionStateList")]],
                    "/registrations": [[("Action", "PJSIPShowContacts")]]}
        raw = RawAmi(self.peer.host, self.peer.port, world.AMI_USER, world.AMI_SECRET)
        try:
            for route in ("/state", "/registrations"):
                name = "GET " + route
                if not self.has("GET", PREFIX + route):
                    self.missing(name, name)
                    continue
                api = self.client()
                for _ in range(2):  # warm: AMI login, settings
                    st, _, _ = api.request("GET", PREFIX + route)
                self.peer.clear_actions()
                st, body, _ = api.json("GET", PREFIX + route)
                sent = [a for a in self.peer.actions if a.name.lower() not in ("login", "logoff")]
                actions = [[(k, v) for k, v in a.headers if k.lower() != "actionid"] for a in sent] \
                    or defaults[route]
                if st != 200:
                    self.pair(name, "ami", None, None, "", status="error %s: %s"
                              % (st, body.get("message") if isinstance(body, dict) else ""))
                    continue
                data = body.get("data") if isinstance(body, dict) else None
                # Actions per request, counted on their own (the raw client's are not mixed in).
                k = max(3, self.n // 3)
                self.peer.clear_actions()
                for _ in range(k):
                    api.request("GET", PREFIX + route)
                got = [x for x in self.peer.actions if x.name.lower() not in ("login", "logoff")]
                api_actions = len(got) / k
                with self.profiled(route.strip("/")):
                    a, b = self.interleaved(lambda: api.request("GET", PREFIX + route)[2],
                                            lambda: raw.timed(actions)[0], self.n, warmup=1)
                names = sorted({x.name for x in got})
                row = self.pair(name, "ami", a, b, "raw socket: %s (send, read to EventList: Complete, parse)"
                                % " + ".join(dict(h)["Action"] for h in actions),
                                extra={"items": len(data) if isinstance(data, (list, dict)) else None,
                                       "ami_actions_per_request": round(api_actions, 2), "ami_action_names": names})
                if api_actions > 1.0001:
                    row["holds"] = False
                log_pair(row)
                log("  %-28s %.2f AMI action(s) per request (%s)" % ("", api_actions, ", ".join(names)))
                api.close()
        finally:
            raw.close()
