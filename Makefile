# dkluq: two commands do everything on a fresh machine.
#   make demo   create .venv, install, run ingest -> train -> predict -> scan on sample_data/
#   make test   create/use the same .venv with the dev extra and run the test suite
# Also: make test-all (the tests marked slow too), make bench (benchmarks/, slow, not in CI),
# make fuzz (2+ min, not in CI), make lint, make sample-data (needs chgnet).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DKLUQ  := $(VENV)/bin/dkluq
DEMO   ?= demo_out
STAMP  := $(VENV)/.dkluq-installed

.PHONY: demo test test-all lint bench bench-quick sample-data clean install fuzz

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# CPU build of torch from local disk first, so nothing pulls a multi-GB CUDA build
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(DKLUQ) ingest sample_data/vasp_runs -o $(DEMO)/vasp_table.csv
	OMP_NUM_THREADS=1 $(DKLUQ) train sample_data/srtio3_lattice_energy.csv --inducing 50 \
		--device cpu --seed 0 -o $(DEMO)/run
	$(DKLUQ) predict $(DEMO)/run/model.pt $(DEMO)/vasp_table.csv -o $(DEMO)/vasp_predictions.csv
	$(DKLUQ) predict $(DEMO)/run/model.pt sample_data/srtio3_ood.csv -o $(DEMO)/ood_predictions.csv
	$(DKLUQ) scan $(DEMO)/run/model.pt --lattice-range 0.8 1.2 --points 61 -o $(DEMO)/scan
	@echo
	@echo "demo outputs:"
	@echo "  table        $(DEMO)/vasp_table.csv (+ .rejected.csv, .extxyz)"
	@echo "  model + plots $(DEMO)/run/ (model.pt, metrics.json, parity.png, calibration.png, ...)"
	@echo "  predictions  $(DEMO)/vasp_predictions.csv, $(DEMO)/ood_predictions.csv"
	@echo "  scan         $(DEMO)/scan/ (scan_1d.csv, scan_iso.csv, scan_2d_*.csv, *.png)"

# one worker per CPU (at most 4), a test file per worker: module fixtures are built once.
# make test leaves out the tests marked slow (training the default model, the benchmarks in
# --quick mode); make test-all runs every test.
PYTEST := $(VENV)/bin/pytest -q -n auto --maxprocesses 4 --dist loadfile

test: $(STAMP)
	$(PYTEST) -m "not slow"

test-all: $(STAMP)
	$(PYTEST)

# issue 9: >= 2 minutes of hypothesis fuzzing (mutated real VASP files, random tables); not in CI
fuzz: $(STAMP)
	DKLUQ_FUZZ_SECONDS=120 OMP_NUM_THREADS=1 $(VENV)/bin/pytest -q --hypothesis-show-statistics \
		tests/test_ingest_robust.py tests/test_table_props.py -k "mutated or random_bytes or structured"

lint: $(STAMP)
	$(VENV)/bin/ruff check dkluq_cli tests benchmarks sample_data

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench,sample-data]'
	OMP_NUM_THREADS=1 $(PY) benchmarks/run_all.py

bench-quick: $(STAMP)
	$(PY) benchmarks/run_all.py --quick

sample-data: $(STAMP)
	$(PY) -m pip install --quiet -e '.[sample-data]'
	$(PY) sample_data/generate.py

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .ruff_cache
