"""A Python object as the format's structure (FORMAT.md 4.1) and back: dicts (ordered or
not, with str, int, bool, float and None keys), lists, tuples, and tensor, int, float,
str, bool, bytes and None leaves. Floats keep their bits, ints their exact value."""
import base64
import collections
import math
import struct

from ._arrays import Source, is_tensor, tie_key
from .errors import UnsupportedValueError

MAX_DEPTH = 128
_INT64 = (-(1 << 63), (1 << 63) - 1)


def float_text(x):
    """The format's float spelling: shortest round-trip decimal, inf, -inf, nan:<bits>."""
    if math.isnan(x):
        return "nan:" + struct.pack(">d", x).hex()
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(float(x))


def float_value(text):
    if text.startswith("nan:"):
        return struct.unpack(">d", bytes.fromhex(text[4:]))[0]
    return float(text)


def _label(key):
    """A key as the canonical dotted name spells it (FORMAT.md 4.1 "Canonical names")."""
    if isinstance(key, bool):
        return "True" if key else "False"
    if key is None:
        return "None"
    if isinstance(key, float):
        return float_text(key)
    return str(key)


def _join(prefix, label):
    return label if not prefix else prefix + "." + label


class Encoder:
    """Walks an object once: the structure's root JSON, and every distinct tensor as a
    `Source` named by the dotted path of its first leaf, later leaves of the same tensor
    (tied weights) as its aliases."""

    def __init__(self):
        self.sources = []  # [Source], in first-seen order
        self.entries = []  # [{"name", "aliases", "dtype", "shape"}]
        self._ties = {}
        self._names = set()

    def _name(self, path):
        # Two leaves can spell one dotted path ({'a.b': x, 'a': {'b': y}}): later ones get
        # a '#n' suffix, so every leaf still names its own tensor.
        name = path or "tensor"
        n = 1
        while name in self._names:
            name = f"{path or 'tensor'}#{n}"
            n += 1
        self._names.add(name)
        return name

    def key(self, key, path):
        if key is None:
            return None
        if isinstance(key, bool):
            return {"bool": key}
        if isinstance(key, int):
            if not _INT64[0] <= key <= _INT64[1]:
                raise UnsupportedValueError(f"ckpt.save: a key of '{path}' is an int beyond 64 bits, which the format does not store")
            return {"int": str(int(key))}
        if isinstance(key, float):
            return {"float": float_text(key)}
        if isinstance(key, str):
            return {"str": key}
        raise UnsupportedValueError(f"ckpt.save: a key of '{path or '(root)'}' is a {type(key).__name__}; keys must be str, int, bool, float or None")

    def node(self, x, path="", depth=0):
        if depth > MAX_DEPTH:
            raise UnsupportedValueError(f"ckpt.save: '{path}' nests deeper than {MAX_DEPTH} levels")
        if x is None:
            return None
        if isinstance(x, bool):
            return {"bool": x}
        if isinstance(x, int):
            return {"int": str(int(x))}
        if isinstance(x, float):
            return {"float": float_text(x)}
        if isinstance(x, str):
            return {"str": x}
        if isinstance(x, (bytes, bytearray)):
            return {"bytes": base64.b64encode(bytes(x)).decode("ascii")}
        if is_tensor(x):
            return {"tensor": self.tensor(x, path)}
        if isinstance(x, dict):
            kind = "ordered_dict" if isinstance(x, collections.OrderedDict) else "dict"
            return {kind: [[self.key(k, path), self.node(v, _join(path, _label(k)), depth + 1)] for k, v in x.items()]}
        if isinstance(x, (list, tuple)):
            kind = "list" if isinstance(x, list) else "tuple"
            return {kind: [self.node(v, _join(path, str(i)), depth + 1) for i, v in enumerate(x)]}
        raise UnsupportedValueError(f"ckpt.save: '{path or '(root)'}' is a {type(x).__module__}.{type(x).__name__}, "
                                    "which the format does not store (tensors, int, float, str, bool, bytes, None, "
                                    "dict, list and tuple do)")

    def tensor(self, x, path):
        name = self._name(path)
        key = tie_key(x)
        if key is not None and key in self._ties:
            self.entries[self._ties[key]]["aliases"].append(name)
            return name
        source = Source(x, path or "(root)")
        if key is not None:
            self._ties[key] = len(self.entries)
        self.sources.append(source)
        self.entries.append({"name": name, "aliases": [], "dtype": source.dtype, "shape": source.shape})
        return name


def build(node, tensor):
    """The Python object of a structure node; ``tensor(name)`` gives the tensor a leaf
    names (one object per stored tensor, so tied leaves stay one tensor)."""
    if node is None:
        return None
    (kind, payload), = node.items()
    if kind == "tensor":
        return tensor(payload)
    if kind == "int":
        return int(payload)
    if kind == "float":
        return float_value(payload)
    if kind == "str":
        return payload
    if kind == "bool":
        return payload
    if kind == "bytes":
        return base64.b64decode(payload)
    if kind == "list":
        return [build(v, tensor) for v in payload]
    if kind == "tuple":
        return tuple(build(v, tensor) for v in payload)
    if kind in ("dict", "ordered_dict"):
        items = ((build(k, tensor), build(v, tensor)) for k, v in payload)
        return collections.OrderedDict(items) if kind == "ordered_dict" else dict(items)
    if kind == "opaque":
        return None  # a value another importer could not keep; the library's exporters do the same
    raise ValueError(f"ckpt: unknown structure node {kind!r}")


def leaves(node, out):
    """Every tensor name the structure refers to, in order."""
    if node is None:
        return out
    (kind, payload), = node.items()
    if kind == "tensor":
        out.append(payload)
    elif kind in ("list", "tuple"):
        for v in payload:
            leaves(v, out)
    elif kind in ("dict", "ordered_dict"):
        for _, v in payload:
            leaves(v, out)
    return out
