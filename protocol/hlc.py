"""Hybrid logical clocks (Kulkarni et al., 2014) packed into 64 bits.

The high 48 bits are milliseconds since the Unix epoch, the low 16 a logical
counter. Packed values compare like the clocks they encode, so ordering ops
by (hlc, author) is a plain integer comparison, and an op that causally
follows another always carries a greater value. Time is passed in: this module
never reads a clock.
"""

from __future__ import annotations

from .errors import ClockTooFarAhead, UsageError

LOGICAL_BITS = 16
LOGICAL_MASK = (1 << LOGICAL_BITS) - 1
MAX_WALL_MS = (1 << 48) - 1
MAX_FUTURE_SKEW_MS = 5 * 60 * 1000
"""A remote clock further ahead of ours than this is refused, not adopted."""


def pack(wall_ms: int, logical: int) -> int:
    """Pack a wall time and a logical counter into one comparable integer."""
    if not 0 <= wall_ms <= MAX_WALL_MS or not 0 <= logical <= LOGICAL_MASK:
        raise UsageError(f"hlc out of range: wall={wall_ms} logical={logical}")
    return (wall_ms << LOGICAL_BITS) | logical


def wall_ms(hlc: int) -> int:
    """The wall-clock part of a packed HLC, in ms since the Unix epoch."""
    return hlc >> LOGICAL_BITS


def check_not_ahead(hlc: int, now_ms: int) -> None:
    """Refuse a remote timestamp that would drag our clock into the future."""
    ahead = wall_ms(hlc) - now_ms
    if ahead > MAX_FUTURE_SKEW_MS:
        raise ClockTooFarAhead(
            f"the op's clock is {ahead / 1000:.0f} s ahead of this device's "
            f"(at most {MAX_FUTURE_SKEW_MS // 1000} s is tolerated); check the clock of the "
            "device that wrote it"
        )


class Clock:
    """A hybrid logical clock; persisting `last` keeps it monotonic across restarts."""

    __slots__ = ("last",)

    def __init__(self, last: int = 0) -> None:
        self.last = last

    def tick(self, now_ms: int) -> int:
        """A timestamp for a local event, greater than every one seen so far."""
        wall = max(now_ms, wall_ms(self.last))
        logical = self.last & LOGICAL_MASK if wall == wall_ms(self.last) else -1
        if logical + 1 > LOGICAL_MASK:
            wall, logical = wall + 1, -1
        self.last = pack(wall, logical + 1)
        return self.last

    def observe(self, remote: int) -> None:
        """Move past a remote timestamp so later local events follow it causally."""
        if remote > self.last:
            self.last = remote
