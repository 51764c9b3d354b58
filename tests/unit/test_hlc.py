"""Hybrid logical clocks: monotonic, causal, and refusing a far future."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twofold.protocol.errors import ClockTooFarAhead, UsageError
from twofold.protocol.hlc import MAX_FUTURE_SKEW_MS, Clock, check_not_ahead, pack, wall_ms

T = 1_790_000_000_000


def test_packed_values_order_like_the_clocks() -> None:
    assert pack(T, 5) < pack(T, 6) < pack(T + 1, 0)
    assert wall_ms(pack(T, 7)) == T
    with pytest.raises(UsageError):
        pack(-1, 0)
    with pytest.raises(UsageError):
        pack(T, 1 << 16)


def test_a_clock_never_goes_back_even_if_the_wall_clock_does() -> None:
    c = Clock()
    first = c.tick(T)
    second = c.tick(T - 60_000)
    assert second > first
    assert wall_ms(second) == T


def test_observing_a_remote_time_puts_later_events_after_it() -> None:
    c = Clock()
    remote = pack(T + 1000, 3)
    c.observe(remote)
    assert c.tick(T) > remote


def test_a_restarted_clock_resumes_from_its_persisted_value() -> None:
    c = Clock()
    last = c.tick(T)
    assert Clock(last).tick(T - 5) > last


def test_the_logical_counter_overflows_into_the_wall_time() -> None:
    c = Clock(pack(T, (1 << 16) - 1))
    assert c.tick(T) == pack(T + 1, 0)


def test_far_future_clocks_are_refused() -> None:
    check_not_ahead(pack(T + MAX_FUTURE_SKEW_MS, 0), T)
    with pytest.raises(ClockTooFarAhead, match="ahead"):
        check_not_ahead(pack(T + MAX_FUTURE_SKEW_MS + 1, 0), T)


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 2**40)), max_size=50))
def test_ticks_strictly_increase(events: list[tuple[bool, int]]) -> None:
    c = Clock()
    last = 0
    for is_tick, t in events:
        if is_tick:
            now = c.tick(t)
            assert now > last
            last = now
        else:
            c.observe(pack(t, 0))
            last = max(last, c.last)
