#!/usr/bin/env bash
# Benchmark: per-packet cost of the Swift receive+send path (SRTP protect + unprotect + RTP parse)
# against the same libsrtp2 calls from C, side by side in one run, and heap allocations per packet.
#   Scripts/bench-srtp.sh [ROUNDS] [PACKETS]
# Rounds alternate Swift and C so machine noise hits both alike; medians are reported.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
rounds=${1:-7}
packets=${2:-200000}

swift build -c release --product vcbridge-bench >&2
bench="$(swift build -c release --show-bin-path)/vcbridge-bench"
out=Scripts/.bench
mkdir -p "$out"
cc -O2 -o "$out/srtp_floor" Scripts/bench/srtp_floor.c $(pkg-config --cflags --libs libsrtp2) -ldl
cc -O2 -shared -fPIC -o "$out/malloc_count.so" Scripts/bench/malloc_count.c

source Scripts/bench/common.sh

echo "SRTP + RTP parse per packet: $rounds alternating rounds of $packets packets each, medians"
printf "%-8s %6s %14s %14s %8s %14s %14s %12s\n" profile bytes "swift ns/pkt" "C ns/pkt" ratio \
    "swift allocs" "C allocs" "swift extra"
status=0
for profile in cm gcm; do
    for size in 100 1200; do
        swift_times=(); c_times=()
        for ((r = 0; r < rounds; r++)); do
            swift_times+=("$("$bench" srtp --profile $profile --size $size --packets "$packets" | field ns_per_packet)")
            c_times+=("$("$out/srtp_floor" $profile $size "$packets" | field ns_per_packet)")
        done
        s=$(printf "%s\n" "${swift_times[@]}" | median)
        c=$(printf "%s\n" "${c_times[@]}" | median)
        ratio=$(awk -v s="$s" -v c="$c" 'BEGIN {printf "%.3f", s / c}')
        sa=$(LD_PRELOAD="$out/malloc_count.so" "$bench" srtp --profile $profile --size $size --packets 20000 | field allocations_per_packet)
        ca=$(LD_PRELOAD="$out/malloc_count.so" "$out/srtp_floor" $profile $size 20000 | field allocations_per_packet)
        extra=$(awk -v s="$sa" -v c="$ca" 'BEGIN {printf "%.4f", s - c}')
        printf "%-8s %6d %14.0f %14.0f %8s %14s %14s %12s\n" $profile $size "$s" "$c" "$ratio" "$sa" "$ca" "$extra"
        if [ "$profile" = cm ] && awk -v r="$ratio" 'BEGIN {exit !(r > 1.15)}'; then status=1; fi
        if awk -v e="$extra" 'BEGIN {exit !(e > 0)}'; then status=1; fi
    done
done
echo
echo "ratio = Swift median / C median (target <= 1.15 for AES_CM_128_HMAC_SHA1_80)."
echo "allocs = heap allocations per packet counted by an LD_PRELOAD malloc counter; Debian's libsrtp2"
echo "on NSS allocates inside protect/unprotect itself, so the C floor shows them too. 'swift extra'"
echo "is what the Swift path adds on top of libsrtp2's own (target 0)."
[ $status -eq 0 ] && echo "targets: met" || echo "targets: NOT met"
