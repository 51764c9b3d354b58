"""How often a wrong passphrase may be tried: each failure doubles the wait before the next.

Argon2id already costs every guess most of a second (0.75 s here, bench/RESULTS.md);
this adds a wait that grows with each failure in a row (1 s, 2 s, 4 s ... at most 10
minutes), so a program of the person's that found the API token still cannot guess at
any useful speed. A right passphrase clears the count. A restart clears it too; a copy
of the home is guessed offline anyway, which is what the Argon2id cost is for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from .errors import DaemonError

FIRST_WAIT_S: Final = 1.0
LONGEST_WAIT_S: Final = 600.0


class TooSoon(DaemonError):
    """An unlock tried before the wait after the last failure ended."""

    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s
        super().__init__(f"too many wrong passphrases: try again in {max(1, round(wait_s))} s")


class UnlockAttempts:
    """Failures in a row, and when the next attempt may come."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.failures = 0
        self._next_at = 0.0

    def check(self) -> None:
        """TooSoon while the wait after the last failure runs."""
        left = self._next_at - self._clock()
        if left > 0:
            raise TooSoon(left)

    def failed(self) -> float:
        """Count a wrong passphrase; the wait before the next attempt."""
        self.failures += 1
        wait: float = min(FIRST_WAIT_S * (1 << min(self.failures - 1, 30)), LONGEST_WAIT_S)
        self._next_at = self._clock() + wait
        return wait

    def succeeded(self) -> None:
        """The right passphrase: no wait from now on."""
        self.failures = 0
        self._next_at = 0.0
