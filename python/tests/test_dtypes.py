"""Every dtype the format stores round-trips bit for bit, through every codec."""
import collections

import numpy as np
import pytest

import ckpt
from conftest import assert_same, bits

torch = pytest.importorskip("torch")

TORCH_DTYPES = [getattr(torch, n) for n in [
    "float32", "float64", "float16", "bfloat16", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "bool", "complex64", "float8_e4m3fn", "float8_e5m2", "float8_e8m0fnu"] if hasattr(torch, n)]
CODECS = ["raw", "zstd", "shuffle-zstd", "shuffle-ans"]


def random_tensor(dtype, shape, seed=0):
    """Random bit patterns of `dtype` (NaNs with payloads, infinities, subnormals, -0.0 included)."""
    g = torch.Generator().manual_seed(seed)
    if dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=g).bool()
    size = torch.empty((), dtype=dtype).element_size()
    raw = torch.randint(0, 256, (*shape[:-1], shape[-1] * size), generator=g, dtype=torch.uint8)
    return raw.view(dtype)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("dtype", TORCH_DTYPES, ids=str)
def test_torch_dtype_round_trips_bit_exact(tmp_path, dtype, codec):
    t = random_tensor(dtype, (37, 29))
    scalar = random_tensor(dtype, (1,), seed=5)[0]
    path = tmp_path / "t.ckpt"
    ckpt.save({"t": t, "scalar": scalar, "empty": t[:0]}, path, codec=codec)
    back = ckpt.load(path)
    assert back["t"].dtype == dtype and back["t"].shape == t.shape
    assert bits(back["t"]) == bits(t)
    assert back["scalar"].shape == () and bits(back["scalar"]) == bits(scalar)
    assert back["empty"].shape == (0, 29) and back["empty"].dtype == dtype


@pytest.mark.parametrize("codec", CODECS)
def test_multi_chunk_tensor(tmp_path, codec):
    # 3 MiB of f32 spans two 2 MiB chunks; trained-like values so that codecs really compress.
    t = torch.randn(1024, 768, generator=torch.Generator().manual_seed(1))
    ckpt.save({"w": t}, tmp_path / "w.ckpt", codec=codec, level=3)
    assert bits(ckpt.load(tmp_path / "w.ckpt")["w"]) == bits(t)


NUMPY_DTYPES = [np.float32, np.float64, np.float16, np.int8, np.int16, np.int32, np.int64,
                np.uint8, np.uint16, np.uint32, np.uint64, np.bool_, np.complex64]


@pytest.mark.parametrize("dtype", NUMPY_DTYPES, ids=lambda d: np.dtype(d).name)
def test_numpy_dtype_round_trips_bit_exact(tmp_path, dtype):
    rng = np.random.default_rng(2)
    if dtype is np.bool_:
        a = rng.integers(0, 2, (11, 13)).astype(np.bool_)
    else:
        a = np.frombuffer(rng.bytes(11 * 13 * np.dtype(dtype).itemsize), dtype=dtype).reshape(11, 13)
    ckpt.save({"a": a, "f": a[:, ::2]}, tmp_path / "a.ckpt")  # a strided view is stored contiguous
    back = ckpt.load(tmp_path / "a.ckpt", framework="numpy")
    # A dict of tensors under their own names is a flat state_dict, stored without a
    # structure (FORMAT.md 4.1): it loads as the OrderedDict a state_dict is.
    assert_same(back, collections.OrderedDict([("a", a), ("f", np.ascontiguousarray(a[:, ::2]))]))
    # And the same bytes arrive in torch.
    as_torch = ckpt.load(tmp_path / "a.ckpt")
    assert as_torch["a"].numpy().tobytes() == a.tobytes()


def test_numpy_refuses_bfloat16_with_a_typed_error(tmp_path):
    ckpt.save({"w": torch.ones(3, dtype=torch.bfloat16), "b": torch.ones(2)}, tmp_path / "bf.ckpt")
    with pytest.raises(ckpt.UnsupportedError) as caught:
        ckpt.load(tmp_path / "bf.ckpt", framework="numpy")
    assert caught.value.code == 9
    with ckpt.safe_open(tmp_path / "bf.ckpt", framework="numpy") as f:
        assert f.get_tensor("b").tolist() == [1.0, 1.0]  # the other tensors still load
        with pytest.raises(ckpt.UnsupportedError):
            f.get_tensor("w")


def test_dtypes_the_format_cannot_store_are_refused_before_writing(tmp_path):
    for value in [torch.zeros(2, dtype=torch.complex128), np.zeros(2, dtype=np.complex128), np.array(["a"])]:
        with pytest.raises(ckpt.UnsupportedValueError):
            ckpt.save({"x": value}, tmp_path / "x.ckpt")
    assert not (tmp_path / "x.ckpt").exists()


def test_non_contiguous_and_non_native_inputs(tmp_path):
    t = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    big_endian = np.arange(5, dtype=">i4")
    ckpt.save({"t": t.t(), "be": big_endian}, tmp_path / "v.ckpt")
    back = ckpt.load(tmp_path / "v.ckpt", framework="numpy")
    assert back["t"].tolist() == t.t().tolist()
    assert back["be"].dtype == np.int32 and back["be"].tolist() == [0, 1, 2, 3, 4]
