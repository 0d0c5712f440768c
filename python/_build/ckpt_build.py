"""A PEP 517 backend with no dependencies: builds the Swift library and writes the wheel.

The wheel holds the `ckpt` package and libCkptABI.so built with `-static-stdlib` (the
Swift runtime and Foundation linked in), so it needs no Swift toolchain at run time; it
does need Debian's libzstd1 and libxxhash0 (the library links them dynamically), plus
glibc and libstdc++. Environment:
  CKPT_SWIFT_PACKAGE      the Swift package root (default: the parent of python/)
  CKPT_PREBUILT_LIBRARY   a libCkptABI.so to package instead of building one
  CKPT_ABI_SCRATCH        the build folder (default: .build-abi in the package root)
  SWIFT                   the swift driver (default: `swift` on PATH)
"""
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

NAME, VERSION = "ckpt", "0.1.0"
HERE = Path(__file__).resolve().parent.parent  # python/
METADATA = f"""Metadata-Version: 2.1
Name: {NAME}
Version: {VERSION}
Summary: Neural-network checkpoints (.ckpt) from Python over the ckpt Swift library
Requires-Python: >=3.9
Requires-Dist: numpy
Provides-Extra: torch
Requires-Dist: torch; extra == "torch"
"""


def _tag():
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"py3-none-{platform}"


def _library():
    prebuilt = os.environ.get("CKPT_PREBUILT_LIBRARY")
    if prebuilt:
        return Path(prebuilt)
    root = Path(os.environ.get("CKPT_SWIFT_PACKAGE", HERE.parent))
    if not (root / "Package.swift").exists():
        raise RuntimeError(f"ckpt: no Package.swift at {root}; set CKPT_SWIFT_PACKAGE or CKPT_PREBUILT_LIBRARY")
    swift = os.environ.get("SWIFT", "swift")
    # A scratch path of its own: the static-stdlib flag would otherwise invalidate (and
    # rebuild) the release build of the ckpt binary in .build, and that build this one.
    scratch = os.environ.get("CKPT_ABI_SCRATCH", str(root / ".build-abi"))
    command = [swift, "build", "-c", "release", "--product", "CkptABI", "-Xswiftc", "-static-stdlib", "--scratch-path", scratch]
    print("ckpt: " + " ".join(command), file=sys.stderr)
    subprocess.run(command, cwd=root, check=True, stdout=sys.stderr)
    out = subprocess.run(command + ["--show-bin-path"], cwd=root, check=True, capture_output=True, text=True).stdout.strip()
    return Path(out) / "libCkptABI.so"


def _stripped(library):
    """The library's bytes without symbols for debuggers (79 -> 60 MB; most of the rest is
    the statically linked Foundation and its ICU data), when `strip` is there."""
    strip = shutil.which("strip")
    if not strip:
        return library.read_bytes()
    with tempfile.TemporaryDirectory() as work:
        copy = Path(work) / library.name
        shutil.copyfile(library, copy)
        subprocess.run([strip, "--strip-unneeded", str(copy)], check=True)
        return copy.read_bytes()


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def _dist_info(directory):
    info = Path(directory) / f"{NAME}-{VERSION}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(METADATA)
    (info / "WHEEL").write_text(f"Wheel-Version: 1.0\nGenerator: ckpt_build\nRoot-Is-Purelib: false\nTag: {_tag()}\n")
    return info.name


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    return _dist_info(metadata_directory)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    library = _library()
    files = {}
    for source in sorted((HERE / NAME).rglob("*.py")):
        files[f"{NAME}/{source.relative_to(HERE / NAME).as_posix()}"] = source.read_bytes()
    files[f"{NAME}/libCkptABI.so"] = _stripped(library)
    info = f"{NAME}-{VERSION}.dist-info"
    files[f"{info}/METADATA"] = METADATA.encode()
    files[f"{info}/WHEEL"] = f"Wheel-Version: 1.0\nGenerator: ckpt_build\nRoot-Is-Purelib: false\nTag: {_tag()}\n".encode()
    wheel_name = f"{NAME}-{VERSION}-{_tag()}.whl"
    path = Path(wheel_directory) / wheel_name
    record = [_record_line(name, data) for name, data in files.items()] + [f"{info}/RECORD,,"]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files.items():
            mode = 0o755 if name.endswith(".so") else 0o644
            entry = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            entry.external_attr = (0o100000 | mode) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(entry, data)
        wheel.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return wheel_name


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_sdist(sdist_directory, config_settings=None):
    raise RuntimeError("ckpt: no sdist; build a wheel from the repository (pip wheel ./python)")
