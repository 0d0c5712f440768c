#!/usr/bin/env bash
# The main job on a shipped example: install what is missing, build, then import a
# PyTorch-written model, inspect it, verify it and export it back.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release --product ckpt
ckpt=.build/release/ckpt
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
set -x
$ckpt import fixtures/torch/lenet/model.safetensors -o "$out/lenet.ckpt"
$ckpt inspect "$out/lenet.ckpt"
$ckpt verify "$out/lenet.ckpt"
$ckpt cat "$out/lenet.ckpt" 0.weight -o "$out/conv1.npy"
$ckpt export "$out/lenet.ckpt" -o "$out/lenet.safetensors"
cmp "$out/lenet.safetensors" fixtures/torch/lenet/model.safetensors && echo "round trip: identical to the file PyTorch wrote"
