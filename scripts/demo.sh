#!/usr/bin/env bash
# The main job on shipped examples: install what is missing, build, then
#  1. import LeNet as PyTorch wrote it (safetensors and a torch.save pickle, read without
#     running pickle code), attach its architecture, prove it against PyTorch's own output;
#  2. keep versions in a store: save, log, diff, checkout, fsck;
#  3. transplant two layers of one MLP into another and verify the graft;
#  4. install the Python package (pip install ./python) and save and load from Python.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/python-env.sh >/dev/null   # the Python peers the tests compare against (torch, numpy, safetensors)
swift build -c release --product ckpt
ckpt=$PWD/.build/release/ckpt
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
set -x
# 1. one file: architecture + compressed parameters + a probe that proves it runs.
$ckpt import fixtures/torch/lenet/model.safetensors --arch fixtures/arch/lenet.json -o "$out/lenet.ckpt"
$ckpt probe add "$out/lenet.ckpt" --input fixtures/torch/lenet/x.npy --expect fixtures/torch/lenet/y.npy --name pytorch
$ckpt inspect "$out/lenet.ckpt"
$ckpt arch "$out/lenet.ckpt"
$ckpt verify "$out/lenet.ckpt"
$ckpt import fixtures/torch/lenet/module.pt -o "$out/from-pickle.ckpt"
$ckpt run "$out/from-pickle.ckpt" --input fixtures/torch/lenet/x.npy --output "$out/y.npy"
$ckpt export "$out/lenet.ckpt" -o "$out/lenet.safetensors"
cmp "$out/lenet.safetensors" fixtures/torch/lenet/model.safetensors

# 2. a store: versions share unchanged tensors.
$ckpt new fixtures/arch/lenet.json -o "$out/init.ckpt" --seed 1
$ckpt init "$out/store"
export CKPT_STORE="$out/store"
$ckpt save "$out/init.ckpt" --model lenet -m "freshly initialised"
$ckpt save "$out/lenet.ckpt" --model lenet -m "trained in PyTorch" --tag trained
$ckpt save "$out/from-pickle.ckpt" --model lenet -m "same weights, from torch.save"
$ckpt log
$ckpt diff lenet@1 trained
$ckpt checkout trained -o "$out/back.ckpt"
$ckpt fsck

# 3. surgery: layers 0 and 2 of src into dst, checked, recorded and proved.
t=fixtures/torch/transplant
$ckpt transplant $t/src.pt $t/dst.pt --layers 0,2 -o "$out/graft.ckpt"
$ckpt verify "$out/graft.ckpt"
$ckpt run "$out/graft.ckpt" --input $t/x.npy --output "$out/graft-y.npy"
$ckpt save $t/src.pt --model src -m "source network"
$ckpt save $t/dst.pt --model dst -m "target network"
$ckpt save "$out/graft.ckpt" --model dst --parent dst@1 --parent src@1 -m "layers 0,2 grafted from src@1"
$ckpt log dst

# 4. from Python: the package over the C ABI, installed into the tests' venv; a training
#    checkpoint saved in Python, verified and inspected by the binary, loaded back.
{ set +x; } 2>/dev/null
python=$(bash scripts/python-env.sh)
set -x
"$python" -m pip install -q ./python
"$python" - "$out/train.ckpt" <<'PY'
import sys, torch, ckpt
model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
opt = torch.optim.Adam(model.parameters())
model(torch.randn(3, 4)).sum().backward(); opt.step()
state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 1, "rng": torch.get_rng_state()}
ckpt.save(state, sys.argv[1], metadata={"from": "demo"})
back = ckpt.load(sys.argv[1])
opt.load_state_dict(back["optimizer"])
print("loaded:", sorted(back), "optimizer state keys", list(back["optimizer"]["state"]))
PY
$ckpt verify "$out/train.ckpt"
$ckpt inspect "$out/train.ckpt"
