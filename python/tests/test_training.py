"""A training checkpoint as torch.save holds it round-trips, loads back into torch, and
resumes a run bit for bit in a fresh process: through ckpt.load, and through the CLI
(`ckpt export -o x.pt`) and torch.load(weights_only=True)."""
import collections
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ckpt
from conftest import REPO, assert_same

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

HERE = Path(__file__).resolve().parent


def training_state(steps=3):
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Linear(6, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    for _ in range(steps):
        opt.zero_grad()
        model(torch.randn(5, 4)).pow(2).mean().backward()
        opt.step()
        sched.step()
    return model, opt, sched


def test_nested_training_checkpoint_round_trips_and_loads_into_torch(tmp_path):
    model, opt, sched = training_state()
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "epoch": 3,
             "rng": torch.get_rng_state(), "best": float("-inf"), "note": None, "tags": ("a", 1, 2.5, True, b"\x00\xff"),
             "big": 1 << 80, "flags": {True: "t", None: "n", 0.5: "half", -7: "neg"}}
    ckpt.save(state, tmp_path / "full.ckpt", metadata={"run": "test", "step": 3})
    back = ckpt.load(tmp_path / "full.ckpt")
    assert_same(back, state)
    assert isinstance(back["model"], collections.OrderedDict)
    assert list(back["optimizer"]["state"]) == [0, 1, 2, 3, 4, 5]  # integer keys stay integers
    assert back["rng"].dtype == torch.uint8

    fresh_model, fresh_opt, fresh_sched = training_state(steps=0)
    fresh_model.load_state_dict(back["model"])
    fresh_opt.load_state_dict(back["optimizer"])
    fresh_sched.load_state_dict(back["scheduler"])
    assert_same(fresh_opt.state_dict(), opt.state_dict())
    assert fresh_sched.state_dict() == sched.state_dict()
    with ckpt.safe_open(tmp_path / "full.ckpt") as f:
        assert f.metadata() == {"run": "test", "step": 3}


def run_loop(*args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "python"), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, str(HERE / "train_loop.py"), *map(str, args)], capture_output=True, text=True,
                            env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])["losses"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    where = tmp_path_factory.mktemp("run")
    return where, run_loop("run", where, 4)


def test_resume_from_epoch_2_in_a_fresh_process_is_bit_exact(uninterrupted):
    where, losses = uninterrupted
    resumed = run_loop("resume", where / "epoch2.ckpt", 4)
    assert sorted(resumed) == [f"{e}.{s}" for e in (3, 4) for s in range(4)]
    for step, loss in resumed.items():
        assert loss == losses[step], f"step {step}: resumed {loss}, uninterrupted {losses[step]}"
    # Not vacuous: the losses move, so a wrong restore would show.
    assert len({losses[k] for k in resumed}) == len(resumed)


def test_resume_through_the_cli_and_torch_load(uninterrupted, cli, tmp_path):
    where, losses = uninterrupted
    report = cli("verify", where / "epoch2.ckpt")
    assert report.returncode == 0
    cli("export", where / "epoch2.ckpt", "-o", tmp_path / "epoch2.pt")
    back = torch.load(tmp_path / "epoch2.pt", weights_only=True)
    assert_same(back, ckpt.load(where / "epoch2.ckpt"))
    assert sorted(back) == ["epoch", "model", "optimizer", "rng", "scheduler"]
    resumed = run_loop("resume", tmp_path / "epoch2.pt", 4)
    for step, loss in resumed.items():
        assert loss == losses[step], f"step {step}"


def test_a_file_torch_saved_and_the_cli_imported_loads_as_torch_wrote_it(tmp_path, cli):
    # Ground truth from the other side: torch writes the file, ckpt's importer converts it,
    # and the package reads back what torch.load of the original gives.
    model, opt, sched = training_state()
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 7, "rng": torch.get_rng_state()},
               tmp_path / "orig.pt")
    cli("import", tmp_path / "orig.pt", "-o", tmp_path / "orig.ckpt")
    assert_same(ckpt.load(tmp_path / "orig.ckpt"), torch.load(tmp_path / "orig.pt", weights_only=True))
