"""Standalone use (demos, and tests that need the peer as its own process):
``python -m tests.support.amipeer --help``.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Optional, Sequence

from .peer import AmiPeer


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.support.amipeer",
                                 description="Fake Asterisk manager (AMI 9.0.0) for demos and tests.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5038)
    ap.add_argument("--user", default="admin")
    ap.add_argument("--secret", default="amp111")
    ap.add_argument("--seed-json", help="JSON file with state dicts (astdb, hints, pjsip_endpoints, ...)")
    ap.add_argument("--seed-transcripts", action="store_true",
                    help="start with the PBX the reference captures were taken on")
    args = ap.parse_args(argv)

    peer = AmiPeer(users={args.user: args.secret}, host=args.host, port=args.port)
    if args.seed_transcripts:
        peer.seed_from_transcripts()
    if args.seed_json:
        with open(args.seed_json, encoding="utf-8") as fh:
            peer.load_state(json.load(fh))
    # Handlers before the peer answers anyone: a client may stop it right after its first answer.
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    peer.start()
    print("AMI peer listening on %s:%d" % (peer.host, peer.port), flush=True)
    while not done.wait(0.5):
        pass
    peer.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
