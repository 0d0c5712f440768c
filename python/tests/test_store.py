"""ckpt.Store: a training loop saves every epoch as a version, a fresh process resumes
from epoch 2 bit for bit; the CLI sees the same store; references, tags, models, diff."""
import pytest

import ckpt
from conftest import assert_same
from test_training import run_loop, training_state

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    where = tmp_path_factory.mktemp("store")
    losses = run_loop("store", where, 4)
    return where, losses


def test_resume_from_a_stored_version_in_a_fresh_process_is_bit_exact(trained, tmp_path):
    where, losses = trained
    assert [losses[f"version.{n}"] for n in (1, 2, 3, 4)] == ["run@1", "run@2", "run@3", "run@4"]
    uninterrupted = run_loop("run", tmp_path, 4)
    # Saving into a store changes nothing of the run.
    assert {k: v for k, v in losses.items() if not k.startswith("version")} == uninterrupted
    for ref in ("run@2", "best"):
        resumed = run_loop("resume", f"{where}::{ref}", 4)
        assert sorted(resumed) == [f"{e}.{s}" for e in (3, 4) for s in range(4)]
        for step, loss in resumed.items():
            assert loss == uninterrupted[step], f"{ref} step {step}"


def test_the_cli_reads_the_store_python_wrote(trained, cli, tmp_path):
    where, _ = trained
    models = cli.json("models", store=where)
    assert [(m["name"], m["versions"], m["latest"], m["tags"]) for m in models] == [("run", 4, "run@4", ["best"])]
    cli("verify", "run@2", "--no-run", store=where)
    cli("checkout", "best", "-o", tmp_path / "best.pt", store=where)
    back = torch.load(tmp_path / "best.pt", weights_only=True)
    with ckpt.Store(where) as store:
        assert_same(back, store.load("run@2"))
        assert back["epoch"] == 2 and list(back["optimizer"]["state"]) == [0, 1, 2, 3]


def test_versions_tags_models_and_diff(tmp_path, cli):
    model, opt, sched = training_state()
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 1}
    with ckpt.Store(tmp_path, create=True) as store:
        first = store.save(state, model="net", message="one", tags=["start"])
        assert (first.ref, first.number, first.parents, first.tags) == ("net@1", 1, (), ("start",))
        assert len(first.hash) == 64
        state2 = {"model": {k: v + 1 if v.is_floating_point() else v for k, v in model.state_dict().items()},
                  "optimizer": opt.state_dict(), "epoch": 2}
        second = store.save(state2, model="net", message="two")
        assert second.parents == ("net@1",)
        assert store.show(second.hash[:8]).ref == "net@2"
        assert [v.ref for v in store.log("net")] == ["net@2", "net@1"]
        assert store.tag("net@2", "best").tags == ("best",)
        diff = store.diff("start", "best")
        changed = {t["name"] for t in diff["tensors"] if t["status"] == "changed"}
        assert "model.0.weight" in changed and "optimizer.state.0.exp_avg" not in changed
        assert [(m["name"], m["versions"], sorted(m["tags"])) for m in store.models()] == [("net", 2, ["best", "start"])]
        assert_same(store.load("net@1"), state)
        assert_same(store.load("best", framework="numpy")["epoch"], 2)
        # A file the CLI saves is a version Python loads, and the other way round.
        ckpt.save(state2, tmp_path / "two.ckpt")
        cli("save", tmp_path / "two.ckpt", "--model", "cli", store=tmp_path)
        assert_same(store.load("cli@1"), state2)

        with pytest.raises(ckpt.UnknownReferenceError) as caught:
            store.load("net@9")
        assert caught.value.code == 15 and "9" in caught.value.message
        with pytest.raises(ckpt.UnknownReferenceError):
            store.tag("ghost", "x")
        with pytest.raises(ckpt.StoreError):
            store.tag("net@1", "best")  # taken: moves only with force
        assert store.tag("net@1", "best", force=True).ref == "net@1"
        with pytest.raises(ckpt.StoreError):
            store.save(state, model="bad name/with slash")
    with pytest.raises(ckpt.StoreError):
        ckpt.Store(tmp_path / "nowhere")
