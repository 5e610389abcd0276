# The two commands: `make run` (set up, then run the daemon) and `make test`
# (set up, then lint, type-check and test). Both need only Python 3.11+, a C
# compiler and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip -q --disable-pip-version-check
HASH   := $(shell cat pyproject.toml Makefile | cksum | cut -d' ' -f1)
RUNTIME_STAMP := $(VENV)/.runtime-$(HASH)
TEST_STAMP    := $(VENV)/.test-$(HASH)

.PHONY: setup setup-test run demo test lint bench bench-clip bench-index bench-stacks bench-faces bench-compare bench-remote bench-cold clean screenshots bench-soak bench-text bench-concepts bench-albums bench-places bench-video bench-whole bench-gpu bench-gil

setup: $(RUNTIME_STAMP)

$(RUNTIME_STAMP):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e .
	touch $@

setup-test: $(TEST_STAMP)

# torch first and pinned, so pip takes the CPU wheel on disk instead of a CUDA build.
$(TEST_STAMP): $(RUNTIME_STAMP)
	$(PIP) install torch==2.13.0
	$(PIP) install -e '.[test]'
	$(PIP) install --no-deps open-clip-torch insightface
	tools/ensure_debian_tools.sh
	$(BIN)/python tools/npm_files.py $(VENV)/npm
	$(BIN)/python tools/model_files.py $(VENV)/models
	$(BIN)/python tools/gpx_files.py $(VENV)/gpx
	touch $@

run: setup
	$(BIN)/anagnorisisd serve --config config.toml

demo: setup
	$(BIN)/anagnorisisd demo demo
	$(BIN)/anagnorisisd serve --config demo/config.toml

lint: setup-test
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/vulture anagnorisisd plugins --min-confidence 80

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup-test
	$(BIN)/python bench/bench_pipeline.py

bench-clip: setup-test
	$(BIN)/python bench/bench_clip.py

bench-index: setup-test
	$(BIN)/python bench/bench_index.py

bench-stacks: setup-test
	$(BIN)/python bench/bench_stacks.py

bench-faces: setup-test
	$(BIN)/python bench/bench_faces.py

bench-compare: setup-test
	$(BIN)/python bench/bench_compare.py

bench-remote: setup-test
	$(BIN)/python bench/bench_remote.py

bench-cold: setup-test
	$(BIN)/python bench/bench_cold_search.py

bench-text: setup-test
	$(BIN)/python bench/bench_text.py

bench-concepts: setup-test
	$(BIN)/python bench/bench_concepts.py

bench-albums: setup-test
	$(BIN)/python bench/bench_albums.py

bench-places: setup-test
	$(BIN)/python bench/bench_places.py

bench-video: setup-test
	$(BIN)/python bench/bench_video.py

bench-whole: setup-test
	$(BIN)/python bench/bench_whole.py

bench-gpu: setup-test
	PY=$(BIN)/python bench/gpu.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache bench/.cache

# Re-take the README's screenshots (the browser tests write them only when asked).
screenshots: setup-test
	ANAGNORISISD_SCREENSHOTS=1 $(BIN)/python -m pytest tests/test_web_ui.py

bench-soak: setup-test
	$(BIN)/python bench/bench_soak.py

bench-gil: setup-test
	$(BIN)/python bench/bench_gil.py
