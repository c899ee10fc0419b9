# The README's quick start: `make demo` and `make test`. Both create .venv/ when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LINT_STAMP := $(VENV)/.installed-lint
EXTRAS ?= ui,test
# Every install goes through the lock file, so a fresh machine gets what CI tested.
CONSTRAINTS := constraints.txt
PIP_INSTALL := $(PY) -m pip install --quiet -c $(CONSTRAINTS)

.PHONY: demo test lint bench package clean venv constraints

venv: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) pip
	$(PIP_INSTALL) -e '.[$(EXTRAS)]'
	touch $(STAMP)

$(LINT_STAMP): $(STAMP)
	$(PIP_INSTALL) -e '.[$(EXTRAS),lint]'
	touch $(LINT_STAMP)

demo: $(STAMP)
	$(VENV)/bin/confab demo

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

# ruff (rules in pyproject's [tool.ruff]; no formatter) and mypy over the whole tree. The test
# folders import their helpers as top-level modules (pytest's rootdir-relative imports) and
# each has a conftest.py, so mypy checks each one in a run of its own (some import another
# folder's helpers: tests/call's callutil, tests/server's srvutil, tests/core's harness, and
# tests/app the packaging/ steps — hence MYPYPATH).
MYPY := $(PY) -m mypy
lint: $(LINT_STAMP)
	$(PY) -m ruff check .
	MYPYPATH=tests/reliability:tests/server:tests/call $(MYPY) core server ui app bench tests/*.py
	@set -e; for d in tests/*/; do \
	  if ls $$d*.py >/dev/null 2>&1; then echo "mypy $$d"; MYPYPATH=tests/call:tests/server:tests/core:packaging $(MYPY) $$d; fi; \
	done

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b; done

package: $(STAMP)
	$(PIP_INSTALL) -e '.[$(EXTRAS),packaging]'
	$(PY) -m PyInstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/confab.spec

# Regenerate constraints.txt from a clean resolve (in a throwaway venv) of the project with
# every extra. `make constraints` takes the newest versions the ranges in pyproject allow;
# `make constraints LOCK_ARGS='-c constraints.txt'` keeps today's pins and resolves only what
# is new (an added dependency).
LOCK_EXTRAS := ui,test,packaging,lint
LOCK_VENV := build/lock-venv
constraints:
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet $(LOCK_ARGS) --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install --quiet $(LOCK_ARGS) --dry-run --ignore-installed \
	  --report $(LOCK_VENV)/report.json -e '.[$(LOCK_EXTRAS)]' pip
	{ echo "# The lock file: every package of confab and its extras ($(LOCK_EXTRAS)), transitive"; \
	  echo "# ones included, at an exact version. make (venv, lint, package) and so CI install with"; \
	  echo "# 'pip install -c constraints.txt'. Don't edit by hand; regenerate with 'make constraints'"; \
	  echo "# (newest allowed) or \"make constraints LOCK_ARGS='-c constraints.txt'\" (keep these pins)."; \
	  $(LOCK_VENV)/bin/python -c 'import json, sys; \
	    rows = json.load(open(sys.argv[1]))["install"]; \
	    pins = {"%s==%s" % (r["metadata"]["name"], r["metadata"]["version"]) for r in rows \
	            if r["metadata"]["name"] != "confab"}; \
	    print("\n".join(sorted(pins, key=lambda p: p.lower().split("==")[0])))' $(LOCK_VENV)/report.json; \
	} > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
	rm -rf $(LOCK_VENV)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
