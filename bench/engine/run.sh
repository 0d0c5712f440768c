#!/usr/bin/env bash
# The engine benchmark, one run: builds ckpt (release), times its CPU engine on the issue's
# networks (MLP 20-256-10 at batch 1 and 64, MLP 1024-4096-4096-1024 at batch 1 and 256,
# LeNet at batch 64) with the bare cblas_sgemm time of the same products, then times PyTorch
# (if installed) and numpy on the same cases and prints one table.
# Usage: bench/engine/run.sh [SECONDS_PER_CASE]   (PYTHON overrides the interpreter)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-1}"
python="${PYTHON:-$( [ -x /work/venv/bin/python ] && echo /work/venv/bin/python || echo python3 )}"
scratch="${SCRATCH:-.build-engine}"
swift build -c release --scratch-path "$scratch" --product ckpt >&2
ours="$(mktemp)"
trap 'rm -f "$ours"' EXIT
"$scratch/release/ckpt" bench engine --json --seconds "$seconds" >"$ours"
"$python" bench/engine/peers.py --ckpt "$ours" --seconds "$seconds"
