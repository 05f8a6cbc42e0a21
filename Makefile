# Set-up and checks for a fresh Debian machine (run as root, or with sudo available).
#   make demo   - the local gateway (Envoy + filter sidecar) on 127.0.0.1:8080 in front of a demo
#                 echo upstream, with the built-in default policy (Ctrl-C stops it)
#   make test   - install everything, lint, type-check, run the whole test suite

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := libhyperscan-dev pkg-config build-essential python3-venv

.PHONY: demo test lint fuzz bench system-deps

system-deps:
	@dpkg -s $(APT_PACKAGES) >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES); }

$(BIN)/.installed: pyproject.toml setup.py | system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# The extension is rebuilt whenever its sources change (the editable install does not notice).
airlock_filters/.built: $(BIN)/.installed airlock_filters/_scanner_c.pyx airlock_filters/_hs.pxd \
		airlock_filters/_prepare_c.pyx airlock_filters/_field_c.pyx airlock_filters/_field_c.pxd
	$(BIN)/python setup.py -q build_ext --inplace
	touch $@

demo: airlock_filters/.built
	$(BIN)/airlock-microgateway run

lint: airlock_filters/.built
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	PATH="$(BIN):$$PATH" cython-lint airlock_filters/*.pyx airlock_filters/*.pxd

test: lint
	$(BIN)/python -c "import airlock_filters._scanner_c"
	$(BIN)/pytest -p no:cacheprovider

bench: airlock_filters/.built
	$(BIN)/python bench/detection.py
	$(BIN)/python bench/speed.py
