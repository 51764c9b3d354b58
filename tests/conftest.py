"""Suite-wide: hypothesis profiles, and no test may leave a thread running.

The default profile keeps the suite fast; HYPOTHESIS_PROFILE=thorough digs deep, and
HYPOTHESIS_PROFILE=nightly runs the slow model-based tests a thousand times.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=100, deadline=None)
settings.register_profile(
    "thorough",
    max_examples=3000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "nightly",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Every thread a test starts (stand-in servers, executors, writers) is gone when it ends."""
    before = set(threading.enumerate())
    yield
    assert set(threading.enumerate()) - before == set()
