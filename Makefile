# Neurocanvas: two commands set everything up. `make run` starts the app, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench fuzz clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) main.py $(ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .

test: $(STAMP)
	$(PY) -m ruff check .
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m bench

fuzz: $(STAMP)
	QT_QPA_PLATFORM=offscreen NEUROCANVAS_FUZZ=1 $(PY) -m pytest tests/reliability -p no:cacheprovider

clean:
	rm -rf $(VENV) build *.egg-info
