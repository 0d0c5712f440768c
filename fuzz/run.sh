#!/usr/bin/env bash
# Builds and runs ckpt's libFuzzer targets (see fuzz/README.md).
#   fuzz/run.sh build                 build every target (release, -sanitize=fuzzer,address)
#   fuzz/run.sh seeds                 (re)make fuzz/seeds/<target>/ from fixtures/
#   fuzz/run.sh run TARGET [SECONDS] [LIBFUZZER ARGS...]
#                                     fuzz one target in one process, growing fuzz/corpus/<target>/;
#                                     stops at the first finding (FUZZ_KEEP_GOING=1: records it and goes on)
#   fuzz/run.sh ci [SECONDS]          build, seed, replay fuzz/crashes/, run every target SECONDS
#                                     (default 25); fails on a finding
#   fuzz/run.sh repro TARGET FILE...  run the target once on each file (a crash reproducer)
# Targets: ckpt torch safetensors numpy arch pt2.
set -euo pipefail
fuzz=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz")
targets=(ckpt torch safetensors numpy arch pt2)
bin=$fuzz/.build/release

build() {
    # libFuzzer and ASan come with the swift.org toolchain (its own clang's runtimes).
    local toolchain
    toolchain=$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")
    if ! compgen -G "$toolchain/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null ||
       ! compgen -G "$toolchain/lib/clang/*/lib/linux/libclang_rt.asan-x86_64.a" >/dev/null; then
        echo "fuzz/run.sh: the Swift toolchain at $toolchain has no libFuzzer/ASan runtime (lib/clang/*/lib/linux/libclang_rt.{fuzzer,asan}-x86_64.a); install the swift.org Linux toolchain" >&2
        exit 2
    fi
    # SwiftPM names the path dependency `..` after its folder; a checkout folder called `fuzz`
    # would collide with this package's own name, so such a checkout is built from a copy.
    local source=$root
    if [ "$(basename "$root")" = fuzz ]; then
        source=${TMPDIR:-/tmp}/ckpt-fuzz-source/ckpt
        rm -rf "$source" && mkdir -p "$source"
        tar -C "$root" --exclude='./.build*' --exclude=./fuzz/.build --exclude=./fuzz/corpus --exclude=./fuzz/seeds \
            --exclude=./fuzz/artifacts --exclude=./.git -cf - . | tar -C "$source" -xf -
    fi
    # `--sanitize=fuzzer` makes SwiftPM hand the entry point to libFuzzer's main; the driver
    # keeps only the last -sanitize= it is given, so both sanitizers go in one -Xswiftc flag.
    swift build -c release --package-path "$source/fuzz" --scratch-path "$fuzz/.build" \
        --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address -Xswiftc -g "$@"
}

seeds() { bash "$fuzz/make-seeds.sh"; }

# One fuzzing process at a time: the machines it runs on are shared. Plain libFuzzer is one
# process; FUZZ_KEEP_GOING=1 uses -fork=1 (a parent and one child at a time), which saves
# each finding under fuzz/artifacts/<target>/ and goes on fuzzing, for long runs over known bugs.
run() {
    local target=$1 seconds=${2:-60}
    shift $(( $# >= 2 ? 2 : 1 ))
    [ -x "$bin/fuzz-$target" ] || { echo "fuzz/run.sh: fuzz-$target is not built (run: fuzz/run.sh build)" >&2; exit 2; }
    [ -d "$fuzz/seeds/$target" ] || seeds
    mkdir -p "$fuzz/corpus/$target" "$fuzz/artifacts/$target"
    # The Swift runtime's own crash handler would trip ASan; libFuzzer reports traps itself.
    SWIFT_BACKTRACE=enable=no OPENBLAS_NUM_THREADS=1 \
    local mode=()
    if [ -n "${FUZZ_KEEP_GOING:-}" ]; then mode=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1); fi
    # Tokens random mutation rarely writes (JSON keys, pickle globals, sizes that overflow).
    case $target in
        ckpt|safetensors|arch|pt2) mode+=(-dict="$fuzz/dict/json.dict") ;;
        torch|numpy) mode+=(-dict="$fuzz/dict/$target.dict") ;;
    esac
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1:handle_sigill=1:handle_abort=1} \
        "$bin/fuzz-$target" "${mode[@]}" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$fuzz/artifacts/$target/" "$@" "$fuzz/corpus/$target" "$fuzz/seeds/$target"
}

repro() {
    local target=$1; shift
    SWIFT_BACKTRACE=enable=no OPENBLAS_NUM_THREADS=1 ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:handle_sigill=1:handle_abort=1} \
        "$bin/fuzz-$target" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 "$@"
}

case "${1:-}" in
    build) shift; build "$@" ;;
    seeds) seeds ;;
    run) shift; run "$@" ;;
    repro) shift; repro "$@" ;;
    ci)
        seconds=${2:-25}
        build
        seeds
        failed=()
        for target in "${targets[@]}"; do
            # The reproducers of fixed findings must stay fixed.
            if compgen -G "$fuzz/crashes/$target/*" >/dev/null; then
                echo "== fuzz-$target on fuzz/crashes/$target/"
                if ! repro "$target" "$fuzz/crashes/$target"/* 2>&1 | tail -25; then failed+=("$target (a reproducer)"); fi
            fi
            echo "== fuzz-$target, $seconds s"
            if ! run "$target" "$seconds" 2>&1 | tail -25; then failed+=("$target"); fi
        done
        if [ ${#failed[@]} -gt 0 ]; then
            echo "fuzzing found problems in: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
            exit 1
        fi
        ;;
    *) sed -n '2,10p' "$0" >&2; exit 2 ;;
esac
