# One entry point for people and CI. Every target creates .venv on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean venv chromium

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# The browser test (tests/integration/test_dashboard_browser.py) drives Debian's headless
# Chromium; installed once when /usr/bin/chromium is missing (root on CI, else sudo).
CHROMIUM_STAMP := $(VENV)/.chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(CHROMIUM_STAMP): | $(STAMP)
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; }
	@/usr/bin/chromium --version
	@touch $@

chromium: $(CHROMIUM_STAMP)

# The demo succeeds when the game day ran; what the hypotheses found (exit 1 deviated,
# 2 aborted, 6 inconclusive) is the finding it reports, not a failure of the demo.
# Tool errors (3 invalid input, 4 refused, 5 provider error) fail it.
demo: $(STAMP)
	@$(BIN)/ialr gameday --quick; rc=$$?; \
	case $$rc in 0|1|2|6) exit 0;; *) exit $$rc;; esac

test: $(STAMP) $(CHROMIUM_STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info reports
