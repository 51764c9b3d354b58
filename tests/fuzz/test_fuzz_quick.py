"""The quick fuzz profile CI runs: a fixed, seeded run of every target, and every regression.

The inputs are the same on every run (seed 0, `QUICK_INPUTS` per target), so this never
flakes: it fails only when the code changes so that one of those inputs breaks the oracle.
Time is not asserted here (CI machines are shared and noisy): `make fuzz` judges it, and the
cost cases have counting tests in tests/unit/formats/test_costs.py.
The long profile (`make fuzz`) runs the same targets with 100,000 inputs each.
"""

from __future__ import annotations

import pytest

from tests.fuzz.corpus import LIMITS
from tests.fuzz.engine import Regression, describe, regressions, replay, run_target
from tests.fuzz.targets import TARGETS

QUICK_INPUTS = 1500
QUICK_SEED = 0


@pytest.mark.parametrize("name", list(TARGETS))
def test_quick_profile_breaks_no_rule(name: str) -> None:
    result = run_target(name, QUICK_INPUTS, QUICK_SEED, save=None)
    assert result.harness_errors == []
    crashes = [
        f"{crash.signature} ({crash.count} inputs), smallest: {crash.smallest[:200]!r}"
        for crash in result.crashes.values()
    ]
    assert crashes == [], "only TwofoldError may escape:\n" + "\n".join(crashes)


@pytest.mark.parametrize("case", regressions(), ids=lambda case: case.id)
def test_regression_corpus_breaks_no_rule(case: Regression) -> None:
    done = replay(case)
    assert done.exc is None, describe(done.exc)
    limit = LIMITS.get(case.name)
    if limit is not None:  # time is the long profile's to judge (make fuzz): not on shared CI
        assert done.rss_mib < limit.rss_mib, f"peak memory grew {done.rss_mib:.0f} MiB"
