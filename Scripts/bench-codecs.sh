#!/usr/bin/env bash
# Benchmark: per-20 ms-frame cost of the room-system codecs at 48 kHz (VoiceCodecs: G.722 and PCMU,
# with the 48 kHz <-> 16/8 kHz conversion) next to Opus (complexity 9, 48 kb/s), and heap allocations
# per frame on each path.
#   Scripts/bench-codecs.sh [ROUNDS] [FRAMES]
# Each round times FRAMES frames of every codec, one frame at a time (median per round); the medians
# of the rounds are reported. Target: no allocation per frame in the VoiceCodecs paths.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
rounds=${1:-7}
frames=${2:-2000}

swift build -c release --product vcbridge-bench >&2
bench="$(swift build -c release --show-bin-path)/vcbridge-bench"
out=Scripts/.bench
mkdir -p "$out"
cc -O2 -shared -fPIC -o "$out/malloc_count.so" Scripts/bench/malloc_count.c

source Scripts/bench/common.sh

lines=()
for ((r = 0; r < rounds; r++)); do
    lines+=("$("$bench" codecs --frames "$frames")")
done
allocs=$(LD_PRELOAD="$out/malloc_count.so" "$bench" codecs --frames 500)

med() { printf "%s\n" "${lines[@]}" | while read -r line; do echo "$line" | field "$1"; done | median; }
ge=$(med g722_encode_ns); gd=$(med g722_decode_ns)
ue=$(med pcmu_encode_ns); ud=$(med pcmu_decode_ns)
oe=$(med opus_encode_ns); od=$(med opus_decode_ns)

echo "Per 20 ms frame at 48 kHz, median of $rounds rounds of $frames frames (each frame timed alone)"
printf "%-34s %10s %12s %14s\n" path "ns/frame" "vs Opus" "allocs/frame"
row() {  # label ns opus_ns allocs_field
    printf "%-34s %10.0f %12s %14s\n" "$1" "$2" "$(awk -v a="$2" -v b="$3" 'BEGIN {printf "%.3f", a / b}')" \
        "$(echo "$allocs" | field "$4")"
}
row "G.722 encode (48k->16k + G.722)" "$ge" "$oe" g722_encode_allocs
row "G.722 decode (G.722 + 16k->48k)" "$gd" "$od" g722_decode_allocs
row "PCMU encode (48k->8k + mu-law)" "$ue" "$oe" pcmu_encode_allocs
row "PCMU decode (mu-law + 8k->48k)" "$ud" "$od" pcmu_decode_allocs
row "Opus encode (complexity 9, 48 kb/s)" "$oe" "$oe" opus_encode_allocs
row "Opus decode" "$od" "$od" opus_decode_allocs
echo
echo "vs Opus = this path's median / Opus's median in the same direction (encode vs encode, decode vs decode)."
status=0
for f in g722_encode_allocs g722_decode_allocs pcmu_encode_allocs pcmu_decode_allocs; do
    v=$(echo "$allocs" | field $f)
    awk -v v="$v" 'BEGIN {exit !(v > 0)}' && status=1
done
[ $status -eq 0 ] && echo "targets: met (no allocation per frame in VoiceCodecs)" || echo "targets: NOT met (VoiceCodecs allocates per frame)"
