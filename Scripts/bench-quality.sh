#!/usr/bin/env bash
# Benchmark: speech quality through the bridge, PESQ-WB, against the floor of the same sender's
# packets decoded straight by libopus with an ideal buffer, from the same impaired packet sequence.
#   Scripts/bench-quality.sh [SEED]          (STRETCH=1 Scripts/bench-quality.sh: with bridge.timeStretch on)
# One site (song-lo) speaks a Vietnamese recording (espeak-ng) through the seeded impairment relay
# (uplink impaired); another (lang-cong) records the bridge's mix. Profiles: clean; 5 % random loss
# with delay N(40 ms, 20 ms); bursty loss (Gilbert-Elliott, 5 %, mean burst 3) with the same delay.
# Mouth-to-ear delay from the dumped packets' times (`vcbridge-bench mouth-to-ear`). Targets: clean within 0.1 of the
# floor and at most 50 ms mouth-to-ear; 5 % + jitter within 0.15, at most 140 ms (median) and no step over 40 ms
# between consecutive seconds; bursty within 0.15 of the floor.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
source Scripts/bench/common.sh
seed=${1:-7}
vcb_apt_install espeak-ng python3 python3-pip
python3 -c "import pesq, numpy, scipy" 2>/dev/null || python3 -m pip install --quiet pesq numpy scipy >&2
swift build -c release --product vcbridge >&2
swift build -c release --product vcbridge-bench >&2
bin="$(swift build -c release --show-bin-path)"
bridge_workspace bench-quality bench

seconds=$(speech_sample "$data/speech.wav")
"$bin/vcbridge" meeting book --title "Benchmark: chất lượng" --host song-lo --scope lang-cong --start now --duration 1h >&2
"$bin/vcbridge" site key song-lo --out "$data/song-lo.key" > /dev/null
"$bin/vcbridge" site key lang-cong --out "$data/lang-cong.key" > /dev/null
# STRETCH=1: the bridge time-stretches talkers' speech (bridge.timeStretch).
if [ -n "${STRETCH:-}" ]; then
    echo '{"bridge": {"timeStretch": true}}' > "$data/settings.json"
    export VCBRIDGE_CONFIG="$data/settings.json"
fi
start_bridge "$bin/vcbridge" "$data/bridge.log"

run_profile() {  # name, relay options...
    local name=$1; shift
    local dir="$data/$name"; mkdir -p "$dir"
    "$bin/vcbridge" relay --listen 127.0.0.1:0 --to "$media" --seed "$seed" --uplink-only --duration "$((seconds + 8))s" \
        --fate-log "$dir/fate.txt" "$@" > "$dir/relay.out" 2> "$dir/relay.err" &
    local relay=$!
    for _ in $(seq 1 50); do grep -q listening "$dir/relay.err" && break; sleep 0.1; done
    local via; via=$(sed -n 's/.*listening on \([^,]*\),.*/\1/p' "$dir/relay.err")
    "$bin/vcbridge" endpoint --key-file "$data/lang-cong.key" --bridge "$signaling" --silent --record "$dir/heard.wav" --dump-heard "$dir/heard.txt" \
        --duration "$((seconds + 4))s" > "$dir/listener.out" 2>&1 &
    local listener=$!
    sleep 0.5
    "$bin/vcbridge" endpoint --key-file "$data/song-lo.key" --bridge "$signaling" --wav "$data/speech.wav" --media-via "$via" \
        --dump-sent "$dir/sent.txt" --duration "$((seconds + 2))s" > "$dir/talker.out" 2>&1 &
    local talker=$!
    sleep 3
    local buffer; buffer=$("$bin/vcbridge" status --json | python3 -c "import json,sys; s=[x for x in json.load(sys.stdin)['sites'] if x['site']=='song-lo']; print(s[0]['jitterBufferDelayMs'] if s else -1)")
    sleep $((seconds - 3))
    local stretch; stretch=$("$bin/vcbridge" status --json | python3 -c "import json,sys; s=[x for x in json.load(sys.stdin)['sites'] if x['site']=='song-lo']; print('%d/%d %d/%d %d/%d' % (s[0]['removedSamplesForAcceleration'] // 48, s[0]['insertedSamplesForDeceleration'] // 48, s[0]['framesDroppedInPauses'], s[0]['framesInsertedInPauses'], s[0]['late'], s[0]['concealed']) if s else '-')")
    wait "$talker" "$listener"
    wait "$relay" || true
    "$bin/vcbridge-bench" opus-floor --sent "$dir/sent.txt" --fate "$dir/fate.txt" --out "$dir/floor.wav" > "$dir/floor.out"
    "$bin/vcbridge-bench" mouth-to-ear --sent "$dir/sent.txt" --heard "$dir/heard.txt" --series "$dir/delay-series.txt" > "$dir/delay.out"
    local m2e p95 step
    m2e=$(sed 's/.*mouth_to_ear_median_ms=\([^ ]*\).*/\1/' "$dir/delay.out")
    p95=$(sed 's/.*p95_ms=\([^ ]*\).*/\1/' "$dir/delay.out")
    step=$(sed 's/.*largest_step_ms=\([^ ]*\).*/\1/' "$dir/delay.out")
    local scores; scores=$(python3 Scripts/bench/pesq_eval.py "$data/speech.wav" "$dir/floor.wav" "$dir/heard.wav")
    local floor bridged
    floor=$(echo "$scores" | sed -n 1p | sed 's/.*pesq=\([^ ]*\).*/\1/')
    bridged=$(echo "$scores" | sed -n 2p | sed 's/.*pesq=\([^ ]*\).*/\1/')
    printf "%-26s %7s %7s %7s %9s %8s %8s %8s %19s   %s\n" "$name" "$floor" "$bridged" "$(python3 -c "print(f'{$bridged-$floor:+.2f}')")" \
        "$buffer" "$m2e" "$p95" "$step" "$stretch" "$(cat "$dir/floor.out")"
    echo "$name $floor $bridged $m2e $p95 $step" >> "$data/results.txt"
}

printf "\n%-26s %7s %7s %7s %9s %8s %8s %8s %19s   %s\n" "profile (seed $seed)" "floor" "bridge" "delta" "buffer" "m2e p50" "m2e p95" "max step" "stretch" "floor decode"
run_profile clean
run_profile loss5-jitter40x20 --loss 5 --delay 40 --jitter 20
run_profile bursty5-jitter40x20 --loss 5 --burst 3 --delay 40 --jitter 20
echo
echo "floor: the talker's own packets after the same impairment, decoded by libopus with an ideal buffer (FEC, PLC)."
echo "buffer: the talker's jitter-buffer delay in the bridge 3 s in (ms). m2e: mouth-to-ear (ms), the talker's packet leaving"
echo "to the bridge's packet with the same sound arriving at the listener, over every heard frame (network, buffer, tick,"
echo "encoder); max step: the largest change of the per-second median between consecutive seconds (ms). stretch: ms"
echo "removed/inserted in speech by time-stretching, whole frames dropped/inserted in pauses, packets late/frames concealed"
echo "by the bridge for the talker (at the end of speech)."
python3 - "$data/results.txt" <<'PY'
import sys
r = {l.split()[0]: [float(x) for x in l.split()[1:]] for l in open(sys.argv[1])}
clean, jittery, bursty = r["clean"], r["loss5-jitter40x20"], r["bursty5-jitter40x20"]
checks = [
    ("clean: PESQ within 0.1 of the floor", clean[1] >= clean[0] - 0.1),
    ("clean: mouth-to-ear median <= 50 ms", clean[2] <= 50),
    ("5 % + N(40, 20): PESQ within 0.15 of the floor", jittery[1] >= jittery[0] - 0.15),
    ("5 % + N(40, 20): mouth-to-ear median <= 140 ms", jittery[2] <= 140),
    ("5 % + N(40, 20): no step over 40 ms between consecutive seconds", jittery[4] <= 40),
    ("bursty: PESQ within 0.15 of the floor", bursty[1] >= bursty[0] - 0.15),
]
for name, ok in checks:
    print(f"  {'met' if ok else 'NOT met'}: {name}")
print("targets:", "met" if all(ok for _, ok in checks) else "NOT met")
PY
