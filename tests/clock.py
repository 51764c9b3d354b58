"""A clock the test moves by hand, for code that takes its clock as a parameter."""

from __future__ import annotations


class Clock:
    """Seconds that move only when the test says."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
