#!/usr/bin/env bash
# Fuzzes Kiln's untrusted-input parsers with libFuzzer (see docs/fuzzing.md).
#
#   bash scripts/fuzz.sh [MINUTES]   build, then run every target for MINUTES each (default 10), one after another
#   bash scripts/fuzz.sh --ci        debug build, then replay each target's corpus plus a fixed number of new
#                                    inputs (fixed seed); exits non-zero on any crash, leak, timeout or OOM.
#                                    scripts/test.sh (and so CI) ends with this.
#
# KILN_FUZZ_TARGETS="tar zip" limits the run to those targets. Seeds are read from fixtures/fuzz/<target>/
# (regressions/ included) and copied to a working corpus under /tmp; nothing is ever written into fixtures/.
# Needs only the Swift toolchain (its libFuzzer and AddressSanitizer).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODE=run
MINUTES=10
case "${1:-}" in
    --ci) MODE=ci ;;
    "") ;;
    *[!0-9]*|0) echo "usage: bash scripts/fuzz.sh [MINUTES | --ci]" >&2; exit 2 ;;
    *) MINUTES=$1 ;;
esac

# Target → -max_len (bytes), in step with FuzzTarget.maxLength.
ALL_TARGETS="tar zip repodata conda-spec pep508 requirements challenge reference oci-json inference-config yaml simple-index dockerfile pyproject sdist"
max_len() {
    case "$1" in
        tar|zip|sdist) echo 65536 ;;
        repodata) echo 32768 ;;
        conda-spec|pep508|challenge|reference) echo 1024 ;;
        *) echo 16384 ;;
    esac
}
# --ci: new inputs per target after the corpus; the slow, file-based targets get fewer (a few minutes in all).
ci_runs() {
    if [ -n "${KILN_FUZZ_CI_RUNS:-}" ]; then echo "$KILN_FUZZ_CI_RUNS"; return; fi
    case "$1" in
        tar|repodata|simple-index|yaml|inference-config|sdist) echo 2000 ;;
        zip) echo 5000 ;;
        *) echo 20000 ;;
    esac
}
TARGETS=${KILN_FUZZ_TARGETS:-$ALL_TARGETS}

# libFuzzer ships with swift.org toolchains; say so in one line if this one lacks it.
PROBE=$(mktemp -d /tmp/kiln-fuzz-probe.XXXXXX)
trap 'rm -rf "$PROBE"' EXIT
printf '@_cdecl("LLVMFuzzerTestOneInput") public func f(_ d: UnsafeRawPointer, _ n: Int) -> CInt { 0 }\n' > "$PROBE/probe.swift"
if ! swiftc -sanitize=fuzzer,address -parse-as-library "$PROBE/probe.swift" -o "$PROBE/probe" >"$PROBE/log" 2>&1; then
    echo "fuzz.sh: this Swift toolchain cannot link -sanitize=fuzzer (no libFuzzer); use a swift.org Linux toolchain" >&2
    exit 1
fi

# Long runs use release builds (more executions a second). --ci uses a debug build: it is cold in every CI
# run, builds in about 10 minutes where release takes about 30, and a short replay needs no speed.
CONFIG=release
if [ "$MODE" = ci ]; then CONFIG=debug; fi
echo "== building fuzzers (Fuzz/.build, $CONFIG, -sanitize=fuzzer,address)"
BUILD=(swift build --package-path "$ROOT/Fuzz" -c "$CONFIG" -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)
nice -n 10 "${BUILD[@]}" 2>&1 | grep -vE "warning: |^ *(/|\\|)|^$" || true
test "${PIPESTATUS[0]}" -eq 0 || { echo "fuzz.sh: the fuzzers did not build" >&2; exit 1; }
BIN=$("${BUILD[@]}" --show-bin-path)

WORK=$(mktemp -d /tmp/kiln-fuzz.XXXXXX)
mkdir -p "$WORK/scratch"
# The fuzz targets that parse files write them here (see Sources/Fuzzing/Support.swift).
export KILN_FUZZ_SCRATCH="$WORK/scratch"
# Swift's backtracer would stall every crash (and -minimize_crash); libFuzzer reports them itself.
export SWIFT_BACKTRACE=enable=no
# FileManager.contents(atPath:) in swift-foundation leaks its read buffer for small files (upstream, not
# Kiln); every file-reading parser goes through it, so that one frame is suppressed.
printf 'leak:readBytesFromFile\n' > "$WORK/lsan.supp"
export LSAN_OPTIONS="suppressions=$WORK/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
echo "== working directory $WORK (corpus/, artifacts/, logs/)"

FAILED=()
printf '%-18s %12s %8s %8s %9s %8s %8s\n' target executions exec/s cov new-units corpus findings > "$WORK/summary.txt"
for target in $TARGETS; do
    seeds="$ROOT/fixtures/fuzz/$target"
    corpus="$WORK/corpus/$target"
    artifacts="$WORK/artifacts/$target"
    log="$WORK/logs/$target.log"
    mkdir -p "$corpus" "$artifacts" "$WORK/logs"
    # Flatten seeds and regressions into the writable working corpus.
    if [ -d "$seeds" ]; then find "$seeds" -type f -exec cp {} "$corpus/" \;; fi
    args=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len="$(max_len "$target")"
          -artifact_prefix="$artifacts/" -print_final_stats=1 -close_fd_mask=1)
    if [ "$MODE" = ci ]; then
        args+=(-runs="$(ci_runs "$target")" -seed=1)
        echo "== $target: corpus + $(ci_runs "$target") inputs (seed 1)"
    else
        args+=(-max_total_time=$((MINUTES * 60)))
        echo "== $target: $MINUTES min"
    fi
    status=0
    nice -n 10 "$BIN/fuzz-$target" "${args[@]}" "$corpus" >"$log" 2>&1 || status=$?
    stat() { grep -E "^stat::$1:" "$log" | awk '{print $2}' | tail -1; }
    runs=$(stat number_of_executed_units); speed=$(stat average_exec_per_sec); added=$(stat new_units_added)
    cov=$(grep -oE "cov: [0-9]+" "$log" | tail -1 | awk '{print $2}')
    after=$(find "$corpus" -type f | wc -l)
    findings=$(find "$artifacts" -type f | wc -l)
    printf '%-18s %12s %8s %8s %9s %8s %8s\n' "$target" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${added:-?}" "$after" "$findings" | tee -a "$WORK/summary.txt"
    if [ "$status" -ne 0 ] || [ "$findings" -ne 0 ]; then
        FAILED+=("$target")
        echo "   $target FAILED (exit $status): see $log and $artifacts" >&2
        grep -m3 -E "ERROR: |SUMMARY: |Fatal error|ALARM|out-of-memory" "$log" >&2 || true
    fi
done

echo
cat "$WORK/summary.txt"
rm -rf "$WORK/scratch"
if [ "${#FAILED[@]}" -ne 0 ]; then
    echo "fuzz.sh: findings in ${FAILED[*]} (reproducers under $WORK/artifacts)" >&2
    exit 1
fi
