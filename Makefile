# Two commands on a fresh machine: `make demo` and `make test`. Each builds what it needs,
# idempotently: the project venv (.venv) and a separate venv for the DVC CLI (.venv-dvc;
# dvc's antlr4 pin breaks dagster in a shared venv).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
DVC_VENV := .venv-dvc
BIN := $(VENV)/bin
export TESSERA_HOME ?= $(CURDIR)/.tessera

.PHONY: setup demo test ui bench clean validate chromium postgres

setup: $(VENV)/.installed $(DVC_VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==2.11.0" "torchaudio==2.11.0"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# image.nsfw reads only the ONNX weights in NudeNet's wheel; its own dependency would add a second OpenCV
	$(BIN)/python -m pip install --quiet --no-deps "nudenet==3.4.2"
	touch $@

$(DVC_VENV)/.installed:
	$(PYTHON) -m venv $(DVC_VENV)
	$(DVC_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DVC_VENV)/bin/python -m pip install --quiet "dvc[s3]>=3.60,<4"
	touch $@

demo: setup
	PATH="$(CURDIR)/$(DVC_VENV)/bin:$$PATH" $(BIN)/tessera demo

# The browser tests drive Debian's chromium through Playwright (no browser download of its own).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; }

# The production tests (tests/production) start Debian's PostgreSQL server themselves: initdb and
# pg_ctl live off PATH in /usr/lib/postgresql/<version>/bin.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q postgresql; }

test: setup chromium postgres
	$(BIN)/ruff check .
	PATH="$(CURDIR)/$(DVC_VENV)/bin:$$PATH" $(BIN)/python -m pytest

validate: setup
	DAGSTER_HOME=$(TESSERA_HOME)/dagster $(BIN)/dagster definitions validate -w workspace.yaml

ui: setup
	$(BIN)/tessera ui

bench: setup
	$(BIN)/python bench/stages.py --n 24

clean:
	rm -rf $(TESSERA_HOME)
