"""Locking when idle: how long since the vault was last used, by a clock that can be given.

"Used" is a request that reads codes or accounts; the lock comes `lock_after` seconds
after the last one (0: never). The clock is injected so tests move it instead of
sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class IdleTimer:
    """When the vault was last used, and whether it has been idle long enough to lock."""

    def __init__(self, after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.after_s = after_s
        self._clock = clock
        self._last = clock()

    def used(self) -> None:
        """The vault was used now."""
        self._last = self._clock()

    def left_s(self) -> float | None:
        """Seconds until it locks (0 when due); None when it never locks."""
        if self.after_s <= 0:
            return None
        return max(0.0, self._last + self.after_s - self._clock())

    @property
    def due(self) -> bool:
        """Idle for `after_s` or longer."""
        return self.left_s() == 0.0
