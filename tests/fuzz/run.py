"""The fuzz driver: every target in a process of its own, in parallel, and a table of figures.

    python -m tests.fuzz.run [--inputs N] [--jobs J] [--seed S] [--target NAME ...] [--out FILE]

A run is deterministic in its seed: the same seed feeds every target the same inputs. Crashes
go to tests/fuzz/crashes/<target>/<sha256 prefix>.bin with the traceback beside it (.txt);
inputs slower than 2 s outside key derivation are written there too as slow-*.bin, and
inputs that raised peak memory by over 50 MiB as rss-*.bin. The exit status is 1 when any
target crashed, ran an input over 2 s, or grew by over 500 MiB. See tests/fuzz/__init__.py for
the profiles (`make fuzz`, and the quick one pytest runs).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

from tests.fuzz.engine import CRASHES, RSS_LIMIT_MIB, SLOW_SECONDS, Result, run_target
from tests.fuzz.targets import TARGETS


def _work(job: tuple[str, int, int, bool]) -> Result:
    name, inputs, seed, minimize = job
    return run_target(name, inputs, seed, minimize=minimize)


def table(results: list[Result]) -> str:
    """The figures as a markdown table, then every finding spelled out."""
    lines = [
        "| target | inputs | crashes (distinct) | slowest input (s) | which | KDF s (costliest "
        "input) | peak RSS growth (MiB) | of it, KDF memory asked (MiB) | wall (s) |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.target} | {r.inputs:,} | {r.crashing_inputs} ({len(r.crashes)}) | "
            f"{r.slowest:.3f} | {r.slowest_input} | {r.kdf_seconds:.1f} "
            f"({r.kdf_costliest:.2f}) | {r.rss_growth_mib:.0f} | {r.kdf_memory_mib:.0f} | "
            f"{r.wall:.1f} |"
        )
    lines.append("")
    total = sum(r.inputs for r in results)
    lines.append(f"{total:,} inputs over {len(results)} targets.")
    findings = []
    for r in results:
        for crash in r.crashes.values():
            findings.append(
                f"- **{r.target}**: {crash.signature} ({crash.count} inputs); smallest "
                f"({len(crash.smallest)} bytes): `{crash.smallest[:300]!r}`"
                + (f"; saved: {crash.files[0]}" if crash.files else "")
            )
        findings += [
            f"- **{r.target}**: input {which} took {seconds:.2f} s outside key derivation"
            for seconds, which in r.slow
        ]
        if r.rss_beyond_kdf_mib > RSS_LIMIT_MIB:
            findings.append(
                f"- **{r.target}**: peak RSS grew {r.rss_growth_mib:.0f} MiB, "
                f"{r.rss_beyond_kdf_mib:.0f} beyond key derivation's "
                f"(inputs that raised it: {r.rss_jumps[:5]})"
            )
        findings += [f"- **{r.target}**: harness error {e}" for e in r.harness_errors]
        findings += [
            f"- **{r.target}** (warning, not a failure): {w} ({n} inputs)"
            for w, n in r.warnings.most_common(5)
        ]
    lines += ["", "Findings:", "", *(findings or ["- none"])]
    return "\n".join(lines) + "\n"


def failed(results: list[Result]) -> bool:
    return any(
        r.crashes or r.slow or r.rss_beyond_kdf_mib > RSS_LIMIT_MIB or r.harness_errors
        for r in results
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fuzz.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--inputs", type=int, default=1000, help="inputs per target")
    parser.add_argument("--jobs", type=int, default=2, help="targets run at once")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--target",
        nargs="+",
        choices=sorted(TARGETS),
        metavar="NAME",
        help="only these targets (default: all)",
    )
    parser.add_argument("--out", type=Path, help="also write the table here (markdown)")
    parser.add_argument(
        "--no-minimize", action="store_true", help="do not shrink the first input of each new crash"
    )
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(TARGETS))
        return 0
    names = args.target or list(TARGETS)
    jobs = [(name, args.inputs, args.seed, not args.no_minimize) for name in names]
    began = time.perf_counter()
    results: list[Result] = []
    # One process per target (maxtasksperchild=1): peak RSS is that target's alone.
    with multiprocessing.get_context("fork").Pool(args.jobs, maxtasksperchild=1) as pool:
        for result in pool.imap_unordered(_work, jobs):
            results.append(result)
            print(
                f"{result.target:32} {result.inputs:>8,} inputs  {len(result.crashes)} crashes"
                f"  slowest {result.slowest:.3f} s  RSS +{result.rss_growth_mib:.0f} MiB"
                f"  {result.wall:.1f} s",
                flush=True,
            )
    results.sort(key=lambda r: names.index(r.target))
    report = table(results)
    report += (
        f"\nSeed {args.seed}, {args.inputs:,} inputs per target, {args.jobs} jobs, "
        f"{time.perf_counter() - began:.0f} s wall. Limits: {SLOW_SECONDS:.0f} s per input "
        f"outside key derivation, {RSS_LIMIT_MIB} MiB of peak RSS growth. Crash files: "
        f"{CRASHES}\n"
    )
    print()
    print(report)
    if args.out:
        args.out.write_text(report, encoding="utf-8")
    return 1 if failed(results) else 0


if __name__ == "__main__":
    sys.exit(main())
