"""Rerunning FreePBX's code on every scenario reproduces the golden files byte for byte."""
from __future__ import annotations

import pytest

from tests.freepbx_oracle import changes, generate
from tests.freepbx_oracle.scenarios import SCENARIOS


def test_every_scenario_has_a_golden_file_and_every_golden_file_a_scenario():
    assert sorted(p.stem for p in generate.GOLDEN.glob("*.json")) == sorted(s.name for s in SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_regenerating_gives_the_same_bytes(scenario):
    fresh = changes.dumps(generate.run(scenario, generate.source()))
    assert fresh == (generate.GOLDEN / (scenario.name + ".json")).read_text(encoding="utf-8")
