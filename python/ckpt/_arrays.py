"""Tensors on either side of the boundary: dtype spellings (the index's, FORMAT.md 4) for
numpy and torch, the bytes of a tensor to hand to the library, and empty arrays for the
library to fill."""
import numpy as np

from .errors import UnsupportedError, UnsupportedValueError

try:  # torch is optional
    import torch
except ImportError:  # pragma: no cover - exercised only without torch
    torch = None

NUMPY = {
    "f64": np.float64, "f32": np.float32, "f16": np.float16,
    "i64": np.int64, "i32": np.int32, "i16": np.int16, "i8": np.int8,
    "u64": np.uint64, "u32": np.uint32, "u16": np.uint16, "u8": np.uint8,
    "bool": np.bool_, "c64": np.complex64,
}
_FROM_NUMPY = {np.dtype(v): k for k, v in NUMPY.items()}

TORCH = {}
if torch is not None:
    for code, attr in [("f64", "float64"), ("f32", "float32"), ("f16", "float16"), ("bf16", "bfloat16"),
                       ("f8_e4m3", "float8_e4m3fn"), ("f8_e5m2", "float8_e5m2"), ("f8_e8m0", "float8_e8m0fnu"),
                       ("i64", "int64"), ("i32", "int32"), ("i16", "int16"), ("i8", "int8"),
                       ("u64", "uint64"), ("u32", "uint32"), ("u16", "uint16"), ("u8", "uint8"),
                       ("bool", "bool"), ("c64", "complex64")]:
        if hasattr(torch, attr):  # older torch lacks the wide unsigned and 8-bit float types
            TORCH[code] = getattr(torch, attr)
_FROM_TORCH = {v: k for k, v in TORCH.items()}


def is_tensor(x):
    return isinstance(x, np.ndarray) or (torch is not None and isinstance(x, torch.Tensor))


class Source:
    """One tensor to store: its dtype spelling, shape, and contiguous host bytes kept
    alive (``keep``) until the write returns; ``pointer``/``length`` are handed over as
    they are, so a contiguous CPU tensor is read in place."""

    def __init__(self, x, path):
        if isinstance(x, np.ndarray):
            self.dtype = _FROM_NUMPY.get(x.dtype.newbyteorder("=") if x.dtype.byteorder not in "=|" else x.dtype)
            if self.dtype is None:
                raise UnsupportedValueError(f"ckpt.save: '{path}' is a numpy array of dtype {x.dtype}, which the format does not store")
            a = np.ascontiguousarray(x)
            if a.dtype.byteorder == ">":
                a = a.astype(a.dtype.newbyteorder("<"))
            self.shape = list(a.shape)
            self.keep = a
            self.pointer = a.ctypes.data if a.nbytes else None
            self.length = a.nbytes
        else:
            self.dtype = _FROM_TORCH.get(x.dtype)
            if self.dtype is None:
                raise UnsupportedValueError(f"ckpt.save: '{path}' is a torch tensor of dtype {x.dtype}, which the format does not store")
            t = x.detach()
            if t.device.type != "cpu":
                t = t.cpu()
            if t.is_conj():
                t = t.resolve_conj()
            t = t.contiguous()
            self.shape = list(t.shape)
            self.keep = t
            self.length = t.numel() * t.element_size()
            self.pointer = t.data_ptr() if self.length else None


def tie_key(x):
    """What makes two leaves one stored tensor: the same memory, shape, strides and dtype
    (torch's notion of a tied weight). None for empty tensors, which share no bytes."""
    if isinstance(x, np.ndarray):
        if x.size == 0:
            return None
        return ("np", x.__array_interface__["data"][0], x.shape, x.strides, x.dtype.str)
    if x.numel() == 0:
        return None
    return ("torch", x.device, x.untyped_storage().data_ptr(), x.storage_offset(), tuple(x.shape), x.stride(), x.dtype)


def empty(framework, dtype, shape, name):
    """A new uninitialised array for the library to fill, and its address and length."""
    if framework == "numpy":
        np_dtype = NUMPY.get(dtype)
        if np_dtype is None:
            raise UnsupportedError(f"ckpt: tensor '{name}' is {dtype}, which numpy has no dtype for; load it with framework='torch'")
        a = np.empty(shape, dtype=np_dtype)
        return a, (a.ctypes.data if a.nbytes else None), a.nbytes
    t_dtype = TORCH.get(dtype)
    if t_dtype is None:
        raise UnsupportedError(f"ckpt: tensor '{name}' is {dtype}, which this torch has no dtype for")
    t = torch.empty(shape, dtype=t_dtype)
    length = t.numel() * t.element_size()
    return t, (t.data_ptr() if length else None), length


def over(buffer, framework, dtype, shape, offset, length, name):
    """An array of `dtype` x `shape` over `length` bytes of `buffer` at `offset`, sharing
    its memory (the array keeps the buffer alive); None where the framework lacks the dtype
    (the caller decodes instead, or reports it)."""
    if framework == "numpy":
        np_dtype = NUMPY.get(dtype)
        if np_dtype is None:
            raise UnsupportedError(f"ckpt: tensor '{name}' is {dtype}, which numpy has no dtype for; load it with framework='torch'")
        return np.frombuffer(buffer, dtype=np_dtype, count=length // np.dtype(np_dtype).itemsize, offset=offset).reshape(shape)
    t_dtype = TORCH.get(dtype)
    if t_dtype is None:
        raise UnsupportedError(f"ckpt: tensor '{name}' is {dtype}, which this torch has no dtype for")
    element = torch.empty((), dtype=t_dtype).element_size()
    return torch.frombuffer(buffer, dtype=t_dtype, count=length // element, offset=offset).reshape(shape)


def framework_of(framework):
    """'torch' or 'numpy' (safetensors' 'pt' and 'np' too); torch when it is asked for
    and installed."""
    f = {"pt": "torch", "np": "numpy"}.get(framework, framework)
    if f not in ("torch", "numpy"):
        raise ValueError(f"ckpt: framework must be 'torch' or 'numpy', not {framework!r}")
    if f == "torch" and torch is None:
        raise ImportError("ckpt: framework='torch' needs torch installed (or use framework='numpy')")
    return f
