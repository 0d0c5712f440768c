"""Writes a large fp16 safetensors file of generated weights: N tensors of 64 MiB.

Usage: python generate.py OUT.safetensors GIGABYTES   (numpy only; written in one pass, never held whole)
"""
import json, struct, sys, numpy as np
# N tensors of 64 MiB fp16 each: a generated large safetensors file
gb = float(sys.argv[2]); path = sys.argv[1]
n = int(gb * 1024 / 64); shape = [4096, 8192]
header = {f"layers.{i}.weight": {"dtype": "F16", "shape": shape, "data_offsets": [i * 2**26, (i + 1) * 2**26]} for i in range(n)}
h = json.dumps(header).encode(); h += b' ' * ((8 - len(h) % 8) % 8)
rng = np.random.default_rng(0)
with open(path, 'wb') as f:
    f.write(struct.pack('<Q', len(h))); f.write(h)
    for i in range(n):
        f.write((rng.standard_normal(shape[0] * shape[1], dtype=np.float32) * 0.02).astype(np.float16).tobytes())
