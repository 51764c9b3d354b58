"""Twofold fuzzes itself (issue 16): a mutation fuzzer per entry point of `twofold.protocol`
that takes untrusted input.

The rule it holds every parser to: for any input, the only exceptions that may escape are
`TwofoldError` (protocol/errors.py), and not `UsageError`, which says "a bug of ours" (a 500);
no input takes over 2 s outside key derivation; and no
target grows peak memory by over 500 MiB. Key derivation is timed apart, since a file asks
for it and kdf.py bounds it.

Profiles:

- quick (CI): `pytest tests/fuzz` (collected by the plain `pytest` run) feeds every target a
  fixed, seeded set of inputs (test_fuzz_quick.QUICK_INPUTS, seed 0: the same inputs on every
  run, so it cannot flake), and replays every committed regression: the files in
  corpus/<target>/ and the large cases corpus.py builds in code.
- long: `make fuzz` runs 100,000 inputs per target on both cores, each target in a process of
  its own (python -m tests.fuzz.run --inputs 100000 --jobs 2 --out build/fuzz.md); crashes
  are written to crashes/<target>/<sha256 prefix>.bin with the traceback beside it (.txt).
- any other: `python -m tests.fuzz.run --inputs N --jobs J --seed S --target NAME ...`
  (`--list` names the targets). A run is a pure function of its seed.

Replaying a crash file: `TARGETS[target].run(path.read_bytes())` (targets.py describes how
each target frames its input, e.g. a reader's password line). A new regression goes in
corpus/<target>/ (or into corpus.py, then `python -m tests.fuzz.corpus` writes the files).

Modules: mutate (byte, text, JSON and CBOR mutators), seeds (valid exports, sealed with the
cheapest key derivation each reader accepts), targets (the entry points), engine (the loop,
the oracle, time and memory), run (the driver), corpus (the committed regressions).
"""
