"""ckpt.Store: a store of versioned checkpoints (spec/CATALOG.md) over the C ABI, the same
store the CLI's save, log, tag, checkout, diff and models verbs use."""
import ctypes
import json
import os
from dataclasses import dataclass

from . import _arrays
from ._api import _Reader, encoded
from ._lib import call, lib, take_text


@dataclass(frozen=True)
class Version:
    """One version: ``ref`` (``name@N``, what every reference argument takes), ``hash``
    (the version hash; any unique prefix of 4 or more is a reference too), and what it records."""

    ref: str
    hash: str
    model: str
    number: int
    message: str = ""
    parents: tuple = ()
    tags: tuple = ()
    created_ms: int = 0
    #: the newest earlier version with exactly this content, when the save repeated one
    same_content_as: str = None

    @classmethod
    def _of(cls, data):
        return cls(ref=data["reference"], hash=data["hash"], model=data["model"], number=data["number"],
                   message=data.get("message", ""), parents=tuple(data.get("parents", ())), tags=tuple(data.get("tags", ())),
                   created_ms=data.get("created_ms", 0), same_content_as=data.get("same_content_as"))

    def __str__(self):
        return self.ref


def _ref(reference):
    return str(reference).encode()


class Store:
    """``ckpt.Store(path)`` opens the store at ``path`` (a directory holding ``.ckpt/``, or
    the ``.ckpt`` directory itself); ``path=None`` finds it as the CLI does (``$CKPT_STORE``,
    else ``.ckpt/`` from the working directory up). ``create=True`` makes ``PATH/.ckpt``
    when it is not there (``ckpt init PATH``)."""

    def __init__(self, path=None, *, create=False):
        handle = ctypes.c_void_p()
        call(lib.ckpt_store_open, None if path is None else os.fsencode(os.fspath(path)), 1 if create else 0, ctypes.byref(handle))
        self._handle = handle

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        if getattr(self, "_handle", None) is not None and self._handle.value:
            lib.ckpt_store_close(self._handle)
        self._handle = None

    __del__ = close

    def _open(self):
        if self._handle is None:
            raise ValueError("ckpt.Store: the store is closed")
        return self._handle

    def _json(self, fn, *args):
        out = ctypes.c_void_p()
        call(fn, self._open(), *args, ctypes.byref(out))
        return json.loads(take_text(out))

    def save(self, obj, *, model, message="", tags=(), parents=None, metadata=None, codec=None, deltas=True):
        """Saves ``obj`` (what ``ckpt.save`` takes) as a new version of ``model`` and returns
        its ``Version``. ``parents``: references (two or more make a merge); None means the
        model's latest version, so that saving every epoch makes a line. Tensors the store
        already holds are not stored again; a changed one may be stored as a delta against
        the parent's tensor of the same name (``deltas=False`` stores it whole)."""
        request = {"model": model, "message": message, "tags": list(tags), "deltas": bool(deltas)}
        if parents is not None:
            request["parents"] = [str(p) for p in ([parents] if isinstance(parents, (str, Version)) else parents)]
        if codec is not None:
            request["codec"] = codec
        out = ctypes.c_void_p()
        with encoded(obj, metadata) as arguments:
            call(lib.ckpt_store_save, self._open(), *arguments, json.dumps(request).encode(), ctypes.byref(out))
        return Version._of(json.loads(take_text(out)))

    def load(self, ref, *, device="cpu", framework="torch"):
        """The version ``ref`` names, as ``ckpt.load`` returns a file: the saved object,
        bit for bit (every tensor checked against its object's SHA-256 on the way)."""
        framework = _arrays.framework_of(framework)
        handle = ctypes.c_void_p()
        call(lib.ckpt_store_checkout, self._open(), _ref(ref), ctypes.byref(handle))
        return _Reader.over(handle).load(device, framework)

    def show(self, ref):
        """The ``Version`` a reference names."""
        return Version._of(self._json(lib.ckpt_store_show, _ref(ref)))

    def log(self, model=None):
        """Versions newest first, of ``model`` or of every model."""
        return [Version._of(v) for v in self._json(lib.ckpt_store_log, None if model is None else model.encode())]

    def tag(self, ref, name, *, force=False):
        """Points tag ``name`` at ``ref`` (moving an existing tag only with ``force``)."""
        return Version._of(self._json(lib.ckpt_store_tag, _ref(ref), name.encode(), 1 if force else 0))

    def diff(self, a, b):
        """What changed from ``a`` to ``b``, as ``ckpt diff --json`` reports it (a dict)."""
        return self._json(lib.ckpt_store_diff, _ref(a), _ref(b))

    def models(self):
        """Every model, as ``ckpt models --json`` lists them: name, versions, latest, tags, bytes."""
        return self._json(lib.ckpt_store_models)
