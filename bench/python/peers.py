#!/usr/bin/env python3
"""bench/python/run.sh's body: times ckpt.save/ckpt.load beside safetensors.torch and
torch.save/torch.load on one state_dict, in this process, and prints one table per dtype.
safetensors' load_file returns tensors over its map of the file (lazy: a byte is read when
touched), so it is shown also with a clone of every tensor (every byte read, in process
memory); torch.load reads the zip; ckpt.load checks every chunk's checksum (every byte
read) and decodes into torch tensors, or for raw tensors returns views of its copy-on-write
map of the file.
Each load is checked bit for bit against the state_dict before the timings are printed."""
import os
import sys
import time

import torch
from safetensors.torch import load_file, save_file

import ckpt
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))  # bench/, for durable.py
from durable import fsync_file_and_directory  # noqa: E402


def best(fn, repetitions):
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def synced(save):
    """save(path), then fsync the file and its directory, as ckpt.save does by default."""
    def run(path):
        save(path)
        fsync_file_and_directory(path)
    return run


def same(a, b):
    """The same names (safetensors sorts them), dtypes, shapes and bytes."""
    def raw(t):
        return t.contiguous().reshape(-1).view(torch.uint8)
    return sorted(a) == sorted(b) and all(a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and torch.equal(raw(a[k]), raw(b[k]))
                                          for k in a)


def table(label, state, work, repetitions):
    raw = sum(t.numel() * t.element_size() for t in state.values())
    st, pt = os.path.join(work, "m.safetensors"), os.path.join(work, "m.pt")
    ck = {codec: os.path.join(work, f"m-{codec}.ckpt") for codec in ("shuffle-ans", "raw")}
    save_st = lambda p: save_file(state, p)
    save_pt = lambda p: torch.save(state, p)
    rows = [
        ("safetensors.torch.save_file", best(lambda: save_st(st), repetitions), None),
        ("torch.save", best(lambda: save_pt(pt), repetitions), None),
    ]
    for codec, path in ck.items():
        rows.append((f"ckpt.save {codec} (no fsync)", best(lambda: ckpt.save(state, path, codec=codec, sync=False), repetitions),
                     "safetensors.torch.save_file"))
    rows += [
        ("safetensors save_file + fsync", best(lambda: synced(save_st)(st), repetitions), None),
        ("torch.save + fsync", best(lambda: synced(save_pt)(pt), repetitions), None),
        ("ckpt.save shuffle-ans (fsync, default)", best(lambda: ckpt.save(state, ck["shuffle-ans"]), repetitions), "safetensors save_file + fsync"),
    ]
    for codec, path in ck.items():  # the files the timings above wrote, checked once
        assert same(ckpt.load(path), state), f"ckpt.load of {codec} differs"
    assert same(load_file(st), state)
    rows += [
        ("safetensors.torch.load_file (lazy)", best(lambda: load_file(st), repetitions), None),
        ("safetensors load_file + clone", best(lambda: [t.clone() for t in load_file(st).values()], repetitions), None),
        ("torch.load(weights_only=True)", best(lambda: torch.load(pt, weights_only=True), repetitions), None),
    ]
    for codec, path in ck.items():
        rows.append((f"ckpt.load {codec} (all checked)", best(lambda: ckpt.load(path), repetitions), "safetensors.torch.load_file (lazy)"))
    sizes = {"safetensors": os.path.getsize(st), "torch.save": os.path.getsize(pt), **{f"ckpt {c}": os.path.getsize(p) for c, p in ck.items()}}
    times = {name: seconds for name, seconds, _ in rows}
    print(f"\n== MiniLM-L6 {label}: {len(state)} tensors, {raw / 1e6:.1f} MB raw; best of {repetitions}; warm page cache; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'what':42} {'ms':>8} {'GB/s':>6}  vs peer")
    for name, seconds, peer in rows:
        vs = f"  {times[peer] / seconds:.2f}x {peer}" if peer else ""
        print(f"{name:42} {seconds * 1e3:8.1f} {raw / seconds / 1e9:6.2f}{vs}")
    print("file sizes: " + ", ".join(f"{k} {v / 1e6:.1f} MB ({v / raw:.3f})" for k, v in sizes.items()))


def main():
    model, work, repetitions = sys.argv[1], sys.argv[2], int(sys.argv[3])
    state = {k: v.clone() for k, v in load_file(model).items()}  # in memory, not views of a map
    table("fp32", state, work, repetitions)
    table("bf16", {k: v.to(torch.bfloat16) for k, v in state.items()}, work, repetitions)


if __name__ == "__main__":
    main()
