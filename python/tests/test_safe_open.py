"""safe_open reads one tensor at a time; tied tensors are stored once; errors are typed."""
import os

import numpy as np
import pytest

import ckpt
from conftest import bits

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402


def tied_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(50, 32), nn.Linear(32, 50, bias=False))
    model[1].weight = model[0].weight  # a language model's tied input and output embedding
    return model


def test_tied_weights_are_stored_once(tmp_path, cli):
    sd = tied_model().state_dict()
    assert sd["0.weight"].data_ptr() == sd["1.weight"].data_ptr()
    ckpt.save(sd, tmp_path / "tied.ckpt", codec="raw")
    report = cli.json("inspect", tmp_path / "tied.ckpt")
    assert [(t["name"], t["aliases"]) for t in report["tensors"]] == [("0.weight", ["1.weight"])]
    assert report["raw"] == 50 * 32 * 4
    with ckpt.safe_open(tmp_path / "tied.ckpt") as f:
        assert f.keys() == ["0.weight", "1.weight"]
        assert f.aliases() == {"1.weight": "0.weight"}
    back = ckpt.load(tmp_path / "tied.ckpt")
    assert back["0.weight"] is back["1.weight"]  # one tensor again, as torch had it
    model = tied_model()
    model.load_state_dict(back)
    # A tensor tied in a nested checkpoint: optimizer state can point at the same memory too.
    shared = torch.arange(6.0)
    ckpt.save({"a": [shared, shared.view(2, 3)], "b": {"c": shared}}, tmp_path / "nested.ckpt")
    nested = ckpt.load(tmp_path / "nested.ckpt")
    assert nested["a"][0] is nested["b"]["c"]
    assert nested["a"][1] is not nested["a"][0] and nested["a"][1].shape == (2, 3)  # another view: stored apart


def test_safe_open_reads_only_the_tensor_asked_for(tmp_path):
    a = torch.randn(64, 64)
    b = torch.randn(64, 64)
    path = tmp_path / "two.ckpt"
    ckpt.save({"a": a, "b": b}, path, codec="raw", metadata={"source": "test"})
    # Corrupt b's bytes only: a still reads, b fails with the typed error, load fails.
    data = bytearray(path.read_bytes())
    offset = data.find(b.numpy().tobytes()[:64])
    assert offset > 0
    data[offset + 100] ^= 0xFF
    path.write_bytes(bytes(data))
    with ckpt.safe_open(path) as f:
        assert bits(f.get_tensor("a")) == bits(a)
        assert f.metadata() == {"source": "test"}
        assert f.architecture() is None
        assert f.tensor_info("b")["shape"] == [64, 64]
        with pytest.raises(ckpt.ChecksumError) as caught:
            f.get_tensor("b")
        assert caught.value.code == 3 and "'b'" in caught.value.message
        with pytest.raises(ckpt.ChecksumError):
            f.verify()
    with pytest.raises(ckpt.ChecksumError):
        ckpt.load(path)


@pytest.mark.parametrize("framework", ["numpy", "torch"])
def test_raw_tensors_are_copy_on_write_views_of_the_file(tmp_path, framework):
    a = np.arange(1000, dtype=np.float32)
    path = tmp_path / "r.ckpt"
    ckpt.save({"a": a, "z": np.zeros(100000, dtype=np.float32)}, path, codec="raw")
    before = path.read_bytes()
    with ckpt.safe_open(path, framework=framework) as f:
        view = f.get_tensor("a")
    # The file is still mapped through the view after the context has closed.
    assert view.tolist() == a.tolist()
    if framework == "numpy":
        assert not view.flags.owndata and view.flags.writeable
    loaded = ckpt.load(path, framework=framework)
    view[0] = 42  # writes go to this process's pages, never to the file
    loaded["a"][1] = 43
    assert view[0] == 42 and loaded["a"][1] == 43 and loaded["a"][0] == 0
    assert path.read_bytes() == before
    assert ckpt.load(path, framework=framework)["a"].tolist() == a.tolist()
    with ckpt.safe_open(tmp_path / "r.ckpt", framework="numpy") as f:
        with pytest.raises(ckpt.NotFoundError):
            f.get_tensor("nope")
    with pytest.raises(ValueError):
        f.keys()


def test_compressed_files_through_safe_open(tmp_path):
    t = torch.randn(300, 300)
    ckpt.save({"w": t}, tmp_path / "c.ckpt")  # the default codec, shuffle-ans
    with ckpt.safe_open(tmp_path / "c.ckpt", framework="numpy") as f:
        assert f.tensor_info("w")["codec"] == "shuffle-ans"
        assert f.get_tensor("w").tobytes() == t.numpy().tobytes()


def test_error_cases_raise_typed_exceptions(tmp_path):
    with pytest.raises(ckpt.FileError) as missing:
        ckpt.load(tmp_path / "missing.ckpt")
    assert isinstance(missing.value, OSError) and missing.value.code == 1
    assert "missing.ckpt" in missing.value.message and "\n" not in missing.value.message
    (tmp_path / "text.ckpt").write_bytes(b"not a checkpoint at all, just some text" * 4)
    with pytest.raises(ckpt.UnrecognisedFileError):
        ckpt.load(tmp_path / "text.ckpt")
    ckpt.save({"w": torch.randn(100)}, tmp_path / "ok.ckpt")
    whole = (tmp_path / "ok.ckpt").read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(whole[:-10])
    with pytest.raises(ckpt.CkptError):
        ckpt.load(tmp_path / "cut.ckpt")
    with pytest.raises(ckpt.InvalidValueError):
        ckpt.save({"w": torch.ones(1)}, tmp_path / "bad.ckpt", codec="lzma")
    with pytest.raises(ckpt.UnsupportedValueError):
        ckpt.save({"w": torch.ones(1), "opt": {1 << 70: 1}}, tmp_path / "bad.ckpt")
    with pytest.raises(ckpt.UnsupportedValueError):
        ckpt.save({"x": {1, 2}}, tmp_path / "bad.ckpt")
    with pytest.raises(ckpt.FileError):
        ckpt.save({"w": torch.ones(1)}, tmp_path / "no" / "such" / "dir.ckpt")
    assert not os.path.exists(tmp_path / "bad.ckpt")


def test_a_corrupt_chunk_of_a_compressed_file(tmp_path):
    t = torch.randn(256, 256)
    path = tmp_path / "z.ckpt"
    ckpt.save({"w": t}, path, codec="zstd")
    data = bytearray(path.read_bytes())
    data[64 + 500] ^= 0x01  # inside the first chunk: the data region starts after the 64-byte header
    path.write_bytes(bytes(data))
    with pytest.raises(ckpt.ChecksumError):
        ckpt.load(path)
