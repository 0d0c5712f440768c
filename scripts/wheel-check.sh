#!/usr/bin/env bash
# Builds the wheel (pip wheel ./python: the Swift library in release with the Swift runtime
# linked statically), installs it in a fresh virtual environment, and runs a save/load
# round trip there with PATH and LD_LIBRARY_PATH stripped of the Swift toolchain
# (/opt/swift, or wherever `swift` lives), after checking with ldd that the library needs
# nothing from it. The wheel does need Debian's libzstd1 and libxxhash0.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${CKPT_TORCH_PYTHON:-$(bash scripts/python-env.sh)}
toolchain=$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" -m pip wheel --no-deps --no-build-isolation -w "$work/dist" ./python >&2
wheel=$(ls "$work"/dist/ckpt-*.whl)
echo "wheel-check: built $(basename "$wheel") ($(du -h "$wheel" | cut -f1))"
"$python" -m venv "$work/venv" >&2
# With its declared dependencies (numpy) from the index: the wheel's metadata is tested too.
"$work/venv/bin/python" -m pip install -q "$wheel" >&2
so=$("$work/venv/bin/python" -c "import importlib.util, os; print(os.path.join(os.path.dirname(importlib.util.find_spec('ckpt').origin), 'libCkptABI.so'))")
echo "wheel-check: ldd $so"
ldd "$so" | sed 's/^/    /'
if ldd "$so" | grep -E "not found|$toolchain|libswift|libFoundation|libdispatch|libBlocksRuntime" ; then
    echo "wheel-check: FAILED: the library needs the Swift toolchain or a missing library" >&2
    exit 1
fi
strip_path() { tr ':' '\n' <<<"${1:-}" | grep -v "^$toolchain" | paste -sd: -; }
cd "$work"
env PATH="$(strip_path "$PATH")" LD_LIBRARY_PATH="$(strip_path "${LD_LIBRARY_PATH:-}")" "$work/venv/bin/python" - <<'PY'
import shutil, numpy as np, ckpt
assert shutil.which("swift") is None, "swift is still on PATH"
obj = {"model": {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.ones(3, np.int64)}, "epoch": 3,
       "state": {0: {"lr": 0.001, "betas": (0.9, 0.999)}}, "name": "run", "none": None}
ckpt.save(obj, "x.ckpt", metadata={"from": "wheel-check"})
back = ckpt.load("x.ckpt", framework="numpy")
assert back["model"]["w"].tobytes() == obj["model"]["w"].tobytes() and back["model"]["b"].tolist() == [1, 1, 1]
assert back["state"] == obj["state"] and back["epoch"] == 3 and back["none"] is None
with ckpt.safe_open("x.ckpt", framework="numpy") as f:
    assert f.metadata() == {"from": "wheel-check"}
store = ckpt.Store("store", create=True)   # the Catalog side: SQLite and SHA-256 inside the library
version = store.save(obj, model="run", message="epoch 3", tags=["best"])
assert version.ref == "run@1" and len(version.hash) == 64
assert store.load("best", framework="numpy")["state"] == obj["state"]
assert [m["name"] for m in store.models()] == ["run"]
try:
    ckpt.load("missing.ckpt", framework="numpy")
except ckpt.FileError as e:
    print("wheel-check: typed error:", e)
print("wheel-check: save/load and Store round trips OK without the Swift toolchain, from", ckpt.__file__)
PY
