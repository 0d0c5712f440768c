"""ckpt from Python: ``save``, ``load``, ``safe_open`` and ``Store`` over the Swift
library's C ABI (spec/ABI.md). torch is optional, numpy required."""
from ._api import load, safe_open, save
from ._store import Store, Version
from .errors import (ArgumentError, ChecksumError, CkptError, FileError, InternalError, InvalidValueError, LimitError,
                     MalformedError, NotFoundError, OutOfMemoryError, RefusedError, TruncatedError, UnrecognisedFileError,
                     StoreError, UnknownReferenceError, UnsupportedError, UnsupportedValueError)

__version__ = "0.1.0"

__all__ = ["save", "load", "safe_open", "Store", "Version", "StoreError", "UnknownReferenceError", "CkptError", "FileError", "NotFoundError", "ChecksumError", "TruncatedError",
           "MalformedError", "InvalidValueError", "LimitError", "OutOfMemoryError", "UnsupportedError",
           "UnrecognisedFileError", "RefusedError", "ArgumentError", "InternalError", "UnsupportedValueError"]
