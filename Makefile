VENV ?= .venv
PYTHON ?= python3

.PHONY: install daemon test lint unit integration bench fuzz

install: $(VENV)/.installed

# A fresh machine needs only Python 3.11+: this makes the venv and installs the project into it.
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Twofold needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# Set up on a fresh machine and run the daemon in the foreground (Ctrl-C stops it).
daemon: $(VENV)/.installed
	$(VENV)/bin/twofold daemon

# What CI runs (.ci/run): lint, then every test.
test: lint
	$(VENV)/bin/pytest --durations=15

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@mkdir -p build/typecheck/twofold
	@for p in protocol daemon clients; do ln -sfn ../../../$$p build/typecheck/twofold/$$p; done
	$(VENV)/bin/mypy

# The fast part alone: no daemons started.
unit: $(VENV)/.installed
	$(VENV)/bin/pytest -m "not integration"

# Real daemons as subprocesses on temporary homes.
integration: $(VENV)/.installed
	$(VENV)/bin/pytest -m integration

bench: $(VENV)/.installed
	$(VENV)/bin/python bench/fold_bench.py
	$(VENV)/bin/python bench/daemon_bench.py
	$(VENV)/bin/python bench/import_bench.py
	$(VENV)/bin/python bench/unlock_bench.py
	$(VENV)/bin/python bench/hostile_files_bench.py

# The long fuzz profile (issue 16): 100,000 inputs per entry point, both cores, each target in a
# process of its own; crashes land in tests/fuzz/crashes/, the table in build/fuzz.md. The quick
# profile runs in `pytest` (tests/fuzz/test_fuzz_quick.py). Another seed explores other inputs:
# `make fuzz FUZZ_SEED=7`.
FUZZ_SEED ?= 0
fuzz: $(VENV)/.installed
	@mkdir -p build
	$(VENV)/bin/python -m tests.fuzz.run --inputs 100000 --jobs 2 --seed $(FUZZ_SEED) --out build/fuzz.md
