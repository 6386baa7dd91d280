# `make` installs into .venv; `make test` runs everything CI runs; `make demo` runs examples/demo.
PY ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
COMMANDS := $(wildcard bin/mt-*) $(wildcard bin/megatest) $(wildcard bin/logpro)

.PHONY: all install bytecode demo test bench clean

all: install

# Bytecode is written explicitly: with PYTHONDONTWRITEBYTECODE set (as on CI machines),
# every mt-test call inside a test would otherwise recompile the library (+20 ms each).
install: $(BIN)/.installed bytecode

bytecode:
	@$(BIN)/python -m compileall -q lib

$(BIN)/.installed: pyproject.toml $(COMMANDS) tools/install-commands
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	$(BIN)/python tools/install-commands $(VENV) $(COMMANDS)
	touch $@

demo: install
	PATH=$(BIN):$$PATH examples/run-demo

test: install
	PATH=$(BIN):$$PATH $(BIN)/python -m pytest -q tests

bench: install
	PATH=$(BIN):$$PATH $(BIN)/python bench/runner_overhead.py
	PATH=$(BIN):$$PATH $(BIN)/python bench/mt_test_cost.py
	PATH=$(BIN):$$PATH $(BIN)/python bench/megatest_test_cost.py

clean:
	rm -rf $(VENV) .pytest_cache
