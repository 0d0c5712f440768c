#!/usr/bin/env bash
# Store growth over a real training run (bench/catalog/training.py: a CNN trained with
# AdamW on generated data, a checkpoint every 25 of 300 steps), saved into a ckpt store one
# checkpoint after another. For each checkpoint: what the store grew by (deltas against the
# previous version, spec/CATALOG.md 2.1), what the same store grows by without deltas
# (--no-delta: dedup and compression only), the checkpoint's standalone compressed size
# (`ckpt import`, default codec), and what a DVC-style store of whole files grows by (the
# safetensors file). Measures bytes, not time.
# Usage: bench/catalog/training.sh [--dtype f32|bf16] [--steps N] [--every N]
# Python runs in $BENCH_VENV (see bench/common.sh): torch and safetensors must be there.
source "$(dirname "$0")/../common.sh"
bench_require torch safetensors
bench_build
work=$(mktemp -d "${BENCH_DIR:-$PWD}/.bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
"$python" bench/catalog/training.py "$work/run" "$@" > "$work/steps.txt"
"$python" - "$ckpt" "$work" <<'PY'
import os, subprocess, sys
ckpt, work = sys.argv[1], sys.argv[2]
def size(directory):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(directory) for f in files)
stores = {"delta": os.path.join(work, "delta"), "whole": os.path.join(work, "whole")}
for path in stores.values():
    subprocess.run([ckpt, "init", path], check=True, capture_output=True)
steps = [line.split() for line in open(os.path.join(work, "steps.txt"))]
print(f"{'step':>5} {'loss':>7} {'file MB':>8} {'alone MB':>9} {'delta MB':>9} {'delta/alone':>11} {'no-delta MB':>11} {'DVC MB':>7}")
totals = dict(alone=0, delta=0, whole=0, dvc=0)
for k, (step, loss, path) in enumerate(steps):
    alone_file = os.path.join(work, "alone.ckpt")
    subprocess.run([ckpt, "import", path, "-o", alone_file], check=True, capture_output=True)
    alone = os.path.getsize(alone_file)
    grown = {}
    for name, store in stores.items():
        before = size(os.path.join(store, ".ckpt", "objects"))
        extra = [] if name == "delta" else ["--no-delta"]
        subprocess.run([ckpt, "save", path, "--model", "run", "--store", store] + extra, check=True, capture_output=True)
        grown[name] = size(os.path.join(store, ".ckpt", "objects")) - before
    dvc = os.path.getsize(path)
    if k > 0:   # the first checkpoint has no parent: every store starts with a whole copy
        totals["alone"] += alone; totals["delta"] += grown["delta"]; totals["whole"] += grown["whole"]; totals["dvc"] += dvc
    print(f"{step:>5} {loss:>7} {dvc/1e6:8.3f} {alone/1e6:9.3f} {grown['delta']/1e6:9.3f} {grown['delta']/alone:11.3f} "
          f"{grown['whole']/1e6:11.3f} {dvc/1e6:7.3f}")
n = len(steps) - 1
print(f"\nafter the first checkpoint ({n} more): store growth with deltas {totals['delta']/1e6:.2f} MB = "
      f"{totals['delta']/totals['alone']:.3f} of the standalone compressed checkpoints ({totals['alone']/1e6:.2f} MB); "
      f"without deltas {totals['whole']/totals['alone']:.3f}; DVC-style whole files {totals['dvc']/1e6:.2f} MB "
      f"= {totals['dvc']/totals['alone']:.3f}")
for name, store in stores.items():
    check = subprocess.run([ckpt, "fsck", "--store", store], capture_output=True, text=True)
    print(f"fsck {name}: {'ok' if check.returncode == 0 else 'FAILED ' + check.stdout + check.stderr}")
PY
