#!/usr/bin/env bash
# Makes fuzz/seeds/<target>/ from fixtures/: the small real files (PyTorch, numpy and
# safetensors wrote them) each reader starts from. Seeds are derived, never committed.
# The .ckpt seeds are written by the ckpt CLI from those fixtures: $CKPT, else
# .build/debug/ckpt, else .build/release/ckpt, built when none exists.
set -euo pipefail
fuzz=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz")
cd "$root"
seeds=$fuzz/seeds
rm -rf "$seeds"
mkdir -p "$seeds"/{ckpt,torch,safetensors,numpy,arch,pt2}
# Up to 64 KiB: libFuzzer's inputs grow to the largest seed, and small inputs run fast.
copy() { # TARGET FIND-ARGS...
    local target=$1; shift
    find fixtures -type f -size -65k \( "$@" \) -print0 | sort -z | while IFS= read -r -d '' f; do
        cp "$f" "$seeds/$target/$(echo "${f#fixtures/}" | tr / _)"
    done
}
copy torch -name '*.pt' -o -name '*.pth' -o -name '*.bin'
copy safetensors -name '*.safetensors' -o -name '*.safetensors.index.json'
copy numpy -name '*.npy' -o -name '*.npz'
copy arch -path 'fixtures/arch/*.json' -o -name 'arch.json' -o -name '*_arch.json'
copy pt2 -name '*.pt2'

ckpt=${CKPT:-}
if [ -z "$ckpt" ]; then
    for candidate in .build/debug/ckpt .build/release/ckpt; do
        if [ -x "$candidate" ]; then ckpt=$candidate; break; fi
    done
fi
if [ -z "$ckpt" ]; then
    swift build --product ckpt >&2
    ckpt=.build/debug/ckpt
fi
out=$seeds/ckpt
t=fixtures/torch
# Each codec, with and without an architecture, aliases (tied), metadata (a training
# checkpoint), every dtype, and probes.
"$ckpt" import $t/parallel/model.safetensors --arch fixtures/arch/parallel.json -o "$out/parallel-zstd.ckpt" >/dev/null
"$ckpt" import $t/parallel/model.safetensors --codec raw -o "$out/parallel-raw.ckpt" >/dev/null
"$ckpt" import $t/parallel/model.safetensors --codec shuffle-zstd -o "$out/parallel-shuffle.ckpt" >/dev/null
"$ckpt" import $t/tied/model.safetensors --arch fixtures/arch/tied.json -o "$out/tied.ckpt" >/dev/null
"$ckpt" import fixtures/interop/all_dtypes.safetensors -o "$out/all-dtypes.ckpt" >/dev/null
"$ckpt" import fixtures/torch-extra/training.pt --codec raw -o "$out/training.ckpt" >/dev/null
"$ckpt" import $t/reduction/model.safetensors --arch fixtures/arch/reduction.json -o "$out/reduction-probe.ckpt" >/dev/null
"$ckpt" probe add "$out/reduction-probe.ckpt" --input $t/reduction/x.npy --expect $t/reduction/y.npy --name pytorch >/dev/null
"$ckpt" new fixtures/arch/mlp.json -o "$out/mlp-new.ckpt" --seed 1 >/dev/null
# Graph documents as ckpt stores them, from the small torch.export programs.
for f in fixtures/export/*.pt2; do
    size=$(wc -c < "$f")
    if [ "$size" -lt 66560 ]; then "$ckpt" arch "$f" --json > "$seeds/pt2/$(basename "$f" .pt2)-graph.json"; fi
done
for target in ckpt torch safetensors numpy arch pt2; do
    echo "fuzz/seeds/$target: $(ls "$seeds/$target" | wc -l) files, $(du -sk "$seeds/$target" | cut -f1) KiB"
done
