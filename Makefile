VENV ?= .venv
PYTHON ?= python3

.PHONY: install test lint unit bench

install: $(VENV)/.installed

# A fresh machine needs only Python 3.11+: this makes the venv and installs the project into it.
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Twofold needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# What CI runs (.ci/run): lint, then every test.
test: lint unit

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

unit: $(VENV)/.installed
	$(VENV)/bin/pytest

bench: $(VENV)/.installed
	$(VENV)/bin/python bench/fold_bench.py
