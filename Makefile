# Everything runs from the project's own virtualenv, created on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATA ?= ../shared/data
STAMP := $(VENV)/.installed

.PHONY: install run test eval train bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: install
	$(VENV)/bin/badminton serve

test: install
	$(PY) -m pytest -q

eval: install
	BADMINTON_DATA=$(DATA) $(PY) -m tools.evaluate --out eval.json

train: install
	BADMINTON_DATA=$(DATA) $(PY) -m tools.train

bench: install
	$(PY) -m tools.bench --data $(DATA)

lint: install
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
