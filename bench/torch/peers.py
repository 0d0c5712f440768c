"""torch.load of a .pt file, timed the way `ckpt bench torch` times its reads (best of N).

Usage: python peers.py MODEL.pt [REPETITIONS]   prints JSON {what: seconds}
"""
import json, sys, time

import torch

path = sys.argv[1]
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5


def best(fn):
    fastest = float('inf')
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        fastest = min(fastest, time.perf_counter() - start)
    return fastest


def read_all():
    sd = torch.load(path, weights_only=True)
    total = 0
    for t in sd.values():
        total += int(t.view(-1).view(torch.uint8)[::4096].sum()) if t.numel() else 0
    return total



print(json.dumps({
    'torch.load(weights_only=True)': best(lambda: torch.load(path, weights_only=True)),
    'torch.load(weights_only=True, mmap=True)': best(lambda: torch.load(path, weights_only=True, mmap=True)),
}))
