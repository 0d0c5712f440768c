"""Typed exceptions: one class per status code of the C ABI (spec/ABI.md, "Codes").

Every exception carries ``code`` (the ABI's number, or None for a refusal made in Python
before the library is called) and ``message`` (the library's one-line message, which names
the file). Catch ``CkptError`` for all of them; match on the class, never on the text.
"""


class CkptError(Exception):
    """Base of every error this package raises."""

    code = None

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def __str__(self):
        return self.message


class FileError(CkptError, OSError):
    """The system refused an operation on a path (code 1): missing file, no permission."""

    code = 1


class NotFoundError(CkptError, KeyError):
    """Nothing of that kind has that name (code 2): an unknown tensor."""

    code = 2


class ChecksumError(CkptError):
    """Stored bytes do not match their checksum (code 3): the file is corrupt."""

    code = 3


class TruncatedError(CkptError):
    """The file ends early (code 4)."""

    code = 4


class MalformedError(CkptError):
    """A structural rule of the format is broken (code 5)."""

    code = 5


class InvalidValueError(CkptError, ValueError):
    """A value is not what is allowed (code 6): a wrong shape, a duplicate name."""

    code = 6


class LimitError(CkptError):
    """A bound of the reader is exceeded (code 7)."""

    code = 7


class OutOfMemoryError(CkptError, MemoryError):
    """The memory budget or the system refused an allocation (code 8)."""

    code = 8


class UnsupportedError(CkptError):
    """A version or dtype this library (or the chosen framework) cannot handle (code 9).

    Raised by ``framework='numpy'`` for bfloat16 and the 8-bit floats, which numpy has no
    dtype for: load those with ``framework='torch'``.
    """

    code = 9


class UnrecognisedFileError(CkptError):
    """Not a ``.ckpt`` (code 10)."""

    code = 10


class RefusedError(CkptError):
    """Understood and refused on purpose (code 11)."""

    code = 11


class ArgumentError(CkptError):
    """The ABI's contract was broken (code 12): a bug in this package, please report it."""

    code = 12


class InternalError(CkptError):
    """Any other failure inside the library (code 13)."""

    code = 13


class StoreError(CkptError):
    """The store refused or failed (code 14): no store there, a bad model or tag name, a
    tag already taken, a damaged object."""

    code = 14


class UnknownReferenceError(CkptError, KeyError):
    """A store reference (``name@3``, a tag, a hash prefix) that names no version (code 15)."""

    code = 15


class UnsupportedValueError(CkptError, TypeError):
    """``save`` met a value it cannot store exactly (a class instance, a set, an int key
    beyond 64 bits); the message names its path. Raised before anything is written."""

    code = None


_BY_CODE = {cls.code: cls for cls in (
    FileError, NotFoundError, ChecksumError, TruncatedError, MalformedError, InvalidValueError, LimitError,
    OutOfMemoryError, UnsupportedError, UnrecognisedFileError, RefusedError, ArgumentError, InternalError, StoreError,
    UnknownReferenceError)}


def error_for(code, message):
    """The exception for an ABI status ``code`` (unknown codes become ``InternalError``)."""
    cls = _BY_CODE.get(code, InternalError)
    return cls(message)
