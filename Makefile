# The two commands of the README: `make demo` and `make test`. Both build .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

ifeq ($(shell uname -m),aarch64)
TORCH := torch==2.9.1 torchvision==0.24.1
else
TORCH := torch==2.14.1 torchvision==0.29.1
endif

.PHONY: demo test test-fast lint format chromium clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[dev,notebook,e2e,vision]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/eagle-kit demo

# Every tier: unit, models, slow, notebooks, widgets (python + node), e2e (real browser).
test: $(STAMP) chromium
	$(BIN)/ruff check .
	node --test widgets/tests/
	$(BIN)/python -m pytest -m "" --timeout=1800

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not e2e and not notebooks"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Debian's Chromium drives the browser tests (Playwright cannot download browsers here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: sudo apt-get install chromium (needed by the e2e tests)"; exit 1; fi; }

clean:
	rm -rf $(VENV) build dist *.egg-info reports test-artifacts
