# The two commands a newcomer needs, from a fresh clone:
#   make demo   - the main job end to end, offline, on the embedded defaults
#   make test   - the test suite
# Both create .venv on first use. torch is pinned to the CPU wheel that this kind of
# machine keeps on local disk (an unpinned torch can pull a multi-GB CUDA build).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0

.PHONY: demo test setup clean

demo: $(VENV)/.installed
	$(BIN)/hf-dna demo

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

clean:
	rm -rf $(VENV)
