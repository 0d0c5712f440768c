"""Loads the Swift library (libCkptABI.so) and declares its entry points (spec/ABI.md).

The library is the package's own copy next to this file, or the one ``CKPT_LIBRARY``
names (a development build: ``.build/debug/libCkptABI.so``).
"""
import ctypes
import os

from .errors import error_for

ABI_VERSION = 1

_c_char_pp = ctypes.POINTER(ctypes.c_char_p)


def _find():
    override = os.environ.get("CKPT_LIBRARY")
    if override:
        return override
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libCkptABI.so")
    if os.path.exists(here):
        return here
    raise ImportError("ckpt: libCkptABI.so is not inside the package (install it with `pip install ./python`) "
                      "and CKPT_LIBRARY is not set")


def _load():
    lib = ctypes.CDLL(_find())
    P, S, I32, I64 = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32, ctypes.c_int64
    out_text = ctypes.POINTER(ctypes.c_void_p)  # char ** filled with a malloc'd text
    sigs = {
        "ckpt_abi_version": ([], I32),
        "ckpt_free": ([P], None),
        "ckpt_write": ([S, S, ctypes.POINTER(P), ctypes.POINTER(ctypes.c_uint64), I64, S, S, S, I32, ctypes.c_uint32, out_text], I32),
        "ckpt_reader_open": ([S, ctypes.POINTER(P), out_text], I32),
        "ckpt_reader_open_fd": ([I32, S, ctypes.POINTER(P), out_text], I32),
        "ckpt_reader_close": ([P], None),
        "ckpt_reader_tensors": ([P, out_text, out_text], I32),
        "ckpt_reader_structure": ([P, out_text, out_text], I32),
        "ckpt_reader_metadata": ([P, out_text, out_text], I32),
        "ckpt_reader_architecture": ([P, out_text, out_text], I32),
        "ckpt_reader_decode": ([P, ctypes.POINTER(S), ctypes.POINTER(P), ctypes.POINTER(ctypes.c_uint64), I64, out_text], I32),
        "ckpt_reader_view": ([P, S, ctypes.POINTER(P), ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_uint64), out_text], I32),
        "ckpt_reader_views": ([P, ctypes.POINTER(S), I64, ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_uint64), out_text], I32),
        "ckpt_reader_verify": ([P, out_text], I32),
        "ckpt_store_open": ([S, I32, ctypes.POINTER(P), out_text], I32),
        "ckpt_store_close": ([P], None),
        "ckpt_store_save": ([P, S, ctypes.POINTER(P), ctypes.POINTER(ctypes.c_uint64), I64, S, S, S, out_text, out_text], I32),
        "ckpt_store_checkout": ([P, S, ctypes.POINTER(P), out_text], I32),
        "ckpt_store_log": ([P, S, out_text, out_text], I32),
        "ckpt_store_show": ([P, S, out_text, out_text], I32),
        "ckpt_store_tag": ([P, S, S, I32, out_text, out_text], I32),
        "ckpt_store_models": ([P, out_text, out_text], I32),
        "ckpt_store_diff": ([P, S, S, out_text, out_text], I32),
    }
    for name, (args, result) in sigs.items():
        fn = getattr(lib, name)
        fn.argtypes = args
        fn.restype = result
    found = lib.ckpt_abi_version()
    if found != ABI_VERSION:
        raise ImportError(f"ckpt: the library speaks ABI {found}, this package needs {ABI_VERSION}")
    return lib


lib = _load()


def take_text(pointer):
    """The library's malloc'd UTF-8 text at ``pointer`` (a c_void_p), freed; None for NULL."""
    if not pointer.value:
        return None
    try:
        return ctypes.string_at(pointer.value).decode("utf-8")
    finally:
        lib.ckpt_free(pointer)


def call(fn, *args):
    """Calls ``fn`` with ``args`` and a message out-parameter; raises the typed error for
    a non-zero status with the library's one-line message."""
    message = ctypes.c_void_p()
    code = fn(*args, ctypes.byref(message))
    if code != 0:
        raise error_for(code, take_text(message) or f"ckpt: status {code}")


def text_of(fn, handle):
    """Calls a ``ckpt_reader_*`` entry point that returns a text; None when it returns NULL."""
    out = ctypes.c_void_p()
    call(fn, handle, ctypes.byref(out))
    return take_text(out)
