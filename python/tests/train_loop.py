"""A tiny training run on random data, driven by test_training.py in fresh processes.

  python train_loop.py run DIR EPOCHS      trains EPOCHS epochs from scratch, saving each
                                           epoch with ckpt.save as DIR/epoch<N>.ckpt
  python train_loop.py store STORE EPOCHS  the same, saving each epoch with
                                           ckpt.Store(STORE).save as a version of model 'run'
  python train_loop.py resume FILE EPOCHS  restores model, optimizer, scheduler and RNG
                                           from FILE (.ckpt through ckpt.load, .pt through
                                           torch.load(weights_only=True), STORE::REF through
                                           ckpt.Store(STORE).load(REF)) and trains on to
                                           epoch EPOCHS

Both print one JSON object: {"losses": {"<epoch>.<step>": float.hex(loss)}}.
"""
import json
import sys

import torch
from torch import nn

import ckpt

STEPS = 4


def make():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    return model, opt, sched


def data():
    g = torch.Generator().manual_seed(42)
    x = torch.randn(64, 8, generator=g)
    return x, x.sum(dim=1, keepdim=True).sin()


def epoch(model, opt, sched, number, losses):
    x, y = data()
    order = torch.randperm(64)  # the global RNG: resuming must restore it
    for step in range(STEPS):
        batch = order[step * 16:(step + 1) * 16]
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x[batch]), y[batch])
        loss.backward()
        opt.step()
        losses[f"{number}.{step}"] = loss.item().hex()
    sched.step()


def main():
    torch.set_num_threads(1)
    command, where, last = sys.argv[1], sys.argv[2], int(sys.argv[3])
    model, opt, sched = make()
    losses = {}
    first = 1
    store = ckpt.Store(where, create=True) if command == "store" else None
    if command == "resume":
        if "::" in where:
            store, ref = where.split("::")
            state = ckpt.Store(store).load(ref)
        elif where.endswith(".ckpt"):
            state = ckpt.load(where)
        else:
            state = torch.load(where, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        first = state["epoch"] + 1
    for number in range(first, last + 1):
        epoch(model, opt, sched, number, losses)
        state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                 "epoch": number, "rng": torch.get_rng_state()}
        if command == "run":
            ckpt.save(state, f"{where}/epoch{number}.ckpt", metadata={"epoch": number})
        elif command == "store":
            version = store.save(state, model="run", message=f"epoch {number}", metadata={"epoch": number},
                                 tags=["best"] if number == 2 else ())
            losses[f"version.{number}"] = version.ref
    print(json.dumps({"losses": losses}))


if __name__ == "__main__":
    main()
