#!/usr/bin/env bash
# The Python package's tests (python/tests) against this checkout: builds the C ABI library
# (debug, like `swift test`) and the ckpt binary the end-to-end tests drive, then runs
# pytest with the venv's interpreter (scripts/python-env.sh), the package from python/ and
# the library from the build (CKPT_LIBRARY). Arguments go to pytest (.ci/run passes
# --junitxml to count the results).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${CKPT_TORCH_PYTHON:-$(bash scripts/python-env.sh)}
swift build --product CkptABI >&2
swift build --product ckpt >&2
bin=$(swift build --show-bin-path)
export CKPT_LIBRARY="$bin/libCkptABI.so" CKPT_BINARY="$bin/ckpt"
export PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}"
exec "$python" -m pytest python/tests -q -p no:cacheprovider "$@"
