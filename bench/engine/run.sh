#!/usr/bin/env bash
# The engine benchmark, one run: builds ckpt (release), times its CPU engine on the issue's
# networks (MLP 20-256-10 at batch 1 and 64, MLP 1024-4096-4096-1024 at batch 1 and 256,
# LeNet at batch 64) with the bare cblas_sgemm time of the same products, then times PyTorch
# and numpy on the same cases and prints one table.
# Usage: bench/engine/run.sh [SECONDS_PER_CASE]
# Peers run in $BENCH_VENV (see bench/common.sh); torch and numpy must be there.
source "$(dirname "$0")/../common.sh"
seconds="${1:-1}"
bench_require numpy torch
bench_build
ours="$(mktemp)"
trap 'rm -f "$ours"' EXIT
"$ckpt" bench engine --json --seconds "$seconds" >"$ours"
"$python" bench/engine/peers.py --ckpt "$ours" --seconds "$seconds"
