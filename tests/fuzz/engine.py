"""The fuzz loop of one target: seeds, mutants, the oracle, time, memory, crash files.

The oracle: an entry point may raise only `TwofoldError` (protocol/errors.py); any other
exception escaping it is a crash. Time: each input's wall time, less the time spent inside
key derivation (kdf.py, and Bitwarden's Argon2id), is held to `SLOW_SECONDS`; key derivation
is measured apart, since its cost is what the file asks for and is bounded by its own rules.
Memory: peak RSS growth of the process from after the seeds ran to the end (`ru_maxrss`),
which is why the driver runs each target in a process of its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import re
import resource
import signal
import sys
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fuzz import corpus
from tests.fuzz.targets import TARGETS, Target, fixed_randomness
from twofold.protocol.errors import TwofoldError, UsageError
from twofold.protocol.formats import bitwarden, kdf

HERE = Path(__file__).parent
CRASHES = HERE / "crashes"
CORPUS = HERE / "corpus"
SLOW_SECONDS = 2.0
RSS_LIMIT_MIB = 500
TIMEOUT_SECONDS = 60.0
STACK_FROM_POOL = 0.2  # how often a mutant is mutated again rather than a seed
POOL_SIZE = 32
FILES_PER_SIGNATURE = 3


class InputTimeout(BaseException):
    """An input ran past TIMEOUT_SECONDS: reported as a crash (it would hang a request)."""


# -- key derivation, metered ---------------------------------------------------------------


@dataclass
class KdfMeter:
    """Time spent in key derivation, and what it would have cost.

    Results are memoised (the same call gives the same key, so a mutant that leaves salt,
    costs and password alone derives nothing again): `seconds` is the time really spent,
    `cost` adds the first measured time of every repeated call, so an input's cost is what it
    asks of a reader that has no cache (eight identical slots cost eight derivations).
    """

    seconds: float = 0.0
    cost: float = 0.0
    calls: int = 0
    memory_mib: float = 0.0  # the most memory one derivation was asked for
    cache: dict[Any, tuple[bytes, float]] = field(default_factory=dict)

    def timed(self, key: Any, derive: Callable[[], bytes], memory: int = 0) -> bytes:
        """The derived key; `memory` (bytes) counts once the derivation ran: one refused by
        its bounds spent none."""
        self.calls += 1
        hit = self.cache.get(key) if key is not None else None
        if hit is not None:
            self.cost += hit[1]
            return hit[0]
        start = time.perf_counter()
        try:
            result = derive()
        finally:
            spent = time.perf_counter() - start
            self.seconds += spent
            self.cost += spent
        self.memory_mib = max(self.memory_mib, memory / (1 << 20))
        if key is not None:
            if len(self.cache) > 256:
                self.cache.pop(next(iter(self.cache)))
            self.cache[key] = (result, spent)
        return result


_DERIVATION = re.compile(r"^(argon2|scrypt|pbkdf2)")
_NOT_DERIVATION = re.compile(r"(_work|_cost|_check|_limits?)$")


@contextlib.contextmanager
def metered_kdf(meter: KdfMeter) -> Iterator[None]:
    """Wrap every derivation function of kdf.py (and Bitwarden's Argon2id) with the meter."""
    originals: list[tuple[Any, str, Any]] = []
    for name in dir(kdf):
        fn = getattr(kdf, name)
        if (
            callable(fn)
            and getattr(fn, "__module__", None) == kdf.__name__
            and _DERIVATION.match(name)
            and not _NOT_DERIVATION.search(name)
        ):
            originals.append((kdf, name, fn))
            setattr(kdf, name, _metered(meter, name, fn))
    real_argon2 = getattr(bitwarden, "Argon2id", None)
    if real_argon2 is not None:
        originals.append((bitwarden, "Argon2id", real_argon2))

        def argon2(**params: Any) -> Any:
            instance = real_argon2(**params)
            frozen = tuple(sorted(params.items()))

            class Metered:
                def derive(self, password: bytes) -> bytes:
                    return meter.timed(
                        ("argon2-bitwarden", frozen, password),
                        lambda: bytes(instance.derive(password)),
                        params.get("memory_cost", 0) * 1024,
                    )

            return Metered()

        setattr(bitwarden, "Argon2id", argon2)  # noqa: B010 - the module's own name, replaced
    try:
        yield
    finally:
        for module, name, fn in originals:
            setattr(module, name, fn)


def _metered(meter: KdfMeter, name: str, fn: Callable[..., bytes]) -> Callable[..., bytes]:
    def wrapper(*args: Any, **kwargs: Any) -> bytes:
        key: Any = (name, args, tuple(sorted(kwargs.items())))
        try:
            hash(key)
        except TypeError:
            key = None
        return meter.timed(key, lambda: fn(*args, **kwargs), _memory_asked(kwargs))

    return wrapper


def _memory_asked(kwargs: dict[str, Any]) -> int:
    """The bytes a derivation works in: Argon2's memlimit, scrypt's 128 N r."""
    if isinstance(kwargs.get("memlimit"), int):
        return int(kwargs["memlimit"])
    n, r = kwargs.get("n"), kwargs.get("r")
    return 128 * n * r if isinstance(n, int) and isinstance(r, int) else 0


# -- the oracle ----------------------------------------------------------------------------


@dataclass
class Crash:
    """One distinct crash: the exception type and where it was raised."""

    signature: str
    exception: str
    where: str
    traceback: str
    count: int = 0
    smallest: bytes = b""
    files: list[str] = field(default_factory=list)


def signature_of(exc: BaseException) -> tuple[str, str]:
    """(type, file:line): the deepest frame in the project, else the deepest frame at all."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/protocol/" in f.filename or "/twofold/" in f.filename]
    chosen = ours or frames
    where = f"{_short(chosen[-1].filename)}:{chosen[-1].lineno}" if chosen else "?"
    return type(exc).__name__, where


def _short(path: str) -> str:
    for marker in ("/protocol/", "/daemon/", "/tests/", "/site-packages/", "/lib/python"):
        if marker in path:
            return marker.strip("/") + "/" + path.split(marker, 1)[1]
    return path


def check(target: Target, data: bytes, warned: Counter[str] | None = None) -> BaseException | None:
    """Feed one input; the exception that breaks the oracle, or None.

    Warnings are recorded (into `warned`), never raised: pytest turns them into errors and a
    fuzz process does not, and both profiles must judge an input the same way.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            target.run(data)
        except UsageError as exc:  # our own, but it says "a bug of ours": a 500, a finding
            return exc
        except TwofoldError:
            return None
        except Exception as exc:  # noqa: BLE001 - anything but our own errors is the finding
            return exc
        except InputTimeout as exc:
            return exc
        finally:
            if warned is not None:
                for w in caught:
                    warned[f"{w.category.__name__} at {_short(w.filename)}:{w.lineno}"] += 1
    return None


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise InputTimeout after `seconds`, where signals allow (the main thread, POSIX)."""
    usable = hasattr(signal, "setitimer") and _main_thread()
    if not usable:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise InputTimeout(f"input ran over {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def rss_mib() -> float:
    """Peak resident set of this process so far (Linux counts ru_maxrss in KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


# -- one run -------------------------------------------------------------------------------


@dataclass
class Result:
    """What one target's run found; the driver prints these as a table."""

    target: str
    inputs: int = 0
    crashing_inputs: int = 0
    crashes: dict[str, Crash] = field(default_factory=dict)
    slowest: float = 0.0
    slowest_input: str = ""
    slow: list[tuple[float, str]] = field(default_factory=list)
    kdf_seconds: float = 0.0
    kdf_calls: int = 0
    kdf_costliest: float = 0.0  # the most key derivation one input asked for, cache aside
    kdf_costliest_input: str = ""
    kdf_memory_mib: float = 0.0  # the most memory one derivation was asked for
    rss_start_mib: float = 0.0
    rss_end_mib: float = 0.0
    rss_jumps: list[tuple[float, str]] = field(default_factory=list)
    wall: float = 0.0
    harness_errors: list[str] = field(default_factory=list)
    warnings: Counter[str] = field(default_factory=Counter)

    @property
    def rss_growth_mib(self) -> float:
        return self.rss_end_mib - self.rss_start_mib

    @property
    def rss_beyond_kdf_mib(self) -> float:
        """Peak growth less the memory key derivation was asked for: a file may ask for up
        to what kdf.py admits (Ente writes 1 GiB), and that is bounded there, as its time is."""
        return self.rss_growth_mib - self.kdf_memory_mib


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def run_target(
    name: str,
    inputs: int,
    seed: int,
    *,
    save: Path | None = CRASHES,
    minimize: bool = True,
) -> Result:
    """Run the seeds, then `inputs` mutants in all, of one target; deterministic in `seed`."""
    target = TARGETS[name]
    result = Result(name)
    meter = KdfMeter()
    start = time.perf_counter()
    rng = random.Random(f"{seed}/{name}")  # noqa: S311 - seeded on purpose: a run replays
    with fixed_randomness(seed), metered_kdf(meter):
        seeds = target.seeds()
        pool: list[bytes] = []
        for data in seeds:
            _one(target, data, result, meter, save, minimize)
        result.rss_start_mib = rss_mib()
        for _ in range(max(0, inputs - len(seeds))):
            base = rng.choice(pool) if pool and rng.random() < STACK_FROM_POOL else None
            base = base if base is not None else rng.choice(seeds)
            try:
                data = target.mutate(rng, base, seeds)
            except Exception as exc:  # noqa: BLE001 - a harness bug: counted, never hidden
                if len(result.harness_errors) < 5:
                    result.harness_errors.append(f"mutate: {exc!r}")
                continue
            pool.append(data)
            if len(pool) > POOL_SIZE:
                pool.pop(rng.randrange(len(pool)))
            before = rss_mib()
            _one(target, data, result, meter, save, minimize)
            after = rss_mib()
            if after - before > 50:
                result.rss_jumps.append((after - before, digest(data)))
                _save(
                    save,
                    name,
                    data,
                    f"memory: peak RSS rose {after - before:.0f} MiB\n",
                    prefix="rss-",
                )
    result.rss_end_mib = rss_mib()
    result.kdf_seconds, result.kdf_calls = meter.seconds, meter.calls
    result.kdf_memory_mib = meter.memory_mib
    result.wall = time.perf_counter() - start
    return result


def _one(
    target: Target, data: bytes, result: Result, meter: KdfMeter, save: Path | None, minimize: bool
) -> None:
    result.inputs += 1
    kdf_before, cost_before = meter.seconds, meter.cost
    began = time.perf_counter()
    with deadline(TIMEOUT_SECONDS):
        exc = check(target, data, result.warnings)
    own = time.perf_counter() - began - (meter.seconds - kdf_before)
    cost = meter.cost - cost_before
    if cost > result.kdf_costliest:
        result.kdf_costliest, result.kdf_costliest_input = cost, digest(data)
    if own > result.slowest:
        result.slowest, result.slowest_input = own, digest(data)
    if own > SLOW_SECONDS:
        result.slow.append((own, digest(data)))
        _save(
            save, target.name, data, f"slow: {own:.2f} s outside key derivation\n", prefix="slow-"
        )
    if exc is None:
        return
    result.crashing_inputs += 1
    kind, where = signature_of(exc)
    sig = f"{kind} at {where}"
    crash = result.crashes.get(sig)
    text = "".join(traceback.format_exception(exc))
    if crash is None:
        crash = result.crashes[sig] = Crash(sig, kind, where, text, smallest=data)
        if minimize:
            crash.smallest = shrink(target, data, sig)
    elif len(data) < len(crash.smallest):
        crash.smallest = data
    crash.count += 1
    if len(crash.files) < FILES_PER_SIGNATURE:
        path = _save(save, target.name, data, f"{sig}\n\n{text}")
        if path:
            crash.files.append(path)


def _save(save: Path | None, target: str, data: bytes, text: str, prefix: str = "") -> str:
    if save is None:
        return ""
    folder = save / target
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"{prefix}{digest(data)}"
    stem.with_suffix(".bin").write_bytes(data)
    stem.with_suffix(".txt").write_text(text, encoding="utf-8", errors="backslashreplace")
    return str(stem.with_suffix(".bin"))


def shrink(target: Target, data: bytes, sig: str, budget: float = 5.0) -> bytes:
    """Delete chunks while the same crash still happens: a smaller reproducer, within `budget` s."""
    until = time.perf_counter() + budget
    chunk = max(1, len(data) // 2)
    while chunk >= 1 and time.perf_counter() < until:
        i, shrunk = 0, False
        while i < len(data) and time.perf_counter() < until:
            candidate = data[:i] + data[i + chunk :]
            exc = check(target, candidate)
            if exc is not None and "{} at {}".format(*signature_of(exc)) == sig:
                data, shrunk = candidate, True
            else:
                i += chunk
        if not shrunk:
            chunk //= 2
    return data


# -- the committed corpus ------------------------------------------------------------------


@dataclass(frozen=True)
class Regression:
    """One committed case: a file in corpus/<target>/, or one built in code (too large)."""

    target: str
    name: str
    load: Callable[[], bytes]

    @property
    def id(self) -> str:
        return f"{self.target}/{self.name}"


def regressions() -> list[Regression]:
    """Every committed case: the files under corpus/, then the ones built in code."""
    out = []
    folders = sorted(p for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else []
    for folder in folders:
        for path in sorted(folder.glob("*.bin")):
            out.append(Regression(folder.name, path.stem, path.read_bytes))
    for target, cases in corpus.generated().items():
        out += [Regression(target, name, build) for name, build in cases.items()]
    return out


@dataclass(frozen=True)
class Replay:
    """What one committed case did: the exception breaking the oracle (or None), seconds
    outside key derivation, seconds of key derivation it asked for, peak RSS growth."""

    exc: BaseException | None
    own: float
    kdf: float
    rss_mib: float


def replay(case: Regression) -> Replay:
    """Feed one committed case to its target."""
    meter = KdfMeter()
    data = case.load()
    rss = rss_mib()
    with fixed_randomness(0), metered_kdf(meter):
        began = time.perf_counter()
        with deadline(TIMEOUT_SECONDS):
            exc = check(TARGETS[case.target], data)
        spent = time.perf_counter() - began
    return Replay(exc, spent - meter.seconds, meter.cost, rss_mib() - rss)


def describe(exc: BaseException) -> str:
    kind, where = signature_of(exc)
    return f"{kind} at {where}: {str(exc)[:200]}"
