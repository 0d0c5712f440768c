#!/usr/bin/env bash
# The README's test command: every Swift test (swift test), then the Python package's
# tests (scripts/pytest.sh). Exits non-zero if either failed; both always run.
set -uo pipefail
cd "$(dirname "$0")/.."
CKPT_TORCH_PYTHON=${CKPT_TORCH_PYTHON:-$(bash scripts/python-env.sh)}
export CKPT_TORCH_PYTHON
swift test
swift_status=$?
bash scripts/pytest.sh
python_status=$?
[ "$swift_status" -eq 0 ] && [ "$python_status" -eq 0 ]
