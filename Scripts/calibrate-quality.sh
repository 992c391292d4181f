#!/usr/bin/env bash
# Calibration of the MOS estimate: speech through the impairment relay and the bridge at 0, 2, 5 and
# 10 % loss with 20, 40 and 80 ms of jitter (delay N(2J, J)); per profile, PESQ-WB of what the
# listener heard next to the bridge's E-model estimate for the talker (from its quality history),
# then the Opus constants (Ie, Bpl, delay sensitivity) that fit PESQ best on natural recorded speech,
# and whether every profile is within 0.3. The same grid with synthetic speech (espeak-ng) is the
# second check: it scores lower under PESQ whatever the link, so it is reported, not fitted.
#   Scripts/calibrate-quality.sh [SEED] [OUT.md]
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
source Scripts/bench/common.sh
seed=${1:-7}
out=${2:-}
vcb_apt_install espeak-ng python3 python3-pip
python3 -c "import pesq, numpy, scipy" 2>/dev/null || python3 -m pip install --quiet pesq numpy scipy >&2
swift build -c release --product vcbridge >&2
bin="$(swift build -c release --show-bin-path)/vcbridge"
bridge_workspace calibrate calibration

natural_seconds=$(natural_speech_sample "$data/natural.wav")
espeak_seconds=$(speech_sample "$data/espeak.wav")
"$bin" meeting book --title "Hiệu chỉnh chất lượng" --host song-lo --scope lang-cong --start now --duration 2h >&2
"$bin" site key song-lo --out "$data/song-lo.key" > /dev/null
"$bin" site key lang-cong --out "$data/lang-cong.key" > /dev/null
echo '{"quality": {"sampleSeconds": 1}}' > "$data/config.json"
start_bridge "$bin" "$data/bridge.log" --config "$data/config.json"

: > "$data/runs.txt"
for speech in natural espeak; do
    seconds=$natural_seconds
    [ "$speech" = espeak ] && seconds=$espeak_seconds
    for loss in 0 2 5 10; do
        for jitter in 20 40 80; do
            name="loss${loss}-jitter${jitter}"
            dir="$data/$speech-$name"; mkdir -p "$dir"
            "$bin" relay --listen 127.0.0.1:0 --to "$media" --seed "$seed" --uplink-only --duration "$((seconds + 8))s" \
                --loss "$loss" --delay "$((2 * jitter))" --jitter "$jitter" > "$dir/relay.out" 2> "$dir/relay.err" &
            relay=$!
            for _ in $(seq 1 50); do grep -q listening "$dir/relay.err" && break; sleep 0.1; done
            via=$(sed -n 's/.*listening on \([^,]*\),.*/\1/p' "$dir/relay.err")
            "$bin" endpoint --key-file "$data/lang-cong.key" --bridge "$signaling" --silent --record "$dir/heard.wav" \
                --duration "$((seconds + 4))s" > "$dir/listener.out" 2>&1 &
            listener=$!
            sleep 0.5
            from=$(date +%s)
            "$bin" endpoint --key-file "$data/song-lo.key" --bridge "$signaling" --wav "$data/$speech.wav" --media-via "$via" \
                --duration "$((seconds + 2))s" > "$dir/talker.out" 2>&1
            to=$(date +%s)
            wait "$listener"; wait "$relay" || true
            score=$(python3 Scripts/bench/pesq_eval.py "$data/$speech.wav" "$dir/heard.wav" | sed 's/.*pesq=\([^ ]*\).*/\1/')
            echo "$speech $name $loss $jitter $from $to $score" >> "$data/runs.txt"
            echo "$speech $name: PESQ-WB $score" >&2
            sleep 1
        done
    done
done

python3 - "$data/runs.txt" "$data/quality/meeting-1.jsonl" "$out" <<'PY'
import json, statistics, sys
runs = [l.split() for l in open(sys.argv[1])]
samples = [json.loads(l) for l in open(sys.argv[2]) if '"sample"' in l]
out = sys.argv[3]

def mos(r):
    return 1 if r <= 0 else 4.5 if r >= 100 else 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r)

def estimate(loss, delay, ie, bpl, k):
    r = 93.2 - k * (0.024 * delay + (0.11 * (delay - 177.3) if delay > 177.3 else 0)) - (ie + (95 - ie) * loss / (loss + bpl))
    return mos(r)

rows, checks = [], []
for speech, name, loss, jitter, t0, t1, score in runs:
    # The talker's samples while it spoke, skipping the first seconds (the window fills) and silence.
    s = [x for x in samples if x["site"] == "song-lo" and int(t0) + 6 <= x["t"] <= int(t1) - 1 and x["cause"] != "silence"]
    eff = statistics.mean(max(x["concealed"], x["remoteLoss"]) for x in s) if s else float("nan")
    delay = statistics.mean(x["delay"] for x in s) if s else float("nan")
    bridge = statistics.mean(x["mos"] for x in s) if s else float("nan")
    (rows if speech == "natural" else checks).append(
        dict(name=name, loss=int(loss), jitter=int(jitter), pesq=float(score), concealed=eff, delay=delay, bridge=bridge, n=len(s)))

# Ie, Bpl and the delay sensitivity k (Id x k) that minimise the largest difference from PESQ on natural speech.
best = None
for ie in [x * 0.5 for x in range(0, 81)]:
    for bpl in [x * 0.5 for x in range(2, 81)]:
        for k in [x * 0.05 for x in range(4, 41)]:
            worst = max(abs(estimate(r["concealed"], r["delay"], ie, bpl, k) - r["pesq"]) for r in rows)
            if best is None or worst < best[0]:
                best = (worst, ie, bpl, k)
worst, ie, bpl, k = best
def table(rows, title):
    lines = [title, "", "| profile | relay loss | jitter (delay N(2J, J)) | concealed at the bridge | one-way delay | PESQ-WB heard | estimate (constants in use) | estimate (fitted) | difference |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        fitted = estimate(r["concealed"], r["delay"], ie, bpl, k)
        lines.append(f"| {r['name']} | {r['loss']} % | {r['jitter']} ms | {r['concealed']:.2f} % | {r['delay']:.0f} ms | {r['pesq']:.2f} | "
                     f"{r['bridge']:.2f} | {fitted:.2f} | {fitted - r['pesq']:+.2f} |")
    return lines + [""]

within = all(abs(r["bridge"] - r["pesq"]) <= 0.3 for r in rows)
check = max(abs(estimate(r["concealed"], r["delay"], ie, bpl, k) - r["pesq"]) for r in checks)
summary = [f"fitted constants (natural speech): Ie = {ie}, Bpl = {bpl}, delay sensitivity = {k:.2f}; largest difference {worst:.2f}",
           f"the estimate in use is within 0.3 of PESQ on natural speech on every profile: {'yes' if within else 'NO'} "
           f"(largest {max(abs(r['bridge'] - r['pesq']) for r in rows):.2f})",
           f"second check, synthetic speech (espeak-ng): fitted constants within {check:.2f} of its PESQ; the estimate in use within "
           f"{max(abs(r['bridge'] - r['pesq']) for r in checks):.2f}"]
text = "\n".join(table(rows, "Natural recorded speech (alsa-utils, 10 s):") + table(checks, "Synthetic speech (espeak-ng, Vietnamese, about 12 s):") + summary)
print(text)
if out:
    open(out, "w").write(text + "\n")
PY
