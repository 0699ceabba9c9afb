# Two commands: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test bench mutants install down status clean rewritten-tests

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "clustergate needs Python 3.11 or newer; set PYTHON=python3.11")'
	bash .ci/install-venv $(PYTHON)  # Debian's python3 needs python3-venv for -m venv: installed as root, else named
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,redis,backtest]'
	touch $@

install: $(STAMP)

# Byte-compile the checkout's own code (only what changed since): every actor, CLI call and test worker imports it,
# and with PYTHONDONTWRITEBYTECODE set (as on our CI machines) Python otherwise compiles each module from source in
# every new process, about 0.1 s of CPU an actor start.
BYTECODE := $(BIN)/python -m compileall -q actors launcher proofs tests bench >/dev/null

demo: $(STAMP)
	$(BYTECODE)
	@bash .ci/install-promtool || echo "make demo: without Debian's prometheus package the demo runs, but \`clustergate monitor up\` cannot"
	$(BIN)/clustergate up configs/demo.yaml
	$(BIN)/clustergate status
	$(BIN)/clustergate proof readiness

# pytest rewrites the asserts of every test module it imports, and keeps the result beside the bytecode
# (tests/__pycache__/*-pytest-*.pyc) only when Python may write bytecode: with PYTHONDONTWRITEBYTECODE set each of
# make test's workers, each collecting every file, rewrote all of them, about 5 s of CPU a worker (collection 6.5 s
# of CPU, 1.6 s with the rewritten files kept). One collection with bytecode writing allowed keeps them (only files
# changed since are rewritten); its failures are the run's to report.
rewritten-tests:
	-env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -q --collect-only -p no:cacheprovider >/dev/null 2>&1

test: $(STAMP)
	bash .ci/install-promtool
	bash .ci/install-cc
	$(BYTECODE)
	@$(MAKE) --no-print-directory rewritten-tests
	$(BIN)/python -m pytest -q -n 8 --dist loadfile --no-loadscope-reorder --durations=25  # eight workers on 2 cores, one file each: most tests wait on real processes; with six the cores stood idle 16% of a run (/proc/stat, session 45, Intel Xeon), with eight 5%, and a run took 865 s where six took 915-960 s; files handed out in tests/conftest.py's order, the longest first (xdist's own order, most tests first, left them last); the 25 slowest named at the end

# Not part of `make test`: break the product one curated mutation at a time (tests/mutants/mutations.py)
# in a scratch copy and check the tests meant to catch each break fail; exits 1 if one survives.
mutants: $(STAMP)
	$(BIN)/python tests/mutants/run.py --baseline

bench: $(STAMP)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/python -m bench  # as the launcher runs the actors

# Before any `make demo` here there is no .venv, so nothing of this checkout can run: say so rather than
# `No such file or directory` (down exits 0 as with nothing running, status 1 as `clustergate status` does).
NOT_SET_UP := no .venv here: \`make demo\` was never run in this checkout

down:
	@if [ -x $(BIN)/clustergate ]; then echo "$(BIN)/clustergate down"; $(BIN)/clustergate down; \
	else echo "nothing running ($(NOT_SET_UP))"; fi

status:
	@if [ -x $(BIN)/clustergate ]; then echo "$(BIN)/clustergate status"; $(BIN)/clustergate status; \
	else echo "supervisord: not running ($(NOT_SET_UP))"; exit 1; fi

clean:
	-$(BIN)/clustergate down
	rm -rf run
