# The two commands of the README: `make demo` and `make test`. Both set everything up first
# (a virtual environment in .venv, CPU torch, foreman and its dependencies) and are idempotent.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
# llama-cpp-python compiles from source here; its multimodal library is not needed. A portable
# (AVX2) build, not -march=native: on CPUs with AMX (Sapphire Rapids) the native build segfaults
# in its first decode (ggml-org/llama.cpp#20824, the AMX weight buffer).
export CMAKE_ARGS := -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF

.PHONY: demo test clean chromium

demo: $(STAMP)
	$(BIN)/foreman run "grab the green key on your right" --env BabyAI-PickupLoc-v0 --seed 2000001

# pytest exits 5 when it collects no test; make treats that like any failure.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

$(STAMP): pyproject.toml constraints.txt
	command -v chromium >/dev/null || $(MAKE) chromium
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt torch
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

# Debian's chromium renders the trace viewer in the tests (headless, offline).
chromium:
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

clean:
	rm -rf $(VENV)
