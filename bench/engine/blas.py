#!/usr/bin/env python3
"""The BLAS benchmark's peers: MLP 1024-4096-4096-1024 at batch 256, forward, beside ckpt.

Given ckpt's own figures (`ckpt bench engine --json`, one file per OpenBLAS core it ran
with), times in this run and on this machine:
  - torch eager (no_grad, float32) at torch's default thread count and on one thread;
  - the bare products of that forward pass (C = A·Bᵀ, as a Linear makes them) through
    cblas_sgemm of each library given with --lib NAME=PATH[:ENV=VALUE,...], each in a
    process of its own (OpenBLAS reads OPENBLAS_CORETYPE only when it loads);
and prints one table.
Usage: python3 blas.py --ckpt LABEL=FILE... [--lib NAME=PATH[:ENV=VALUE,...]]... [--seconds 1]
       python3 blas.py --sgemm PATH --threads N --seconds S     (one library, JSON out; used by the above)
"""
import argparse
import ctypes
import json
import os
import subprocess
import sys
import time

import numpy as np

SIZES = [1024, 4096, 4096, 1024]
BATCH = 256
NETWORK = 'mlp 1024-4096-4096-1024'


def median_seconds(fn, seconds):
    start, calls = time.perf_counter(), 0
    while time.perf_counter() - start < min(0.3, seconds / 4) or calls < 3:
        fn()
        calls += 1
    samples, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(samples) < 5:
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return sorted(samples)[len(samples) // 2]


def sgemm_main(path, threads, seconds):
    """Times the forward pass's products through one library's cblas_sgemm; prints JSON."""
    lib = ctypes.CDLL(path)
    for setter in ('openblas_set_num_threads', 'bli_thread_set_num_threads'):
        if hasattr(lib, setter):
            getattr(lib, setter)(ctypes.c_int(threads) if setter.startswith('openblas') else ctypes.c_long(threads))
    core = ''
    if hasattr(lib, 'openblas_get_corename'):
        lib.openblas_get_corename.restype = ctypes.c_char_p
        core = lib.openblas_get_corename().decode()
    elif hasattr(lib, 'bli_arch_string') and hasattr(lib, 'bli_arch_query_id'):
        lib.bli_arch_query_id.restype = ctypes.c_int
        lib.bli_arch_string.restype = ctypes.c_char_p
        core = lib.bli_arch_string(lib.bli_arch_query_id()).decode()
    f = ctypes.POINTER(ctypes.c_float)
    rng = np.random.default_rng(0)
    products = []
    for k, n in zip(SIZES, SIZES[1:]):
        a = rng.standard_normal((BATCH, k), dtype=np.float32)
        b = rng.standard_normal((n, k), dtype=np.float32)
        c = np.empty((BATCH, n), dtype=np.float32)
        products.append((BATCH, n, k, a, b, c))
    sgemm = lib.cblas_sgemm
    sgemm.restype = None

    def run():
        for m, n, k, a, b, c in products:
            # CblasRowMajor 101, CblasNoTrans 111, CblasTrans 112
            sgemm(101, 111, 112, m, n, k, ctypes.c_float(1), a.ctypes.data_as(f), k, b.ctypes.data_as(f), k,
                  ctypes.c_float(0), c.ctypes.data_as(f), n)
    run()
    m, n, k, a, b, c = products[0]
    assert np.allclose(c, a @ b.T, rtol=1e-3, atol=1e-2), 'cblas_sgemm gave a wrong product'
    print(json.dumps({'core': core, 'microseconds': median_seconds(run, seconds) * 1e6}))


def torch_forward(threads):
    import torch
    from torch import nn
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    net = nn.Sequential(nn.Linear(1024, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 1024)).eval()
    x = torch.randn(BATCH, 1024)

    def forward():
        with torch.no_grad():
            return net(x)
    return forward


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--ckpt', action='append', default=[], help='LABEL=FILE of `ckpt bench engine --json`')
    parser.add_argument('--lib', action='append', default=[], help='NAME=PATH[:ENV=VALUE,...] of a cblas library')
    parser.add_argument('--seconds', type=float, default=1.0)
    parser.add_argument('--sgemm', help=argparse.SUPPRESS)
    parser.add_argument('--threads', type=int, default=os.cpu_count())
    args = parser.parse_args()
    if args.sgemm:
        return sgemm_main(args.sgemm, args.threads, args.seconds)

    rows = []
    for item in args.ckpt:
        label, path = item.split('=', 1)
        with open(path) as f:
            case = next(c for c in json.load(f) if c['network'] == NETWORK and c['batch'] == BATCH)
        rows.append([f'ckpt, {label}', f"{case['microseconds'] / 1e3:.1f}",
                     f"{case['gflops']:.0f}", f"bare sgemm {case['sgemmMicroseconds'] / 1e3:.1f} ms" if case.get('sgemmMicroseconds') else ''])
    flops = 2 * BATCH * sum(k * n for k, n in zip(SIZES, SIZES[1:]))
    try:
        import torch
        threads = torch.get_num_threads()
        for t in sorted({threads, 1}, reverse=True):
            s = median_seconds(torch_forward(t), args.seconds)
            rows.append([f'torch {torch.__version__} eager, {t} thread{"s" if t > 1 else ""}', f'{s * 1e3:.1f}', f'{flops / s / 1e9:.0f}', ''])
        torch.set_num_threads(threads)
    except ImportError:
        rows.append(['torch (absent)', '-', '-', ''])
    for item in args.lib:
        name, rest = item.split('=', 1)
        path, _, envs = rest.partition(':')
        env = dict(os.environ)
        for pair in filter(None, envs.split(',')):
            key, value = pair.split('=', 1)
            env[key] = value
        out = subprocess.run([sys.executable, __file__, '--sgemm', path, '--threads', str(args.threads), '--seconds', str(args.seconds)],
                             env=env, capture_output=True, text=True)
        if out.returncode != 0:
            rows.append([f'cblas_sgemm {name}', 'failed', '', out.stderr.strip().splitlines()[-1] if out.stderr.strip() else ''])
            continue
        result = json.loads(out.stdout)
        s = result['microseconds'] / 1e6
        rows.append([f'cblas_sgemm only, {name}', f'{s * 1e3:.1f}', f'{flops / s / 1e9:.0f}', f"kernels {result['core']}"])
    header = [f'{NETWORK} batch {BATCH}, forward', 'ms (median)', 'GFLOP/s', 'note']
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print('  '.join(c.ljust(w) if i in (0, 3) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    print(f'\ncpus {os.cpu_count()}, threads {args.threads}, load average before/after {LOAD_BEFORE:.1f}/{os.getloadavg()[0]:.1f}')


LOAD_BEFORE = os.getloadavg()[0]

if __name__ == '__main__':
    main()
