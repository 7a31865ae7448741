# joinedup: the two commands are `make demo` and `make test`; everything else they need is set up here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DFE_VENV := .venv-dfe
DFE_STAMP := $(DFE_VENV)/.installed
ACRO_VENV := .venv-acro
ACRO_STAMP := $(ACRO_VENV)/.installed
PEOPLE ?= 20000
SEED ?= 7

.PHONY: install install-dfe install-acro chromium axe demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

# DfE's own CIN and SSDA903 validators pin old pandas/numpy, so they live in a venv of their own
# and are used only by the tests that check the simulator's returns.
install-dfe: $(DFE_STAMP)

$(DFE_STAMP): constraints-dfe.txt
	@test -x $(DFE_VENV)/bin/python || $(PYTHON) -m venv $(DFE_VENV)
	$(DFE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DFE_VENV)/bin/python -m pip install --quiet -r constraints-dfe.txt
	@touch $(DFE_STAMP)

# ACRO 1.0.2, the disclosure-control peer in `python -m bench.run --only outputs`, pins
# pandas<=2.3.3 (joinedup pins pandas 3), so it too lives in a venv of its own.
install-acro: $(ACRO_STAMP)

$(ACRO_STAMP): constraints-acro.txt
	@test -x $(ACRO_VENV)/bin/python || $(PYTHON) -m venv $(ACRO_VENV)
	$(ACRO_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(ACRO_VENV)/bin/python -m pip install --quiet -r constraints-acro.txt
	@touch $(ACRO_STAMP)

# Debian's Chromium, driven by the browser tests (tests/browser) through Playwright's Python
# package; `playwright install` is never run.
chromium:
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

# axe-core, the accessibility engine the browser tests inject into each page, installed from
# npm at the version pinned in tests/browser/axe/package-lock.json (the app never serves it).
AXE_DIR := tests/browser/axe
AXE := $(AXE_DIR)/node_modules/axe-core/axe.min.js

axe: $(AXE)

$(AXE): $(AXE_DIR)/package.json $(AXE_DIR)/package-lock.json
	cd $(AXE_DIR) && npm ci --no-audit --no-fund --ignore-scripts
	@touch $(AXE)

# Builds the demo node, seeds one account per role, prints the logins and serves the web app on
# 127.0.0.1 until Ctrl-C. Scripts use `joinedup demo --no-serve` instead.
demo: install
	$(BIN)/joinedup demo --dir demo --people $(PEOPLE) --seed $(SEED)

test: install install-dfe chromium axe
	JOINEDUP_DFE_PYTHON=$(abspath $(DFE_VENV))/bin/python $(BIN)/python -m pytest -n 2 -q -m "not slow"

lint: install
	$(BIN)/ruff check joinedup tests bench
	$(BIN)/ruff format --check joinedup tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install install-acro
	$(BIN)/python -m bench.run
	$(BIN)/python -m pytest -q -m slow

clean:
	rm -rf $(VENV) $(DFE_VENV) $(ACRO_VENV) demo .pytest_cache .mypy_cache .ruff_cache $(AXE_DIR)/node_modules
