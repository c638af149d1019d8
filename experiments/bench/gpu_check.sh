#!/usr/bin/env bash
# The vLLM benchmarks on a lent GPU machine (one H100/H200, no network, 10 minutes a command),
# run from the repository root:
#
#   PYTHON=/path/to/python SAL_SRC=shared/search-and-learn experiments/bench/gpu_check.sh [OUT.json]
#
# Checked here as a dry run on the CPU build (3 problems, 2026-12-07): PYTHON=.venv-vllm/bin/python
# REQUIRE_CUDA=0 OVERRIDES=engine.max_batch=2048 PROBLEMS=3 REPEATS=1 SAL_SRC=/tmp/sal-src.
#
# Installs nothing. PYTHON must already import a CUDA build of vLLM 0.32 (`pip install
# "infscale[vllm]"`: vllm==0.32.* with its CUDA torch, several GB, so it cannot travel in a
# 64 MiB carry) and infscale's own dependencies (hydra-core, transformers, scipy, ...);
# infscale itself is read from this tree (PYTHONPATH). SAL_SRC is a search-and-learn
# checkout at 6f81cac (see experiments/bench/search_and_learn.py, which also names the three
# packages its modules import); without one that comparison is skipped.
#
# Runs, each under its own time limit (about 9 minutes in all):
#   1. backends.py: REBASE n=16 vs flat sampling of the same tokens, engine share of wall,
#      with engine.scheduler=lockstep;
#   2. the same with engine.scheduler=continuous, skipped (with the reason) where this
#      tree's engine refuses that option;
#   3. search_and_learn.py: beam N=16 M=4 through the engine vs search-and-learn's loop.
# Writes every result to OUT.json (default $OUT/gpu_check.json, else ./gpu_check.json):
# {"device": ..., "steps": {name: {"status": "ok" | "skipped" | "failed", ...}}}.
set -uo pipefail

PY=${PYTHON:-python3}
PROBLEMS=${PROBLEMS:-100}
REPEATS=${REPEATS:-2}
SAL_SRC=${SAL_SRC:-shared/search-and-learn}
# Hydra overrides for every run: the toy PRM on the GPU, and vLLM's KV blocks at 16 tokens
# (GPU attention takes them; the CPU build only multiples of 32, which is most of REBASE's
# cost over flat sampling there: BENCHMARKS.md, "Searching vs sampling on vLLM", arm (c)).
# engine.max_batch is left at auto, which gives vLLM the 2048-sequence calls it asks for
# (search/batching.py).
OVERRIDES=${OVERRIDES-reward.device=cuda policy.block_size=16}
REQUIRE_CUDA=${REQUIRE_CUDA:-1} # 0: a dry run on vLLM's CPU build (OVERRIDES= PROBLEMS=3)
RESULT=${1:-${OUT:-.}/gpu_check.json}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" TQDM_DISABLE=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-8}

status() { # name status reason: a step that produced no JSON of its own
  printf '{"status": "%s", "reason": "%s"}\n' "$2" "$3" >"$WORK/$1.json"
  echo "== $1: $2 ($3)"
}

run_step() { # name seconds command...: the command writes $WORK/name.result.json
  local name=$1 limit=$2
  shift 2
  echo "== $name (limit ${limit} s)"
  if timeout "$limit" "$@" --json "$WORK/$name.result.json" 2>"$WORK/$name.err"; then
    "$PY" -c 'import json, sys; print(json.dumps({"status": "ok", **json.load(open(sys.argv[1]))}))' \
      "$WORK/$name.result.json" >"$WORK/$name.json"
  else
    local rc=$?
    tail -n 5 "$WORK/$name.err" >&2
    status "$name" failed "exit $rc$([[ $rc == 124 ]] && echo ', over its time limit')"
  fi
}

probe="import torch, vllm, infscale; assert $REQUIRE_CUDA == 0 or torch.cuda.is_available(), 'no CUDA device'"
if ! "$PY" -c "$probe" 2>"$WORK/probe.err"; then
  echo "gpu_check: $PY cannot run CUDA vLLM here: $(tail -n 1 "$WORK/probe.err")" >&2
  mkdir -p "$(dirname "$RESULT")"
  printf '{"status": "skipped", "reason": "%s"}\n' "$(tail -n 1 "$WORK/probe.err" | tr -d '"\\')" >"$RESULT"
  exit 1
fi

bench=(experiments/bench/backends.py --problems "$PROBLEMS" --n 16 --repeats "$REPEATS")
# shellcheck disable=SC2086  # OVERRIDES is a list of Hydra overrides
run_step lockstep 170 "$PY" "${bench[@]}" engine.scheduler=lockstep $OVERRIDES
if "$PY" -c 'import sys; from infscale.search.engine import SCHEDULERS; sys.exit("continuous" not in SCHEDULERS)'; then
  # shellcheck disable=SC2086
  run_step continuous 170 "$PY" "${bench[@]}" engine.scheduler=continuous $OVERRIDES
else
  status continuous skipped "this tree has no engine.scheduler=continuous"
fi
if [[ -f "$SAL_SRC/src/sal/search/beam_search.py" ]]; then
  # shellcheck disable=SC2086
  run_step search_and_learn 200 "$PY" experiments/bench/search_and_learn.py --sal-src "$SAL_SRC" \
    --problems "$PROBLEMS" --repeats "$REPEATS" $OVERRIDES
else
  status search_and_learn skipped "no search-and-learn checkout at $SAL_SRC"
fi

mkdir -p "$(dirname "$RESULT")"
"$PY" - "$WORK" "$RESULT" <<'EOF'
import json, sys, time
from pathlib import Path

import torch

work, result = Path(sys.argv[1]), Path(sys.argv[2])
steps = {name: json.loads((work / f"{name}.json").read_text()) for name in ("lockstep", "continuous", "search_and_learn")}
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (vLLM CPU build)"
device = {"gpu": gpu, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
result.write_text(json.dumps({"device": device, "steps": steps}, indent=1))
for name, step in steps.items():
    summary = step.get("medians") or {k: step[k] for k in ("median_speedup_per_token",) if k in step}
    print(f"{name}: {step['status']} {summary or step.get('reason', '')}")
print(f"wrote {result}")
EOF
