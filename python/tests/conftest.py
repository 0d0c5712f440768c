"""Shared fixtures. The tests run against the package in python/ (or an installed one)
with the library that CKPT_LIBRARY names, and drive the real `ckpt` binary that
CKPT_BINARY names (default: the debug build of this repository), as scripts/test.sh sets."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if "ckpt" not in sys.modules and not os.environ.get("CKPT_TEST_INSTALLED"):
    sys.path.insert(0, str(REPO / "python"))


@pytest.fixture(scope="session")
def cli():
    """Runs the real `ckpt` binary; returns its CompletedProcess (text)."""
    binary = os.environ.get("CKPT_BINARY", str(REPO / ".build" / "debug" / "ckpt"))
    if not os.path.exists(binary):
        pytest.fail(f"the ckpt binary is not at {binary}: build it (swift build) or set CKPT_BINARY")

    def run(*args, check=True, store=None):
        env = dict(os.environ, CKPT_STORE=str(store)) if store is not None else None
        result = subprocess.run([binary, *map(str, args)], capture_output=True, text=True, env=env)
        if check and result.returncode != 0:
            raise AssertionError(f"ckpt {' '.join(map(str, args))} exited {result.returncode}: {result.stderr}")
        return result

    run.json = lambda *args, **kw: json.loads(run(*args, "--json", **kw).stdout)
    return run


def bits(x):
    """The exact bytes of a tensor or array (NaN payloads, -0.0 and all), with its dtype and shape."""
    import numpy as np
    if isinstance(x, np.ndarray):
        return (str(x.dtype), x.shape, np.ascontiguousarray(x).tobytes())
    import torch
    t = x.detach().cpu().contiguous()
    return (str(t.dtype), tuple(t.shape), t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")


def assert_same(a, b, path="root"):
    """Recursive equality of two checkpoint objects: same container and leaf types, same
    key types and order, tensors bit for bit, floats by their bits."""
    import struct

    from ckpt._arrays import is_tensor
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if is_tensor(a):
        assert bits(a) == bits(b), f"{path}: tensors differ"
    elif isinstance(a, dict):
        assert [(type(k), k) for k in a] == [(type(k), k) for k in b], f"{path}: keys differ: {list(a)} vs {list(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{path}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}.{i}")
    elif isinstance(a, float):
        assert struct.pack("<d", a) == struct.pack("<d", b), f"{path}: {a!r} != {b!r}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"
