# `make help` lists the targets. `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
OUT    ?= out

.PHONY: help install demo test test-fast typecheck lint bench bench-peers bench-100k fuzz clean golden release

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the toolkit with its test tools

demo: install ## validate the shipped records and export them in every format to out/
	$(BIN)/toolkit validate records
	$(BIN)/toolkit fmt --check records
	$(BIN)/toolkit formats
	$(BIN)/toolkit export --format ics records -o $(OUT)/article.ics
	$(BIN)/toolkit export --format jsonld records -o $(OUT)/article.jsonld
	$(BIN)/toolkit export --format markdown records -o $(OUT)/article.md
	$(BIN)/toolkit export --format csv records -o $(OUT)/csv
	@echo "demo: exports are in $(OUT)/"

test: install typecheck lint ## the whole suite: strict types, lint, unit, CLI, properties, goldens, wheel smoke test
	$(BIN)/python -m pytest -q

typecheck: install ## strict mypy over src/ and exporters/ (installed as records_toolkit.exporters)
	$(BIN)/python -m mypy src/records_toolkit

lint: install ## ruff check and ruff format --check
	$(BIN)/ruff check src exporters tests bench
	$(BIN)/ruff format --check src exporters tests bench

test-fast: install ## the suite without the slow wheel build, fewer hypothesis examples
	HYPOTHESIS_PROFILE=fast $(BIN)/python -m pytest -q -m "not slow"

golden: install ## rewrite the golden files from the shipped records (review the diff!)
	$(BIN)/python -m pytest -q tests/exporters -k golden --update-golden
	git diff --stat tests/golden

LINKML_VENV ?= bench/.linkml-venv
LINKML_VERSION ?= 1.12.1
bench-peers: install ## install the peers `make bench` measures: check-jsonschema, and linkml in its own venv (skipped if it fails)
	$(BIN)/python -m pip install --quiet check-jsonschema  # the peer measured against (not a test dependency)
	@test -f $(LINKML_VENV)/.linkml-$(LINKML_VERSION) || { rm -rf $(LINKML_VENV) && $(PYTHON) -m venv $(LINKML_VENV) \
	  && $(LINKML_VENV)/bin/python -m pip install --quiet 'linkml==$(LINKML_VERSION)' && touch $(LINKML_VENV)/.linkml-$(LINKML_VERSION); } \
	  || echo "bench: linkml $(LINKML_VERSION) did not install in $(LINKML_VENV); the bench skips its row" >&2

bench: bench-peers ## throughput, peak memory, start-up and exports of the toolkit against its peers, 10k records
	$(BIN)/python bench/run.py

bench-100k: bench-peers ## the same at 100k records, fewer rounds (long); writes bench/RESULTS-100k.md
	$(BIN)/python bench/run.py --records 100000 --repeat 2 --startup-repeat 5 --results bench/RESULTS-100k.md

FUZZ_SECONDS ?= 120
fuzz: install ## mutation fuzzing of validate, fmt, every export and importer (FUZZ_SECONDS=120); 0 foreign exceptions
	$(BIN)/python bench/fuzz.py --seconds $(FUZZ_SECONDS)

clean: ## remove the venv and outputs
	rm -rf $(VENV) $(OUT) dist build .pytest_cache .hypothesis

# The version of pyproject.toml (read when a target uses it).
VERSION = $(shell $(PYTHON) -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')

release: ## tag v<version> of pyproject.toml (the rev `toolkit init` pins); refuses a dirty tree or an existing tag
	@test -n "$(VERSION)" || { echo "release: no version found in pyproject.toml" >&2; exit 1; }
	@test -z "$$(git status --porcelain)" || { echo "release: the working tree has changes not committed (git status): commit or remove them first; nothing tagged" >&2; exit 1; }
	@if git rev-parse -q --verify "refs/tags/v$(VERSION)" >/dev/null; then echo "release: the tag v$(VERSION) exists already: raise the version in pyproject.toml first; nothing tagged" >&2; exit 1; fi
	git tag -a "v$(VERSION)" -m "records-toolkit $(VERSION)"
	@echo "release: tagged v$(VERSION); publish it with: git push origin v$(VERSION)"
