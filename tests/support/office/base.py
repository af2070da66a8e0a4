"""Who the office is: its name, main number, clock anchor and the secrets it derives."""
from __future__ import annotations

import hashlib
import time
from typing import Optional

COMPANY = "Bayview Dental Group"
DOMAIN = "bayviewdental.example"
MAIN_DID = "5551230100"
MAIN_CID = '"Bayview Dental" <5551230100>'
FRAMEWORK_VERSION = "17.0.33.2"  # framework version named in the reference DDL header
VM_CONTEXT = "default"

# Default `now` of cdr_rows/load/spool_messages/build_spool/ami_state: fixed once per
# process, so a spool built now and AMI state made a second later still agree.
ANCHOR = int(time.time())


def _now(now: Optional[float]) -> int:
    return ANCHOR if now is None else int(now)


def _secret(ext: str) -> str:
    # FreePBX generates md5(uniqid()) cut to SIPSECRETSIZE (32): 32 lowercase hex.
    return hashlib.md5(("bayview-sip-" + ext).encode()).hexdigest()[:32]


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()
