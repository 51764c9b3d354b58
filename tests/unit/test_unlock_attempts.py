"""The wait after wrong passphrases doubles, is capped, and a right one clears it; and the
idle timer locks after `lock_after` of no use, never when it is 0. A clock is moved by hand."""

from __future__ import annotations

import pytest

from tests.clock import Clock
from twofold.daemon.idle import IdleTimer
from twofold.daemon.unlock_attempts import LONGEST_WAIT_S, TooSoon, UnlockAttempts


def test_each_failure_doubles_the_wait_up_to_the_cap() -> None:
    clock = Clock()
    attempts = UnlockAttempts(clock)
    attempts.check()  # the first try is free
    waits = []
    for _ in range(12):
        waits.append(attempts.failed())
        with pytest.raises(TooSoon) as early:
            attempts.check()
        assert early.value.wait_s == pytest.approx(waits[-1])
        clock.now += waits[-1] - 0.01
        with pytest.raises(TooSoon):
            attempts.check()  # a hair early is still too soon
        clock.now += 0.01
        attempts.check()
    assert waits[:5] == [1, 2, 4, 8, 16]
    assert waits[-1] == LONGEST_WAIT_S


def test_the_right_passphrase_clears_the_count() -> None:
    clock = Clock()
    attempts = UnlockAttempts(clock)
    for _ in range(5):
        clock.now += attempts.failed()
    attempts.succeeded()
    attempts.check()
    assert attempts.failed() == 1  # counting starts again


def test_the_idle_timer_locks_after_its_time_and_use_pushes_it_back() -> None:
    clock = Clock()
    idle = IdleTimer(15 * 60, clock)
    clock.now += 14 * 60
    assert not idle.due
    idle.used()
    clock.now += 14 * 60
    assert not idle.due
    assert idle.left_s() == pytest.approx(60)
    clock.now += 60
    assert idle.due


def test_lock_after_zero_never_locks() -> None:
    clock = Clock()
    idle = IdleTimer(0, clock)
    clock.now += 10**9
    assert (idle.due, idle.left_s()) == (False, None)
