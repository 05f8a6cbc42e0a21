# Set-up and checks for a fresh Debian machine (run as root, or with sudo available).
#   make demo   - the local gateway (Envoy + filter sidecar) on 127.0.0.1:8080 in front of a demo
#                 echo upstream, with the built-in default policy (Ctrl-C stops it)
#   make test   - install everything, lint, type-check, run the whole test suite (the first run
#                 also builds etcd, kube-apiserver, kube-controller-manager and helm from the Go
#                 module proxy into ~/.cache/airlock-k8s: about 20 minutes, then cached)
#   make k8s-up - a local Kubernetes control plane with the Gateway API CRDs (prints KUBECONFIG)
#   make bench  - the benchmarks of bench/ (installs nginx + ModSecurity + CRS and wrk for the
#                 gateway comparison)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := libhyperscan-dev pkg-config build-essential python3-venv procps
BENCH_APT_PACKAGES := nginx-light libnginx-mod-http-modsecurity modsecurity-crs wrk

.PHONY: demo test lint fuzz bench system-deps bench-deps k8s-binaries k8s-up

system-deps:
	@dpkg -s $(APT_PACKAGES) >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES); }

bench-deps:
	@dpkg -s $(BENCH_APT_PACKAGES) >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(BENCH_APT_PACKAGES); }

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

# etcd, kube-apiserver, kube-controller-manager and helm for tests/k8s, built from the Go module
# proxy into ~/.cache/airlock-k8s (about 20 minutes the first time, then nothing to do).
k8s-binaries:
	bash tests/k8s/build_binaries.sh

k8s-up: $(BIN)/.installed k8s-binaries
	$(BIN)/python -m tests.k8s.controlplane up

test: lint k8s-binaries
	$(BIN)/python -c "import airlock_filters._scanner_c"
	$(BIN)/pytest -p no:cacheprovider

bench: airlock_filters/.built bench-deps
	$(BIN)/python bench/detection.py
	$(BIN)/python bench/speed.py
	$(BIN)/python bench/gateway_speed.py
