#!/usr/bin/env bash
# Larger than memory: peak resident memory (/usr/bin/time -v, mapped file pages counted) of
# every step a big checkpoint goes through, on a generated fp16 safetensors file of
# $LARGE_GB gigabytes (default 20; this machine has 24 GB of memory) in $LARGE_DIR
# (default /var/tmp/ckpt-large; needs about 3.3x the size free). Peers: safetensors'
# load_file (reads the whole file into memory) and save_file of what it loaded.
#   bench/large/run.sh
source "$(dirname "$0")/../common.sh"
bench_require numpy safetensors torch
bench_build
gb=${LARGE_GB:-20}
dir=${LARGE_DIR:-/var/tmp/ckpt-large}
mkdir -p "$dir"
src=$dir/big.safetensors
[ -f "$src" ] || "$python" bench/large/generate.py "$src" "$gb"
rm -rf "$dir/store" "$dir/big.ckpt" "$dir/out.ckpt" "$dir/out.safetensors"
peak() { # label, command...: one row, peak RSS in MB and wall seconds
    local label=$1; shift
    local log; log=$(mktemp)
    /usr/bin/time -v "$@" >/dev/null 2>"$log" || { cat "$log" >&2; bench_fail "$label failed"; }
    local rss wall
    rss=$(awk -F': ' '/Maximum resident/ {printf "%.0f", $2 / 1024}' "$log")
    wall=$(awk -F': ' '/Elapsed/ {print $2}' "$log")
    printf '%-44s %10s MB %12s\n' "$label" "$rss" "$wall"
    rm -f "$log"
}
printf '%-44s %13s %12s\n' "step ($(du -h "$src" | cut -f1) fp16 safetensors)" "peak RSS" "wall"
peak "ckpt import -> .ckpt" "$ckpt" import "$src" -o "$dir/big.ckpt"
peak "ckpt verify (every chunk)" "$ckpt" verify "$dir/big.ckpt"
"$ckpt" init "$dir/store" >/dev/null
peak "ckpt save (into the store)" "$ckpt" save "$dir/big.ckpt" --model big --store "$dir/store"
peak "ckpt checkout -> .ckpt" "$ckpt" checkout big@1 -o "$dir/out.ckpt" --store "$dir/store"
peak "ckpt export -> .safetensors" "$ckpt" export "$dir/big.ckpt" -o "$dir/out.safetensors"
peak "safetensors load_file + save_file (peer)" "$python" -c "
import sys
from safetensors.numpy import load_file, save_file
save_file(load_file(sys.argv[1]), sys.argv[2])" "$src" "$dir/peer.safetensors"
rm -f "$dir/peer.safetensors"
