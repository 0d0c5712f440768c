#!/usr/bin/env bash
# Which BLAS kernels the CPU engine runs, and what that costs: MLP 1024-4096-4096-1024 at
# batch 256, forward, through ckpt (`ckpt bench engine`) with the kernels ckpt chooses
# (from the CPU's flags when OpenBLAS's own detection falls back) and with OpenBLAS's own
# pick forced, beside torch eager and the bare cblas_sgemm of OpenBLAS's cores and of BLIS,
# all in one run on this machine.
# Usage: bench/engine/blas.sh [SECONDS_PER_CASE] [BLIS_LIBRARY]
#   BLIS_LIBRARY: a libblis.so.4 with the cblas interface (Debian's libblis4-pthread:
#   `apt-get download libblis4-pthread && dpkg-deb -x libblis4-pthread_*.deb root` gives
#   root/usr/lib/x86_64-linux-gnu/blis-pthread/libblis.so.4 without installing it).
# Peers run in $BENCH_VENV (see bench/common.sh); torch and numpy must be there.
source "$(dirname "$0")/../common.sh"
seconds="${1:-1}"
blis="${2:-}"
bench_require numpy torch
bench_build
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "$("$ckpt" devices | head -1)"
# The marker alone stops the re-exec, so this process runs what the library picks itself.
library=$(CKPT_OPENBLAS_LIBRARY_CORE=none "$ckpt" devices --json | "$python" -c 'import json,sys; print(json.load(sys.stdin)["cpu"]["core"])')
chosen=$("$ckpt" devices --json | "$python" -c 'import json,sys; print(json.load(sys.stdin)["cpu"]["core"])')
echo "OpenBLAS's own pick: $library; ckpt runs: $chosen"
"$ckpt" bench engine --json --seconds "$seconds" >"$work/chosen.json"
OPENBLAS_CORETYPE="$library" "$ckpt" bench engine --json --seconds "$seconds" >"$work/library.json"
openblas=$(ldconfig -p | awk '/libopenblas.so.0 /{print $NF; exit}')
libs=(--lib "OpenBLAS $library=$openblas:OPENBLAS_CORETYPE=$library")
[ "$chosen" = "$library" ] || libs+=(--lib "OpenBLAS $chosen=$openblas:OPENBLAS_CORETYPE=$chosen")
[ -z "$blis" ] || libs+=(--lib "BLIS=$blis")
"$python" bench/engine/blas.py --seconds "$seconds" --ckpt "$chosen kernels (ckpt's choice)=$work/chosen.json" \
    --ckpt "$library kernels (OpenBLAS's own pick)=$work/library.json" "${libs[@]}"
