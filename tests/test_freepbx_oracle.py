"""Replay tier: each scenario FreePBX's own code was run on (tests/data/freepbx_golden)
is sent to rfapi on the same fresh world, and rfapi's change must equal FreePBX's,
row by row, key by key, line by line, except the differences named in
tests/freepbx_oracle/allowed.py."""
from __future__ import annotations

import pytest

from tests.freepbx_oracle import allowed, replay
from tests.freepbx_oracle.scenarios import SCENARIOS

GOLDEN = replay.golden_files()


def test_every_scenario_has_its_golden_file():
    assert sorted(p.stem for p in GOLDEN) == sorted(s.name for s in SCENARIOS)
    assert {"quickcreate_pjsip_full", "delete_with_mailbox", "did_edit", "admin_add", "followme_enable",
            "bulk_import_extensions"} <= {p.stem for p in GOLDEN}


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_rfapi_changes_what_freepbx_changes(pbx_rw, path):
    golden = replay.load(path)
    rfapi = replay.run(pbx_rw, golden)
    assert any(golden["changes"].values()), "a golden file where nothing changed proves nothing"
    diffs = replay.differences(golden["scenario"], golden["changes"], rfapi)
    assert diffs == [], "rfapi differs from FreePBX:\n" + "\n".join(diffs)


def test_an_unlisted_difference_is_reported():
    golden = {"rows": {"users": {'["150"]': {"name": "A", "voicemail": "default"}}},
              "astdb": {"/AMPUSER/150/recording/ondemand": "disabled", "/CW/150": "ENABLED"}}
    rfapi = {"rows": {"users": {'["150"]': {"name": "B", "voicemail": "default"}}},
             "astdb": {"/AMPUSER/150/recording/ondemand": "enabled"}}
    assert replay.differences("quickcreate_pjsip_full", golden, rfapi) == [
        "rows:users [\"150\"] .name: FreePBX 'A', rfapi 'B'",
        "astdb /CW/150: FreePBX 'ENABLED', rfapi '<absent>'",
    ]


def test_every_allowed_difference_gives_its_reason():
    assert allowed.ALLOWED
    names = {s.name for s in SCENARIOS}
    for a in allowed.ALLOWED:
        assert len(a.reason) > 40, a
        assert a.part in ("astdb", "voicemail_conf", "spool", "kvstore") or a.part.startswith("rows:"), a
        assert set(a.scenarios) <= names, a
