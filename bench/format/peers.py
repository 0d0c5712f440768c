#!/usr/bin/env python3
"""Times the peers of `ckpt bench format` on the same model, in the same run:
safetensors load (to numpy and to torch), safetensors save, torch.save and torch.load
of the same state_dict. Prints JSON: {name: best seconds}. Missing libraries are skipped."""
import json, os, sys, tempfile, time


def best(fn, repetitions):
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    model, repetitions = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5
    out = {}
    tmp = tempfile.mkdtemp(dir=os.environ.get("BENCH_DIR", "."))
    from safetensors.numpy import load_file as load_np, save_file as save_np
    out["safetensors load (numpy)"] = best(lambda: load_np(model), repetitions)
    arrays = load_np(model)
    out["safetensors save (numpy)"] = best(lambda: save_np(arrays, os.path.join(tmp, "s.safetensors")), repetitions)
    try:
        import torch
        from safetensors.torch import load_file as load_torch
        out["safetensors load (torch)"] = best(lambda: load_torch(model), repetitions)
        state = load_torch(model)
        pt = os.path.join(tmp, "model.pt")
        out["torch.save"] = best(lambda: torch.save(state, pt), repetitions)
        out["torch.load"] = best(lambda: torch.load(pt, weights_only=True), repetitions)
    except ImportError:
        pass
    for name in os.listdir(tmp):
        os.remove(os.path.join(tmp, name))
    os.rmdir(tmp)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
