# Fresh-machine entry points. Each target creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast lint venv clean

$(BIN)/planner: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(BIN)/planner

venv: $(BIN)/planner

## Set up, then assess the bundled sample cluster and print its rollout plan.
demo: venv
	$(BIN)/planner assess -f sample_clusters/shop -R --profile sample_clusters/profiles/shop.yaml
	$(BIN)/planner plan -f sample_clusters/shop -R --profile sample_clusters/profiles/shop.yaml
	@echo
	@echo "planner is installed in $(VENV). Put it on PATH for this shell with:"
	@echo "    source $(VENV)/bin/activate"
	@echo "or call it as $(BIN)/planner."

## Set up, then run the test suite (CI runs this after ruff and mypy).
test: venv
	$(BIN)/python -m pytest

## The quick loop: everything but the slow, live-API, TUI and subprocess tests
## (markers: tests/conftest.py).
test-fast: venv
	$(BIN)/python -m pytest -m "not slow and not live and not tui and not subprocess"

## ruff, mypy and the layer contracts (docs/architecture.md), as CI runs them.
lint: venv
	$(BIN)/ruff check planner tui tests bench sample_clusters
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
