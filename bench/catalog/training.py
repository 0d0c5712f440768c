#!/usr/bin/env python3
"""A real training run for the store's delta benchmark: a small CNN trained with AdamW
(lr 1e-3, cosine decay by default) on
generated data (a fixed random teacher labels random images, 20% of the labels replaced
by random ones so that the loss never reaches zero), a checkpoint written every
--every steps as safetensors. Usage: training.py OUT_DIR [--steps 300] [--every 25]
[--dtype f32|bf16]. Prints one line per checkpoint: step, loss, file."""
import argparse, os
import torch
from torch import nn
from safetensors.torch import save_file


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(128 * 4 * 4, 256), nn.ReLU(), nn.Linear(256, 10))

    def forward(self, x):
        return self.head(self.features(x))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--every", type=int, default=25)
    parser.add_argument("--dtype", default="f32", choices=["f32", "bf16"])
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--schedule", default="cosine", choices=["cosine", "constant"],
                        help="cosine: the usual decay to 0 over the run (after 10 warm-up steps)")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    teacher = Net().eval()
    model = Net()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    import math
    def factor(step):
        if args.schedule == "constant": return 1.0
        if step < 10: return (step + 1) / 10
        return 0.5 * (1 + math.cos(math.pi * step / args.steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    generator = torch.Generator().manual_seed(1)
    os.makedirs(args.out, exist_ok=True)

    def save(step, loss):
        state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
        if args.dtype == "bf16":
            state = {k: (v.to(torch.bfloat16) if v.is_floating_point() else v) for k, v in state.items()}
        path = os.path.join(args.out, f"step-{step:05d}.safetensors")
        save_file(state, path)
        print(f"{step} {loss:.4f} {path}", flush=True)

    save(0, float("nan"))
    for step in range(1, args.steps + 1):
        x = torch.randn(64, 3, 32, 32, generator=generator)
        with torch.no_grad():
            y = teacher(x).argmax(1)
            noisy = torch.rand(64, generator=generator) < 0.2
            y = torch.where(noisy, torch.randint(0, 10, (64,), generator=generator), y)
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        if step % args.every == 0:
            save(step, loss.item())


if __name__ == "__main__":
    main()
