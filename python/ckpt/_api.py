"""save, load and safe_open over the C ABI: one implementation of the format (the Swift
library), none in Python."""
import contextlib
import ctypes
import json
import mmap
import os

from . import _arrays
from ._lib import call, lib, text_of
from ._structure import Encoder, build, leaves
from .errors import FileError, NotFoundError

_LEVEL_DEFAULT = -(1 << 31)  # INT32_MIN: the library's default zstd level
_NO_SYNC = 1  # ckpt_write's flag: no fsync


def save(obj, path, *, metadata=None, codec=None, level=None, sync=True):
    """Writes ``obj`` to the ``.ckpt`` at ``path`` atomically (the old file or the whole
    new one, fsynced).

    ``obj`` is a state_dict or any nesting of dicts (keys str, int, bool, float, None),
    lists and tuples around torch tensors, numpy arrays, int, float, str, bool, bytes and
    None: what ``torch.save`` of a training checkpoint holds. Tensors that share memory,
    shape, strides and dtype (tied weights) are stored once, the later leaves as aliases.
    Contiguous CPU tensors are read in place, not copied. ``metadata``: any JSON-able
    value; ``codec``: ``raw``, ``zstd``, ``shuffle-zstd`` or ``shuffle-ans`` (the
    default); ``level``: the zstd level (default 1); ``sync=False`` returns once the whole
    file is in the page cache, without waiting for the disk (as torch.save and
    safetensors do).
    """
    with encoded(obj, metadata) as arguments:
        call(lib.ckpt_write, os.fsencode(os.fspath(path)), *arguments,
             None if codec is None else codec.encode(), _LEVEL_DEFAULT if level is None else int(level), 0 if sync else _NO_SYNC)


@contextlib.contextmanager
def encoded(obj, metadata):
    """The checkpoint arguments ckpt_write and ckpt_store_save take: tensors JSON, pointers,
    lengths, count, structure JSON, metadata JSON. The tensors' memory is kept alive until
    the block ends (the library reads it in place during the call)."""
    encoder = Encoder()
    root = encoder.node(obj)
    n = len(encoder.sources)
    pointers = (ctypes.c_void_p * max(n, 1))(*[s.pointer for s in encoder.sources])
    lengths = (ctypes.c_uint64 * max(n, 1))(*[s.length for s in encoder.sources])
    yield (json.dumps(encoder.entries).encode(), pointers, lengths, n, json.dumps(root).encode(),
           None if metadata is None else json.dumps(metadata).encode())
    del encoder


class _Reader:
    """An open file: a library handle over the file this process opened, and (made on
    first use) this process's own copy-on-write map of that same open file, which raw
    tensors are returned over. Closed when the last user lets go: every array over the map
    keeps the map alive by itself (the buffer protocol), the handle lives with this object."""

    @classmethod
    def over(cls, handle):
        """A reader over a handle the library made (a store checkout: no file, no views)."""
        self = cls.__new__(cls)
        self.file, self.map, self.handle = None, None, handle
        self._index()
        return self

    def __init__(self, path):
        name = os.fspath(path)
        try:
            self.file = open(name, "rb")
        except OSError as error:
            raise FileError(f"{name}: cannot open {name}: {error.strerror}") from None
        handle = ctypes.c_void_p()
        try:
            # The library maps the descriptor, not the path: the views below are of exactly
            # the bytes it checked, whatever a rename puts at the path meanwhile.
            call(lib.ckpt_reader_open_fd, self.file.fileno(), os.fsencode(name), ctypes.byref(handle))
        except BaseException:
            self.file.close()
            raise
        self.handle = handle
        self.map = None
        self._index()

    def _index(self):
        self.tensors = json.loads(text_of(lib.ckpt_reader_tensors, self.handle))
        self.by_name = {}
        for record in self.tensors:
            for name in [record["name"]] + record["aliases"]:
                self.by_name[name] = record

    def load(self, device, framework):
        """The whole object: the structure with every tensor it names, each stored tensor once."""
        root = json.loads(self.text(lib.ckpt_reader_structure))
        stored, seen = [], set()
        for name in leaves(root, []):
            record = self.record(name)
            if record["name"] not in seen:
                seen.add(record["name"])
                stored.append(record)
        arrays = dict(zip((r["name"] for r in stored), self.decode(stored, framework)))
        moved = {}

        def tensor(name):
            key = self.by_name[name]["name"]
            if key not in moved:
                moved[key] = _to_device(arrays[key], device)
            return moved[key]

        return build(root, tensor)

    def record(self, name):
        record = self.by_name.get(name)
        if record is None:
            raise NotFoundError(f"no tensor named {name!r}")
        return record

    def text(self, fn):
        return text_of(fn, self.handle)

    def decode(self, records, framework):
        """One array per record: a view of the map for each raw tensor (the library checks
        their checksums first, in parallel), else a new array the library decodes into, all
        of those in one parallel call."""
        arrays = self.views(records, framework)
        names, buffers, lengths = [], [], []
        for k, record in enumerate(records):
            if arrays[k] is not None:
                continue
            array, pointer, length = _arrays.empty(framework, record["dtype"], record["shape"], record["name"])
            arrays[k] = array
            names.append(record["name"].encode())
            buffers.append(pointer)
            lengths.append(length)
        n = len(names)
        if n:
            call(lib.ckpt_reader_decode, self.handle, (ctypes.c_char_p * n)(*names), (ctypes.c_void_p * n)(*buffers),
                 (ctypes.c_uint64 * n)(*lengths), n)
        return arrays

    def views(self, records, framework):
        """Each raw tensor as an array over this process's copy-on-write map of the file
        (no copy; writing to it changes this process's pages, never the file); None for a
        tensor that is compressed or empty."""
        candidates = [k for k, r in enumerate(records) if r["codec"] == "raw" and r["bytes"] > 0] if self.file else []
        out = [None] * len(records)
        if not candidates:
            return out
        n = len(candidates)
        offsets, lengths = (ctypes.c_uint64 * n)(), (ctypes.c_uint64 * n)()
        call(lib.ckpt_reader_views, self.handle, (ctypes.c_char_p * n)(*[records[k]["name"].encode() for k in candidates]), n,
             offsets, lengths)
        for j, k in enumerate(candidates):
            if lengths[j]:
                if self.map is None:
                    self.map = mmap.mmap(self.file.fileno(), 0, access=mmap.ACCESS_COPY)
                r = records[k]
                out[k] = _arrays.over(self.map, framework, r["dtype"], r["shape"], offsets[j], lengths[j], r["name"])
        return out

    def __del__(self):
        handle = getattr(self, "handle", None)
        if handle is not None and handle.value:
            lib.ckpt_reader_close(handle)
            self.handle = None
        if getattr(self, "file", None) is not None:
            self.file.close()


def _to_device(x, device):
    if device is None or str(device) == "cpu" or not hasattr(x, "to"):
        return x
    return x.to(device)


def load(path, *, device="cpu", framework="torch"):
    """Reads the ``.ckpt`` at ``path`` back as the object ``save`` was given: the same
    nesting, dict kinds and key types, values equal bit for bit; leaves that were one
    tensor are one tensor again. Every chunk is checked against its checksum. A tensor
    stored raw (``codec='raw'``) comes back as a view of a copy-on-write map of the file:
    no copy, writable (writes change this process's pages, never the file); the others are
    decoded by the library straight into new torch or numpy memory (one copy), all chunks
    in parallel.

    ``framework``: ``'torch'`` (tensors; ``device`` moves them) or ``'numpy'`` (arrays;
    bfloat16 and 8-bit float tensors raise ``UnsupportedError``, numpy has no such dtype).
    A file without a structure loads as an ``OrderedDict`` of its names, aliases included:
    a file ``ckpt import`` made of a safetensors file, and any dict whose keys are strings
    each naming a tensor (a flat state_dict, which the format stores without a structure,
    FORMAT.md 4.1; a plain ``dict`` of tensors comes back as an ``OrderedDict``, equal to it).
    """
    return _Reader(path).load(device, _arrays.framework_of(framework))


class safe_open:
    """``with ckpt.safe_open(path, framework='torch') as f:`` reads one tensor at a time,
    as safetensors' ``safe_open`` does: ``keys()``, ``get_tensor(name)`` (decodes only
    that tensor), ``metadata()``, ``architecture()``, plus ``aliases()`` and
    ``tensor_info(name)``. Opening checks the header, trailer and index only.

    A tensor stored raw is returned as a view of a copy-on-write map of the file (no copy;
    writes change only this process's pages; the view keeps the map alive after close);
    any other is decoded into a new array.
    """

    def __init__(self, path, framework="torch", device="cpu"):
        self._framework = _arrays.framework_of(framework)
        self._device = device
        self._reader = _Reader(path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        """Lets go of the file; arrays still viewing it keep it open until they go."""
        self._reader = None

    def _open(self):
        if self._reader is None:
            raise ValueError("ckpt.safe_open: the file is closed")
        return self._reader

    def keys(self):
        """Every name a tensor can be fetched by: stored names and aliases, in storage order."""
        return [n for r in self._open().tensors for n in [r["name"]] + r["aliases"]]

    def aliases(self):
        """``{alias: stored name}`` for every tied tensor (stored once, reachable by each name)."""
        return {a: r["name"] for r in self._open().tensors for a in r["aliases"]}

    def tensor_info(self, name):
        """``{'dtype', 'shape', 'codec', 'bytes', 'stored_bytes', 'name', 'aliases'}`` of a tensor."""
        return dict(self._open().record(name))

    def get_tensor(self, name):
        """The tensor known by ``name``, decoding (and checking) only its chunks."""
        reader = self._open()
        return _to_device(reader.decode([reader.record(name)], self._framework)[0], self._device)

    def metadata(self):
        """The metadata stored with the file (any JSON), or None."""
        text = self._open().text(lib.ckpt_reader_metadata)
        return None if text is None else json.loads(text)

    def architecture(self):
        """The architecture document (spec/ARCH.md) as parsed JSON, or None."""
        text = self._open().text(lib.ckpt_reader_architecture)
        return None if text is None else json.loads(text)

    def verify(self):
        """Checks every chunk, section and byte of the layout, as ``ckpt verify`` checks the
        container; raises the typed error of the first problem."""
        call(lib.ckpt_reader_verify, self._open().handle)
