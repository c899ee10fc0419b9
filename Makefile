# The README's quick start: `make demo` and `make test`. Both create .venv/ when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS ?= ui,test

.PHONY: demo test bench package clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/confab demo

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b; done

package: $(STAMP)
	$(PY) -m pip install --quiet -e '.[$(EXTRAS),packaging]'
	$(PY) -m PyInstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/confab.spec

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
