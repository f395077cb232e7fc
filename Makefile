# mathphys_nb — the two commands a new user needs are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed-$(shell cat settings.ini setup.py pyproject.toml 2>/dev/null | cksum | cut -d' ' -f1)
export MPLBACKEND := Agg
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install demo test test-fast lab docs readme bench bench-deps data weights export clean browser-deps

## Set-up: venv + CPU torch first (so pip never pulls a multi-GB CUDA build) + the package with dev extras.
$(STAMP):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -e ".[dev]"
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

## The main job: the end-to-end pipeline, headless, writing build/demo/report.html.
demo: install
	$(BIN)/mathphys demo

## Every check CI runs (export/clean in sync, every notebook, unit/property tests, the whole docs site built as
## `make docs` builds it, real browser). --dist loadgroup keeps the docs-site tests on the worker that builds the site.
test: install browser-deps
	$(PY) -m pytest tests -n 2 --dist loadgroup -p no:cacheprovider

## Without the browser test (no chromium needed).
test-fast: install
	$(PY) -m pytest tests -n 2 --dist loadgroup -p no:cacheprovider -m "not browser"

browser-deps:
	@bash tools/ensure_chromium.sh

## JupyterLab on the lessons, bound to 127.0.0.1, token auth kept on.
lab: install
	$(BIN)/mathphys lab

## The docs site in _docs/ (open _docs/index.html): every notebook run with light settings, rendered from _quarto.yml
## by Quarto when installed, else smalldocs; math (MathJax) served from the site, no network needed.
docs: install
	$(BIN)/mathphys docs

readme: install
	$(BIN)/mathphys docs readme

bench: install bench-deps
	$(PY) -m pip install -q --disable-pip-version-check -e ".[bench]"
	$(BIN)/mathphys bench

## The browser benchmark's ceiling: a plain three.js page (three r160 from npm, into build/three; no CDN at run time).
bench-deps:
	@test -f build/three/node_modules/three/build/three.module.min.js || \
	  (command -v npm >/dev/null && npm install --prefix build/three --no-audit --no-fund three@0.160.0 >/dev/null) || \
	  echo "npm not found: the browser benchmark reports its three.js reference as not measured"

data: install
	$(BIN)/mathphys data default

## The shipped checkpoints in data/weights/ (with their manifest): long on a CPU, run once and commit.
## A campaign: `make weights BUDGET=120 [ONLY="ae_euler64_r80_dctres forecaster"] [DEVICE=cuda] [RESUME=1]` (minutes, split equally).
weights: install
	$(BIN)/mathphys weights $(if $(BUDGET),--budget $(BUDGET)) $(if $(ONLY),--only $(ONLY)) $(if $(DEVICE),--device $(DEVICE)) $(if $(RESUME),--resume)

## After editing notebooks: regenerate the library and clean the notebooks.
export: install
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean && $(BIN)/mathphys docs readme

clean:
	rm -rf build _docs _proc .pytest_cache
