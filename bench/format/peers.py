#!/usr/bin/env python3
"""Times the peers of `ckpt bench format` on the same file, in the same run: safetensors
save (without and with an fsync of the file), safetensors load to numpy (every byte read;
fp32 and fp16 only, numpy has no bf16) and to torch (lazy: maps the file), torch.save
(without and with fsync) and torch.load of the same state_dict.
Prints JSON: {name: best seconds}. A missing library is an error (bench/common.sh)."""
import json, os, sys, tempfile, time
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))  # bench/, for durable.py
from durable import fsync_file_and_directory  # noqa: E402


def best(fn, repetitions):
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def synced(save, path):
    """save(path), then fsync the file and its directory, as ckpt does before it returns."""
    def run():
        save(path)
        fsync_file_and_directory(path)
    return run


def main():
    model, repetitions = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5
    out = {}
    tmp = tempfile.mkdtemp(dir=os.environ.get("BENCH_DIR", "."))
    st_path = os.path.join(tmp, "s.safetensors")
    pt = os.path.join(tmp, "model.pt")
    import torch
    from safetensors.torch import load_file as load_torch, save_file as save_torch
    from safetensors.numpy import load_file as load_np
    state = load_torch(model)
    state = {k: v.clone() for k, v in state.items()}   # in memory, not views of the map
    out["safetensors save"] = best(lambda: save_torch(state, st_path), repetitions)
    out["safetensors save + fsync"] = best(synced(lambda p: save_torch(state, p), st_path), repetitions)
    out["safetensors load (torch, lazy)"] = best(lambda: load_torch(model), repetitions)
    out["torch.save"] = best(lambda: torch.save(state, pt), repetitions)
    out["torch.save + fsync"] = best(synced(lambda p: torch.save(state, p), pt), repetitions)
    out["torch.load"] = best(lambda: torch.load(pt, weights_only=True), repetitions)
    if all(v.dtype != torch.bfloat16 for v in state.values()):   # numpy has no bf16
        out["safetensors load (numpy)"] = best(lambda: load_np(model), repetitions)
    for name in os.listdir(tmp):
        os.remove(os.path.join(tmp, name))
    os.rmdir(tmp)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
