#!/usr/bin/env bash
# Benchmark: the jitter buffer alone, offline, on the traces of Scripts/bench-quality.sh runs kept with
# VCB_KEEP_WORKSPACE=1. Each profile's talker packets (--dump-sent) arrive when they left plus the delay the relay
# gave each (--fate-log) and are played by the bridge's JitterBuffer and playout at five tick phases
# (`vcbridge-bench jitter-replay`); prints per profile the mean PESQ-WB against the floor (the same packets with an
# ideal buffer), the worst phase, and the buffer's counts and delay. Deterministic: no mixer, no scheduling noise, so
# two versions of the buffer compare on the same trace. EXTRA="--reencode 64" adds the mix's Opus encode.
#   Scripts/bench-jitter-replay.sh WORKSPACE...
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
[ $# -ge 1 ] || { echo "usage: Scripts/bench-jitter-replay.sh WORKSPACE... (kept by VCB_KEEP_WORKSPACE=1 Scripts/bench-quality.sh)" >&2; exit 64; }
python3 -c "import pesq, numpy, scipy" 2>/dev/null || python3 -m pip install --quiet pesq numpy scipy >&2
swift build -c release --product vcbridge-bench >&2
bench="$(swift build -c release --show-bin-path)/vcbridge-bench"
scratch=$(mktemp -d /tmp/vcb-jitter-replay.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
for workspace in "$@"; do
    for profile in clean loss5-jitter40x20 bursty5-jitter40x20; do
        [ -f "$workspace/$profile/sent.txt" ] || { echo "$workspace/$profile has no sent.txt" >&2; exit 66; }
        outs=(); : > "$scratch/stats"
        for phase in 0 4 8 12 16; do
            out="$scratch/$profile-$phase.wav"
            "$bench" jitter-replay --sent "$workspace/$profile/sent.txt" --fate "$workspace/$profile/fate.txt" \
                --out "$out" --phase "$phase" ${EXTRA:-} >> "$scratch/stats"
            outs+=("$out")
        done
        python3 Scripts/bench/pesq_eval.py "$workspace/speech.wav" "$workspace/$profile/floor.wav" "${outs[@]}" > "$scratch/pesq"
        python3 - "$scratch/pesq" "$scratch/stats" "$(basename "$workspace")" "$profile" <<'PY'
import re, statistics, sys
scores = [float(re.search(r"pesq=([\d.]+)", l).group(1)) for l in open(sys.argv[1]) if "pesq=" in l]
stats = open(sys.argv[2]).read().strip().split("\n")
mean = lambda key: statistics.mean(float(re.search(key + r"=([\d.]+)", l).group(1)) for l in stats)
floor, runs = scores[0], scores[1:]
print(f"{sys.argv[3]:>28s} {sys.argv[4]:20s} floor {floor:.3f}  mean {statistics.mean(runs) - floor:+.3f}  worst {min(runs) - floor:+.3f}"
      f"  late {mean('late'):.1f}  concealed {mean('concealed'):.1f}  fec {mean('fec'):.1f}  dropped {mean('dropped'):.1f}"
      f"  inserted {mean('inserted'):.1f}  delay median {mean('delay_median_ms'):.1f} ms  p95 {mean('delay_p95_ms'):.1f} ms")
PY
    done
done
