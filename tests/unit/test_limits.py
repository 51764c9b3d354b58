"""The flood limits: their values from the environment, fitted to the open-file limit; who a
connection counts against; and the tally that logs a flood in one line per interval."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from twofold.daemon.limits import Limits, LimitsError
from twofold.daemon.listener import address_key
from twofold.daemon.quiet_log import Tally


def test_limits_come_from_the_environment_and_are_checked() -> None:
    assert Limits.from_env({}) == Limits()
    changed = Limits.from_env({"TWOFOLD_LIMITS": "headers_s=2.5, per_address=3"})
    assert (changed.headers_s, changed.per_address) == (2.5, 3)
    assert changed.unauthenticated == Limits().unauthenticated
    for bad in ("nonsense=1", "headers_s=soon", "per_address=0", "per_address=1.5"):
        with pytest.raises(LimitsError, match="TWOFOLD_LIMITS"):
            Limits.from_env({"TWOFOLD_LIMITS": bad})


def test_the_caps_leave_a_reserve_below_the_open_file_limit() -> None:
    assert Limits().fitted(65536) == Limits()
    for nofile in (64, 300, 1024, 4096):
        fitted = Limits().fitted(nofile)
        assert fitted.connections <= max(16, nofile - fitted.fd_reserve)
        assert fitted.unauthenticated <= max(4, fitted.connections // 2)
        assert fitted.per_address <= fitted.unauthenticated
        assert fitted.headers_s == Limits().headers_s


@pytest.mark.parametrize(
    ("peer", "key"),
    [
        (("192.0.2.7", 5000), "192.0.2.7"),
        (("::ffff:192.0.2.7", 5000, 0, 0), "192.0.2.7"),
        (("2001:db8:1:2:aaaa::1", 5000, 0, 0), "2001:db8:1:2::/64"),
        (("2001:db8:1:2:bbbb::9", 5000, 0, 0), "2001:db8:1:2::/64"),  # one /64, one share
        (("fe80::1%eth0", 5000, 0, 2), "fe80::/64"),
        (None, "None"),
    ],
)
def test_a_connection_counts_against_its_address_or_its_ipv6_64(peer: object, key: str) -> None:
    assert address_key(peer) == key


def test_a_tally_says_the_first_at_once_then_one_line_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    tally = Tally(logging.getLogger("t"), "dropped", 10.0, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="t"):
        tally.add("refused")
        for _ in range(999):
            now[0] += 0.001
            tally.add("refused")
        tally.add("displaced", 5)
        assert len(caplog.records) == 1
        now[0] += 10
        tally.add("refused")
        tally.close()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith("dropped: refused x1")
    assert "displaced x5, refused x1000" in messages[1]
    assert tally.total == {"refused": 1001, "displaced": 5}


def test_the_daemon_raises_its_soft_open_file_limit_towards_the_hard_one() -> None:
    code = (
        "import resource; from twofold.daemon.limits import raise_open_file_limit as r; "
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE); "
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard)); "
        "got = r(); "
        "assert got == resource.getrlimit(resource.RLIMIT_NOFILE)[0], got; "
        "assert got == (65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)), got; "
        "resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64)); "
        "assert r() == 64"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
