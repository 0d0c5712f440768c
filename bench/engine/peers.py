#!/usr/bin/env python3
"""The engine benchmark's peers: the same forward passes in PyTorch (CPU, eager, no_grad)
and numpy (matmul on its own BLAS), timed as ckpt times itself (median of ~10 ms groups).
Given ckpt's figures (`ckpt bench engine --json`), prints one side-by-side table.
Usage: python3 peers.py [--ckpt ckpt.json] [--seconds 1]   (torch is optional)
"""
import argparse
import json
import os
import time

import numpy as np

try:
    import torch
    from torch import nn
except ImportError:  # the table then shows numpy alone
    torch = None


def median_seconds(fn, seconds):
    start, calls = time.perf_counter(), 0
    while time.perf_counter() - start < min(0.2, seconds / 4) or calls < 3:
        fn()
        calls += 1
    per_group = max(1, int(0.01 / ((time.perf_counter() - start) / calls)))
    samples, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(samples) < 5:
        t0 = time.perf_counter()
        for _ in range(per_group):
            fn()
        samples.append((time.perf_counter() - t0) / per_group)
    return sorted(samples)[len(samples) // 2]


def numpy_mlp(sizes, batch):
    rng = np.random.default_rng(0)
    layers = [(rng.standard_normal((o, i), dtype=np.float32) * 0.05, rng.standard_normal(o, dtype=np.float32) * 0.05)
              for i, o in zip(sizes, sizes[1:])]
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)

    def forward():
        h = x
        for n, (w, b) in enumerate(layers):
            h = h @ w.T + b
            if n + 1 < len(layers):
                np.maximum(h, 0, out=h)
        return h
    return forward


def torch_net(name, batch):
    if name.startswith('mlp'):
        sizes = [int(s) for s in name.split()[1].split('-')]
        mods = []
        for n, (i, o) in enumerate(zip(sizes, sizes[1:])):
            mods.append(nn.Linear(i, o))
            if n + 2 < len(sizes):
                mods.append(nn.ReLU())
        net, x = nn.Sequential(*mods), torch.randn(batch, sizes[0])
    else:
        net = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Flatten(), nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))
        x = torch.randn(batch, 1, 28, 28)
    net.eval()

    def forward():
        with torch.no_grad():
            return net(x)
    return forward


CASES = [('mlp 20-256-10', 1), ('mlp 20-256-10', 64), ('mlp 1024-4096-4096-1024', 1), ('mlp 1024-4096-4096-1024', 256),
         ('lenet', 64)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--ckpt', help="ckpt bench engine --json output")
    parser.add_argument('--seconds', type=float, default=1.0)
    args = parser.parse_args()
    ours = {}
    if args.ckpt:
        with open(args.ckpt) as f:
            ours = {(c['network'], c['batch']): c for c in json.load(f)}
    rows = []
    for name, batch in CASES:
        mine = ours.get((name, batch))
        t = t1 = None
        if torch is not None:
            t = median_seconds(torch_net(name, batch), args.seconds) * 1e6
            threads = torch.get_num_threads()
            torch.set_num_threads(1)   # one thread: immune to oversubscription on a busy machine
            t1 = median_seconds(torch_net(name, batch), args.seconds) * 1e6
            torch.set_num_threads(threads)
        n = median_seconds(numpy_mlp([int(s) for s in name.split()[1].split('-')], batch), args.seconds) * 1e6 \
            if name.startswith('mlp') else None
        sgemm = mine.get('sgemmMicroseconds') if mine else None
        rows.append([f'{name} batch {batch}',
                     f"{mine['microseconds']:.1f}" if mine else '-',
                     f'{t:.1f}' if t is not None else '-',
                     f'{t1:.1f}' if t1 is not None else '-',
                     f'{n:.1f}' if n is not None else '-',
                     f"{sgemm:.1f} ({100 * sgemm / mine['microseconds']:.0f}%)" if sgemm else '-'])
    header = ['case (us per forward, median)', 'ckpt', 'torch' if torch is not None else 'torch (absent)', 'torch 1 thread', 'numpy',
              'bare sgemm (ckpt share of its rate)']
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print('  '.join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    threads = torch.get_num_threads() if torch is not None else '-'
    print(f"\ncpus {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}, torch {torch.__version__ if torch is not None else '-'} "
          f"threads {threads}, numpy {np.__version__}")


if __name__ == '__main__':
    main()
