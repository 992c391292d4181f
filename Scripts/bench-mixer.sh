#!/usr/bin/env bash
# Benchmark: the mixer's 20 ms tick for a 147-site meeting with 3 talkers, all on Opus, against the
# same meeting with 40 sites on G.722 (room systems; one of the talkers among them): the mixer keeps
# one shared encode per codec in use and a G.722 talker's mix-minus in its own codec, so the second
# meeting costs one G.722 shared encode more per tick (a G.722 talker's encode replaces an Opus one).
# No sockets: `vcbridge-bench mixer` runs AudioMixer as the media thread does (talker inputs, mix,
# every participant's payload). Decoding a G.722 talker is in Scripts/bench-codecs.sh.
#   Scripts/bench-mixer.sh [ROUNDS] [TICKS] [G722_SITES]
# Target: no allocation per tick on either path.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
rounds=${1:-7}
ticks=${2:-2000}
g722=${3:-40}

swift build -c release --product vcbridge-bench >&2
bench="$(swift build -c release --show-bin-path)/vcbridge-bench"
out=Scripts/.bench
mkdir -p "$out"
cc -O2 -shared -fPIC -o "$out/malloc_count.so" Scripts/bench/malloc_count.c
source Scripts/bench/common.sh

opus=(); mixed=()
for ((r = 0; r < rounds; r++)); do
    opus+=("$("$bench" mixer --sites 147 --talkers 3 --g722 0 --ticks "$ticks")")
    mixed+=("$("$bench" mixer --sites 147 --talkers 3 --g722 "$g722" --ticks "$ticks")")
done
med() { local name=$1; shift; printf "%s\n" "$@" | while read -r line; do echo "$line" | field "$name"; done | median; }
o=$(med tick_ns "${opus[@]}"); m=$(med tick_ns "${mixed[@]}")
op=$(med tick_p99_ns "${opus[@]}"); mp=$(med tick_p99_ns "${mixed[@]}")
oa=$(LD_PRELOAD="$out/malloc_count.so" "$bench" mixer --sites 147 --talkers 3 --g722 0 --ticks 500)
ma=$(LD_PRELOAD="$out/malloc_count.so" "$bench" mixer --sites 147 --talkers 3 --g722 "$g722" --ticks 500)

echo "Mixer tick, 147 sites, 3 talkers; median of $rounds rounds of $ticks ticks"
printf "%-28s %12s %12s %10s %16s %14s\n" meeting "ns/tick p50" "ns/tick p99" encodes "% of 20 ms (p50)" "allocs/tick"
row() {  # label p50 p99 preloaded-line
    printf "%-28s %12.0f %12.0f %10s %16s %14s\n" "$1" "$2" "$3" "$(echo "$4" | field encodes_per_tick)" \
        "$(awk -v a="$2" 'BEGIN {printf "%.2f", a / 200000}')" "$(echo "$4" | field allocations_per_tick)"
}
row "all Opus" "$o" "$op" "$oa"
row "$g722 sites on G.722" "$m" "$mp" "$ma"
echo "G.722 meeting / all-Opus meeting (p50): $(awk -v a="$m" -v b="$o" 'BEGIN {printf "%.3f", a / b}')"
status=0
for a in "$oa" "$ma"; do
    v=$(echo "$a" | field allocations_per_tick)
    [ "$v" = n/a ] && status=1
    awk -v v="$v" 'BEGIN {exit !(v > 0)}' && status=1
done
[ $status -eq 0 ] && echo "targets: met (no allocation per tick)" || echo "targets: NOT met (the mixer allocates per tick)"
