#!/usr/bin/env bash
# Builds the libFuzzer targets of Tests/Fuzz/Targets (one per parser of outside bytes) and runs each for SECONDS
# (default 10), one after another. Prints per target the executions, executions per second and coverage (cov/ft of
# libFuzzer's final line) and fails on any crash, leaving the crashing input in .build/fuzz/crashes/.
#   Scripts/fuzz.sh [SECONDS]
#   VCB_FUZZ_TARGETS="rtp sdp" Scripts/fuzz.sh 600     # only these targets
#   VCB_FUZZ_RUNS=10000000 Scripts/fuzz.sh 3600          # each target until 10 million executions or an hour
#   Scripts/fuzz.sh --build-only                       # build the targets, run nothing
# How: the package's modules are compiled by SwiftPM into a build directory of their own (.build/fuzz) with
# -sanitize=fuzzer,address (Package.swift carries no sanitizer flag, so `swift build` and the tests are untouched);
# each target is Tests/Fuzz/Contract.swift + Tests/Fuzz/Targets/NAME.swift, linked by swiftc against those objects
# (`@testable import`: debug builds are compiled for testing). libFuzzer provides main. New inputs it finds go to
# .build/fuzz/corpus/NAME; the committed seeds (Tests/Fuzz/Corpus/NAME) are only read.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh

build_only=0
seconds=10
runs=${VCB_FUZZ_RUNS:--1}
[[ "$runs" =~ ^-?[0-9]+$ ]] || { echo "fuzz: VCB_FUZZ_RUNS must be a number of executions, not '$runs'" >&2; exit 64; }
case "${1:-}" in
    --build-only) build_only=1 ;;
    "") ;;
    *) [[ "$1" =~ ^[0-9]+$ ]] || { echo "usage: Scripts/fuzz.sh [SECONDS | --build-only]" >&2; exit 64; }; seconds=$1 ;;
esac

root=.build/fuzz
mkdir -p "$root/bin" "$root/corpus" "$root/crashes" "$root/logs"

echo "fuzz: building the modules with -sanitize=fuzzer,address into $root" >&2
if ! swift build --build-path "$root" --target Bridge -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=address \
        >"$root/logs/build.log" 2>&1; then
    tail -40 "$root/logs/build.log" >&2
    echo "fuzz: FAILED to build the modules (log: $root/logs/build.log)" >&2
    exit 1
fi
debug=$(swift build --build-path "$root" --show-bin-path)

# Every library module's objects in one archive (appended: two modules may have files of the same name); the
# linker takes only what a target uses.
archive=$root/libvcbridge-fuzz.a
rm -f "$archive"
find "$debug" -path '*.build/*.o' \
    ! -path '*/vcbridge.build/*' ! -path '*/vcbridge_bench.build/*' ! -path '*Tests.build/*' \
    ! -path '*/VCBridgeCLI.build/*' ! -path '*/Endpoint.build/*' ! -path '*.product/*' -print0 \
    | xargs -0 ar qcs "$archive"

# The C modules' maps and headers, as SwiftPM passes them when it compiles a module that imports them.
cflags=(-Xcc -fmodule-map-file=Sources/COpus/module.modulemap -Xcc -fmodule-map-file=Sources/CSRTP/module.modulemap
        -Xcc -fmodule-map-file=Sources/CNSS/module.modulemap -Xcc -I -Xcc Sources/CVCBShims/include)
for map in "$debug"/CVCBShims.build/module.modulemap; do [ -f "$map" ] && cflags+=(-Xcc "-fmodule-map-file=$map"); done
for pc in opus libsrtp2 nss; do
    for flag in $(pkg-config --cflags "$pc"); do cflags+=(-Xcc "$flag"); done
done
# shellcheck disable=SC2207
libs=($(pkg-config --libs opus libsrtp2 nss))

if [ -n "${VCB_FUZZ_TARGETS:-}" ]; then
    read -r -a targets <<<"$VCB_FUZZ_TARGETS"
else
    targets=()
    for f in Tests/Fuzz/Targets/*.swift; do targets+=("$(basename "$f" .swift)"); done
fi

for t in "${targets[@]}"; do
    src=Tests/Fuzz/Targets/$t.swift
    [ -f "$src" ] || { echo "fuzz: no target $t ($src)" >&2; exit 64; }
    if [ "$src" -nt "$root/bin/$t" ] || [ Tests/Fuzz/Contract.swift -nt "$root/bin/$t" ] || [ "$archive" -nt "$root/bin/$t" ]; then
        if ! swiftc -sanitize=fuzzer,address -parse-as-library -swift-version 6 -g -Onone -module-name "fuzz_$t" \
                -I "$debug/Modules" "${cflags[@]}" Tests/Fuzz/Contract.swift "$src" \
                "$archive" "${libs[@]}" -o "$root/bin/$t" >"$root/logs/$t.link.log" 2>&1; then
            cat "$root/logs/$t.link.log" >&2
            echo "fuzz: FAILED to build target $t" >&2
            exit 1
        fi
    fi
done
[ "$build_only" = 1 ] && { echo "fuzz: built ${#targets[@]} targets in $root/bin" >&2; exit 0; }

failed=()
printf '%-18s %12s %10s %8s %8s  %s\n' target executions exec/s cov ft result
for t in "${targets[@]}"; do
    mkdir -p "$root/corpus/$t"
    seeds=Tests/Fuzz/Corpus/$t
    [ -d "$seeds" ] || seeds=
    log=$root/logs/$t.log
    set +e
    # Leak checks off: the Swift runtime keeps metadata and caches for the life of the process. The Swift backtracer
    # off: ASan reports the crash, and the backtracer's reads of the stack look like an overflow to ASan.
    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 "$root/bin/$t" \
        -max_total_time="$seconds" -runs="$runs" -print_final_stats=1 -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$root/crashes/$t-" "$root/corpus/$t" ${seeds:+"$seeds"} >"$log" 2>&1
    rc=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    if [ "$rc" -eq 0 ]; then
        result=ok
    else
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        result="CRASH (exit $rc) input: ${artifact:-see $log}"
        failed+=("$t")
    fi
    printf '%-18s %12s %10s %8s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$result"
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz: crashes in: ${failed[*]} (logs in $root/logs, inputs in $root/crashes)" >&2
    for t in "${failed[@]}"; do grep -m1 -E 'Fatal error|ERROR: AddressSanitizer|ERROR: libFuzzer|contract broken' "$root/logs/$t.log" >&2 || true; done
    exit 1
fi
