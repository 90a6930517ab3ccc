# Two commands do all the set-up: `make run` (the bot) and `make test` (the suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch first and pinned: pip then keeps this CPU build instead of pulling a CUDA one.
TORCH_SPEC ?= torch==2.13.0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup run test test-fast typecheck lint bench clean messages

$(BIN)/sectorbot: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH_SPEC) $(TORCH_INDEX)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/sectorbot

setup: $(BIN)/sectorbot

run: setup
	$(BIN)/sectorbot run

test: setup typecheck
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q -n 2

# mypy over the package as it installs: links give it the sectorbot.* names.
typecheck: setup
	mkdir -p build/typecheck/sectorbot
	for d in bot corpus index; do ln -sfn ../../../$$d build/typecheck/sectorbot/$$d; done
	cd build/typecheck && ../../$(BIN)/mypy --config-file ../../pyproject.toml -p sectorbot

# Everything that does not need the real embedding model, for the edit-test loop.
test-fast: setup
	$(BIN)/ruff check .
	SECTORBOT_TESTS=fast $(BIN)/python -m pytest -q -n 2

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint docker/Dockerfile

bench: setup
	$(BIN)/python -m bench.bench_ingest
	$(BIN)/python -m bench.bench_query
	$(BIN)/python -m bench.bench_telegram
	$(BIN)/python -m bench.bench_alerts
	$(BIN)/python -m bench.bench_backends

clean:
	rm -rf $(VENV) build *.egg-info

# After adding or changing a text in bot/: bring the catalogues in step with the code, then
# translate the new entries (en: the English text again) until tests/test_i18n.py passes.
messages: setup
	$(BIN)/pybabel extract -k _ -k N_ -k ngettext:1,2 --no-default-keywords --no-location \
		--sort-output -o bot/locale/sectorbot.pot bot/
	$(BIN)/pybabel update -i bot/locale/sectorbot.pot -d bot/locale -D sectorbot \
		--ignore-obsolete --width 100
	rm bot/locale/sectorbot.pot
