"""Logging what floods cause at most once per interval, with a count, never a line each.

A flood makes the same thing happen thousands of times a second: an accept that fails for
lack of file descriptors (asyncio reports each through the loop's exception handler, with
a traceback), a connection refused at a cap. One line per interval says what and how many.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class Tally:
    """Counts events by kind; logs the first at once, then at most one summary per interval."""

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        interval_s: float,
        level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.what = what
        self.interval_s = interval_s
        self.level = level
        self.clock = clock
        self.counts: Counter[str] = Counter()
        self.total: Counter[str] = Counter()
        self._last = -float("inf")
        self._flush: asyncio.TimerHandle | None = None

    def add(self, kind: str, n: int = 1) -> None:
        """Count `n` events of `kind`; say so now if the last line is an interval old."""
        self.counts[kind] += n
        self.total[kind] += n
        now = self.clock()
        if now - self._last >= self.interval_s:
            self.flush()
        elif self._flush is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._flush = loop.call_later(self._last + self.interval_s - now, self.flush)

    def flush(self) -> None:
        """Log what was counted since the last line, if anything."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if not self.counts:
            return
        self._last = self.clock()
        parts = ", ".join(f"{kind} x{n}" for kind, n in sorted(self.counts.items()))
        self.logger.log(
            self.level, "%s: %s (at most one line per %gs)", self.what, parts, self.interval_s
        )
        self.counts.clear()

    def close(self) -> None:
        """Say what is still uncounted and stop the timer."""
        self.flush()


def resource_error(context: dict[str, Any]) -> str | None:
    """The errno name if this loop error is a lack of descriptors or buffers, else None."""
    exc = context.get("exception")
    if isinstance(exc, OSError) and exc.errno in _RESOURCE_ERRNOS:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return None


def install_accept_error_handler(
    loop: asyncio.AbstractEventLoop, tally: Tally
) -> Callable[[], None]:
    """Count EMFILE and the like instead of logging each with a traceback; others as before.

    Returns a function that puts the previous handler back.
    """
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        name = resource_error(context)
        if name is not None:
            message = str(context.get("message", "")).split(" ", 1)[0] or "error"
            tally.add(f"{message} {name}")
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)

    def restore() -> None:
        loop.set_exception_handler(previous)
        tally.close()

    return restore
