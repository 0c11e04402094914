# deblurlab: `make train` (quick start on built-in data), `make test` (unit + integration tiers, the
# edit-test loop) and `make test-all` (every tier, what CI runs).
# Both create .venv with the pinned packages when it is missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.deblurlab-installed
ARGS ?=
# The torch wheel for this machine: PyTorch's CPU-only index where no NVIDIA GPU answers nvidia-smi
# (pip's default would bring the CUDA build and its libraries), pip's default index (the CUDA
# build) where one does. TORCH_INDEX=<url> chooses any index (e.g. .../whl/cu126); TORCH_INDEX=
# (empty) always uses pip's default.
CPU_TORCH_INDEX := https://download.pytorch.org/whl/cpu
TORCH_INDEX ?= $(shell nvidia-smi -L >/dev/null 2>&1 || echo $(CPU_TORCH_INDEX))
TORCH_PIN := $(shell sed -n 's/^ *"\(torch==[^"]*\)",*$$/\1/p' pyproject.toml)
# An index whose host name does not resolve (no network, a mirror-only site) is skipped with one
# line: pip would retry it for minutes before settling for its configured sources (find-links, a
# local index), so those serve torch at once. Checked with getent when the recipe runs.
TORCH_HOST = $(shell echo '$(TORCH_INDEX)' | sed -n 's|^https\{0,1\}://\([^/:]*\).*|\1|p')
TORCH_INDEX_RESOLVES = $(if $(TORCH_HOST),$(shell command -v getent >/dev/null 2>&1 && \
	! getent hosts $(TORCH_HOST) >/dev/null 2>&1 || echo yes),yes)
TORCH_SOURCE = $(if $(TORCH_INDEX),$(if $(TORCH_INDEX_RESOLVES),--index-url $(TORCH_INDEX),$(info \
	make install: $(TORCH_HOST) does not resolve; torch from pip's configured sources instead)))
# parallel test workers (pytest-xdist): one per CPU core; TEST_WORKERS=0 runs in this process
TEST_WORKERS ?= auto

.DEFAULT_GOAL := help
.PHONY: help install train test test-all lint format bench bench-gpu sweep clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet '$(TORCH_PIN)' $(TORCH_SOURCE)
	$(BIN)/python -m pip install --quiet -e '.[dev,slurm,optuna,export,demo]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv: pinned dependencies, torch CPU or CUDA build for this machine (TORCH_INDEX=...)
	@echo "deblurlab installed in $(VENV)"

train: $(STAMP) ## quick start: train MIMO-UNet on the built-in synthetic data (CPU, a few minutes)
	$(BIN)/deblurlab-train experiment=quickstart $(ARGS)

PYTEST := $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --durations=10
test: $(STAMP) ## quick tier: tests/unit + tests/integration (no subprocesses; a few minutes)
	$(PYTEST) tests/unit tests/integration $(ARGS)

test-all: $(STAMP) ## every tier: unit, integration and tests/e2e (what CI runs)
	$(PYTEST) tests $(ARGS)

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check src tests conf
	$(BIN)/ruff format --check src tests conf

format: $(STAMP) ## ruff autofix and format
	$(BIN)/ruff check --fix src tests conf
	$(BIN)/ruff format src tests conf

bench: $(STAMP) ## speed and memory table, variants side by side in one run (--large: 720p, 4K)
	$(BIN)/deblurlab-bench $(ARGS)

GPU_RUN := logger=csv debug=smoke trainer=gpu test=false
bench-gpu: $(STAMP) ## on a GPU machine (< 5 min): smoke training with the GPU defaults and in strict fp32, then one table
	$(BIN)/deblurlab-train $(GPU_RUN) run_name=gpu_auto
	$(BIN)/deblurlab-train $(GPU_RUN) trainer.precision=32-true run_name=gpu_fp32
	$(BIN)/deblurlab-bench --device cuda --only gpu $(ARGS)

# a fixed folder: run again, the sweep skips its finished points and continues interrupted ones
SWEEP_DIR ?= experiments/runs/sweeps/table3_smoke
sweep: $(STAMP) ## the Table-3 fusion ablation, smoke-sized on built-in data, then its report
	$(BIN)/deblurlab-train -m experiment=ablation_table3 debug=smoke data=synthetic \
		hydra.sweep.dir=$(SWEEP_DIR) $(ARGS)
	$(BIN)/deblurlab-report $(SWEEP_DIR)

clean: ## remove caches (keeps .venv and experiments/runs)
	rm -rf .pytest_cache .ruff_cache src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
