# The two commands: `make demo` and `make test`. Both install what they need first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo demo-live test check lint types unit pbx-root system-deps venv bench clean module amocrm-widget

# A virtualenv with the project (editable) and its test tools; refreshed when pyproject changes.
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# Debian packages the tests use (chromium for the browser tests, debootstrap for the PBX root).
system-deps:
	bash .ci/system-deps.sh

# The Debian sid root with a real Asterisk 22 (cached; rebuilt only when its recipe changes).
pbx-root: system-deps
	bash tests/pbx/build-root.sh

# `make demo PORT=9000 HOST=0.0.0.0` for another port, or to open the pages from another machine.
DEMO_ARGS = $(if $(PORT),--port $(PORT)) $(if $(HOST),--host $(HOST))

demo: venv
	$(BIN)/crm-connector demo $(DEMO_ARGS)

demo-live: venv pbx-root
	$(BIN)/crm-connector demo --live $(DEMO_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -q

# Every check: lint, types, all tests (the real Asterisk and browser tests included).
check: lint types unit

test: venv system-deps pbx-root
	$(MAKE) check

bench: venv
	$(BIN)/python -m bench

# The MikoPBX module: dist/ModuleCrmConnector-<version>.zip with the daemon frozen (PyInstaller)
# in a cached Debian bookworm root, so it runs on MikoPBX's glibc without Python. Needs root.
module: venv system-deps
	@frozen="$$(bash mikopbx-module/packaging/freeze.sh)" && \
	$(PY) mikopbx-module/packaging/package.py --frozen "$$frozen" --out dist

# The amoCRM call-panel widget: dist/amocrm-widget-<version>.zip, to upload in amoCRM (docs/amocrm-widget.md).
amocrm-widget:
	python3 amocrm-widget/build.py --dist dist

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/artifacts
