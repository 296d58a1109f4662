# dlkit studies — every user-facing target depends on `install`, so one command does all set-up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
QUICK ?=
JOBS ?=
SEEDS ?=
MAX_SEEDS ?=
FORCE ?=
EXECUTOR ?=
ARMS ?=
# A yes/no option is off when empty or 0, no, false, off or n (any case): QUICK=0 is not quick.
OFF := 0 no No NO false False FALSE off Off OFF n N
on = $(filter-out $(OFF),$(strip $(1)))
STUDY_FLAGS := $(if $(call on,$(QUICK)),--quick,) $(if $(JOBS),--jobs $(JOBS),) \
	$(if $(SEEDS),--seeds $(SEEDS),) $(if $(MAX_SEEDS),--max-seeds $(MAX_SEEDS),) \
	$(if $(call on,$(FORCE)),--force,) \
	$(if $(EXECUTOR),--executor $(EXECUTOR),) $(if $(ARMS),--arms '$(ARMS)',)
DASK_PORT ?= 8786
MLFLOW_PORT ?= 5001
CLUSTER_ENV := DASK_SCHEDULER_ADDRESS=tcp://127.0.0.1:$(DASK_PORT) \
	MLFLOW_TRACKING_URI=http://127.0.0.1:$(MLFLOW_PORT)

.DEFAULT_GOAL := help
.PHONY: help install test lint format bench studies mlflow-ui clean cluster-up cluster-down \
	study-dask-demo

help: ## Show this help
	@echo "dlkit studies — make targets:"
	@grep -hE '^[a-zA-Z_%-]+:.*## ' $(MAKEFILE_LIST) | sed -e 's/:.*## /\t/' | awk -F'\t' '{printf "  %-18s %s\n", $$1, $$2}'
	@echo "  Studies: $$(grep -l '^STUDY = ' studies/catalog/*.py 2>/dev/null | xargs -n1 basename | sed -e 's/\.py$$//' | tr '\n' ' ')"
	@echo "           (one file each in studies/catalog/; the engine is studies/engine/, statistics"
	@echo "           studies/stats/, MLflow access studies/store/, reports reports/: README 'Layout')"
	@echo "  Options: QUICK=1 (smoke run: fewer epochs and seeds), JOBS=N (worker processes),"
	@echo "           MAX_SEEDS=N (cap the sequential looks, default 5/10/15/20 seeds per arm),"
	@echo "           SEEDS=N (exactly N seeds, one look), FORCE=1 (rerun trials already stored),"
	@echo "           EXECUTOR=dask (run trials on Dask; DASK_SCHEDULER_ADDRESS or a local cluster);"
	@echo "           ARMS=a,b (some arms only; shell patterns such as 'relu/*' work),"
	@echo "           0, no, false or off turn QUICK and FORCE off"
	@echo "  Your own study: .venv/bin/python -m studies new NAME, then"
	@echo "           .venv/bin/python -m studies run NAME.py [--quick] [--set key.path=value]"
	@echo "           [--arms a,b]; list yours with .venv/bin/python -m studies list --path DIR"
	@echo "           Guide: docs/writing-a-study.md"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install dlkit studies with dev extras (idempotent)

test: install ## Run the test suite (PyTorch reference tests skip when torch is absent)
	$(PY) -m pytest -q

lint: install ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install ## Apply ruff format and safe fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install ## Training-step benchmark: dlkit vs torch vs NumPy GEMM floor
	$(PY) -m benchmarks.bench_step

study-%: install ## Run study NAME end to end and write reports/out/NAME.html (e.g. make study-optimizers QUICK=1)
	$(PY) -m studies run $* $(STUDY_FLAGS)

report-%: install ## Rebuild reports/out/NAME.html from the MLflow store alone
	$(PY) -m studies report $*

studies: install ## Run every registered study
	$(PY) -m studies run all $(STUDY_FLAGS)

# One worker, no job runner, 127.0.0.1 only; prints each study's runs-table address; Ctrl-C stops
# it all. Port: MLFLOW_PORT if given (environment or command line), else 5000 (the cluster's
# MLFLOW_PORT default above is for cluster-up's server).
mlflow-ui: install ## Browse runs in the stock MLflow UI (127.0.0.1, MLFLOW_PORT or 5000)
	exec $(PY) studies/store/ui.py --port $(if $(filter environment command line,$(origin MLFLOW_PORT)),$(MLFLOW_PORT),5000)

cluster-up: install ## Start a Dask scheduler + 2 workers and an MLflow server on 127.0.0.1
	DASK_PORT=$(DASK_PORT) MLFLOW_PORT=$(MLFLOW_PORT) scripts/cluster.sh up

cluster-down: ## Stop what cluster-up started
	DASK_PORT=$(DASK_PORT) MLFLOW_PORT=$(MLFLOW_PORT) scripts/cluster.sh down

study-dask-demo: install ## Run the init study (quick) on the cluster-up cluster, logged to its MLflow server
	$(CLUSTER_ENV) $(PY) -m studies run init --quick --executor dask $(if $(call on,$(FORCE)),--force,)

clean: ## Remove caches and build outputs (keeps .venv and mlflow.db)
	rm -rf .pytest_cache .ruff_cache reports/out build *.egg-info
