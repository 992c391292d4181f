#!/usr/bin/env bash
# Benchmark: speech quality through the bridge, PESQ-WB, against the floor of the same sender's
# packets decoded straight by libopus with an ideal buffer, from the same impaired packet sequence.
#   Scripts/bench-quality.sh [SEED]
# One site (song-lo) speaks a Vietnamese recording (espeak-ng) through the seeded impairment relay
# (uplink impaired); another (lang-cong) records the bridge's mix. Profiles: clean; 5 % random loss
# with delay N(40 ms, 20 ms); bursty loss (Gilbert-Elliott, 5 %, mean burst 3) with the same delay.
# Targets: clean at most 0.25 below the floor; 5 % + jitter at most 0.4 below and 2.8 or better.
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
start_bridge "$bin/vcbridge" "$data/bridge.log"

run_profile() {  # name, relay options...
    local name=$1; shift
    local dir="$data/$name"; mkdir -p "$dir"
    "$bin/vcbridge" relay --listen 127.0.0.1:0 --to "$media" --seed "$seed" --uplink-only --duration "$((seconds + 8))s" \
        --fate-log "$dir/fate.txt" "$@" > "$dir/relay.out" 2> "$dir/relay.err" &
    local relay=$!
    for _ in $(seq 1 50); do grep -q listening "$dir/relay.err" && break; sleep 0.1; done
    local via; via=$(sed -n 's/.*listening on \([^,]*\),.*/\1/p' "$dir/relay.err")
    "$bin/vcbridge" endpoint --key-file "$data/lang-cong.key" --bridge "$signaling" --silent --record "$dir/heard.wav" \
        --duration "$((seconds + 4))s" > "$dir/listener.out" 2>&1 &
    local listener=$!
    sleep 0.5
    "$bin/vcbridge" endpoint --key-file "$data/song-lo.key" --bridge "$signaling" --wav "$data/speech.wav" --media-via "$via" \
        --dump-sent "$dir/sent.txt" --duration "$((seconds + 2))s" > "$dir/talker.out" 2>&1 &
    local talker=$!
    sleep 3
    local buffer; buffer=$("$bin/vcbridge" status --json | python3 -c "import json,sys; s=[x for x in json.load(sys.stdin)['sites'] if x['site']=='song-lo']; print(s[0]['jitterBufferDelayMs'] if s else -1)")
    wait "$talker" "$listener"
    wait "$relay" || true
    "$bin/vcbridge-bench" opus-floor --sent "$dir/sent.txt" --fate "$dir/fate.txt" --out "$dir/floor.wav" > "$dir/floor.out"
    local scores; scores=$(python3 Scripts/bench/pesq_eval.py "$data/speech.wav" "$dir/floor.wav" "$dir/heard.wav")
    local floor bridged
    floor=$(echo "$scores" | sed -n 1p | sed 's/.*pesq=\([^ ]*\).*/\1/')
    bridged=$(echo "$scores" | sed -n 2p | sed 's/.*pesq=\([^ ]*\).*/\1/')
    printf "%-26s %7s %7s %7s %14s   %s\n" "$name" "$floor" "$bridged" "$(python3 -c "print(f'{$bridged-$floor:+.2f}')")" \
        "$((buffer + 10)) ms" "$(cat "$dir/floor.out")"
    echo "$name $floor $bridged" >> "$data/results.txt"
}

printf "\n%-26s %7s %7s %7s %14s   %s\n" "profile (seed $seed)" "floor" "bridge" "delta" "bridge delay" "floor decode"
run_profile clean
run_profile loss5-jitter40x20 --loss 5 --delay 40 --jitter 20
run_profile bursty5-jitter40x20 --loss 5 --burst 3 --delay 40 --jitter 20
echo
echo "floor: the talker's own packets after the same impairment, decoded by libopus with an ideal buffer (FEC, PLC)."
echo "bridge delay: the talker's jitter-buffer delay in the bridge plus 10 ms (mean wait for the mixer tick)."
python3 - "$data/results.txt" <<'PY'
import sys
r = {l.split()[0]: (float(l.split()[1]), float(l.split()[2])) for l in open(sys.argv[1])}
ok = r["clean"][1] >= r["clean"][0] - 0.25 and r["loss5-jitter40x20"][1] >= r["loss5-jitter40x20"][0] - 0.4 \
    and r["loss5-jitter40x20"][1] >= 2.8
print("targets:", "met" if ok else "NOT met", "(clean within 0.25 of the floor; 5 % loss + jitter within 0.4 and >= 2.8)")
PY
