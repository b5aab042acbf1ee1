# Two commands do all the set-up on a fresh machine:
#   make demo   -> builds .venv if missing, runs the main demo under mpirun -n 2
#   make test   -> builds .venv if missing, runs the serial tests, then the MPI tests on 2 ranks
#                  (not the tests marked slow: `make test-slow` runs those; CI runs make test)
#   make docs   -> the documentation in docs/_build/html (the gallery's demos run at CI size)
PYTHON ?= python3.12
VENV   ?= .venv
NP     ?= 2
PY     := $(VENV)/bin/python
MPIRUN := $(VENV)/bin/mpirun
PYTEST_FLAGS ?= -q -p no:cacheprovider

.PHONY: venv demo demo-mechanics test test-serial test-mpi test-slow lint docs clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[wheels,test,lint,docs]"
	touch $@

# the demos write to $FEMDIFF_OUTPUT/<name> (default: ./output/<name>)
demo: venv
	FEMDIFF_OUTPUT=demos/output $(MPIRUN) -n $(NP) $(PY) demos/demo_stressed_rod.py

demo-mechanics: venv
	FEMDIFF_OUTPUT=demos/output $(MPIRUN) -n $(NP) $(PY) demos/demo_mechanics_rod.py

test: test-serial test-mpi

# the import contracts in pyproject.toml ([tool.importlinter]) first: the layering is a test
test-serial: venv
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_FLAGS) -m "not slow" tests

# -m mpi4py: an exception on one rank aborts all ranks instead of deadlocking. A failed
# assertion on one rank only can still leave the other waiting in a collective: the
# thread-method timeout then kills the process, so the job fails loudly instead of hanging.
test-mpi: venv
	$(MPIRUN) -n $(NP) $(PY) -m mpi4py -m pytest $(PYTEST_FLAGS) --timeout=900 \
		--timeout-method=thread -m "mpi and not slow" tests

# the long checks (the generic key-by-key runs, the wheel in a fresh venv, a notebook,
# fine-mesh references), serially and on 2 ranks
test-slow: venv
	$(PY) -m pytest $(PYTEST_FLAGS) -m slow tests
	$(MPIRUN) -n $(NP) $(PY) -m mpi4py -m pytest $(PYTEST_FLAGS) --timeout=900 \
		--timeout-method=thread -m "mpi and slow" tests

# -W --keep-going: every warning fails the build, all of them reported; CI=1: the gallery
# runs each demo at its small size. No network: no intersphinx.
docs: venv
	rm -rf docs/_build/html
	CI=1 $(VENV)/bin/sphinx-build -W --keep-going -q -j 2 -b html docs docs/_build/html
	@echo "docs: docs/_build/html/index.html"

lint: venv
	$(VENV)/bin/ruff check femdiff tests demos benchmarks

clean:
	rm -rf $(VENV) build *.egg-info docs/_build docs/api docs/reference docs/gallery \
		docs/verification.md
