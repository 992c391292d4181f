#!/usr/bin/env bash
# Benchmark: 147 sites joining one meeting the way browsers do (`vcbridge loadtest --webrtc`: an SDP offer over
# HTTP with the site's proof, ICE checks, NSS as the DTLS client, SRTP from the exporter), against the same meeting
# of native sites, each on a fresh release bridge on loopback, ROUNDS times alternately.
#   Scripts/bench-webrtc.sh [SECONDS] [ROUNDS]
# Prints per round: join time (offer to first audio packet) p50/p99, how long posting all offers took, bridge CPU
# (whole run, and with every site in) and peak RSS; then medians and the ratios WebRTC/native, and AES-GCM vs AES-CM.
# Cross-check: in a meeting of 137 native sites, 10 aiortc sites (a real, independent WebRTC stack) join at once, then
# 10 load-generator WebRTC sites do the same: their join stages side by side.
# Targets: every offer posted within 1 s, bridge CPU with every site in within 1.3x of native, RSS within 1.3x.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
source Scripts/bench/common.sh
vcb_aiortc
seconds=${1:-30}
rounds=${2:-3}
swift build -c release --product vcbridge >&2
bin="$(swift build -c release --show-bin-path)/vcbridge"
results=$(mktemp -d /tmp/vcb-bench-webrtc-results.XXXXXX)

# run KIND ROUND: one fresh bridge, one meeting of 147 sites joined as KIND (native, gcm, cm).
run() (
    bridge_workspace bench-webrtc bench
    echo '{"quality": {"httpEnabled": true, "httpAddress": "127.0.0.1", "httpPort": 0}}' > "$data/config.json"
    export VCBRIDGE_CONFIG="$data/config.json"
    "$bin" meeting book --title "Benchmark: WebRTC" --host central --scope all --start now --duration 2h > /dev/null
    key_sites "$bin"
    start_bridge "$bin" "$data/bridge.log"
    web=$(sed -n 's/.*event=http address=\([^ ]*\).*/\1/p' "$data/bridge.log")
    case $1 in
        native) extra=() ;;
        *) extra=(--webrtc --web "$web" --srtp "$1") ;;
    esac
    echo "round $2: $1, 147 sites, $seconds s" >&2
    "$bin" loadtest --sites 147 --talkers 3 --duration "${seconds}s" --bridge "$signaling" "${extra[@]}" --json > "$results/$1-$2.json"
    grep -c 'event=quality-alert' "$data/bridge.log" > "$results/$1-$2.alerts" || true
)

# crosscheck: 137 native sites for the whole run; 10 aiortc sites join together, leave, then 10 load-generator sites.
crosscheck() (
    bridge_workspace bench-webrtc-cross bench
    echo '{"quality": {"httpEnabled": true, "httpAddress": "127.0.0.1", "httpPort": 0}}' > "$data/config.json"
    export VCBRIDGE_CONFIG="$data/config.json"
    "$bin" meeting book --title "Benchmark: aiortc" --host central --scope all --start now --duration 2h > /dev/null
    key_sites "$bin"
    last10=$("$bin" sites --json | sed -n 's/.*"id" : "\([^"]*\)".*/\1/p' | tail -10)
    for site in $last10; do "$bin" site key "$site" --out "$data/$site.key" > /dev/null; done
    python3 -c "
import wave, math, struct
w = wave.open('$data/tone.wav', 'wb'); w.setnchannels(1); w.setsampwidth(2); w.setframerate(48000)
w.writeframes(b''.join(struct.pack('<h', int(8000 * math.sin(2 * math.pi * 440 * i / 48000))) for i in range(48000 * 3)))"
    start_bridge "$bin" "$data/bridge.log"
    web=$(sed -n 's/.*event=http address=\([^ ]*\).*/\1/p' "$data/bridge.log")
    echo "cross-check: 137 native sites, then 10 aiortc sites at once, then 10 load-generator WebRTC sites" >&2
    "$bin" loadtest --sites 137 --talkers 3 --duration 60s --bridge "$signaling" --json > "$results/cross-native.json" &
    native=$!
    sleep 8
    pids=()
    for site in $last10; do
        "$VCBRIDGE_AIORTC_PYTHON" Scripts/clients/webrtc_site.py --bridge "http://$web" --key-file "$data/$site.key" \
            --send "$data/tone.wav" --seconds 12 > "$results/aiortc-$site.json" 2> /dev/null &
        pids+=($!)
    done
    wait "${pids[@]}" || true
    sleep 3
    "$bin" loadtest --sites 10 --skip 137 --talkers 0 --duration 15s --bridge "$signaling" --webrtc --web "$web" --json \
        > "$results/cross-loadtest.json"
    wait "$native"
)

for round in $(seq 1 "$rounds"); do
    for kind in native gcm cm; do run "$kind" "$round"; done
done
crosscheck

python3 - "$results" "$rounds" <<'PY'
import json, statistics, sys
d, rounds = sys.argv[1], int(sys.argv[2])
def load(kind, r):
    j = json.load(open(f"{d}/{kind}-{r}.json"))
    j["alerts"] = int(open(f"{d}/{kind}-{r}.alerts").read().strip() or 0)
    return j
rows = {k: [load(k, r) for r in range(1, rounds + 1)] for k in ("native", "gcm", "cm")}
print(f"{'round':>5} {'kind':7} {'joined':>6} {'join p50':>9} {'join p99':>9} {'offers':>7} {'all in':>7} {'CPU %':>6} {'CPU in %':>8} {'RSS MB':>7} {'min pk/s':>8} {'alerts':>6}")
for r in range(rounds):
    for k in ("native", "gcm", "cm"):
        x = rows[k][r]; w = x.get("webRTC", {})
        f = lambda v: "-" if v is None else f"{v:.0f}"
        print(f"{r + 1:>5} {k:7} {w.get('joined', 147):>6} {f(w.get('joinP50Ms')):>9} {f(w.get('joinP99Ms')):>9} "
              f"{f(w.get('offerSpreadMs')):>7} {f(w.get('allJoinedMs')):>7} {x['bridgeCPUPercent']:6.1f} "
              f"{x['bridgeSteadyCPUPercent']:8.1f} {x['bridgePeakRSSMB']:7.1f} {x['deliveryMinPerSecond']:8.1f} {x['alerts']:>6}")
        for failure in w.get("failures", [])[:5]: print("      failed:", failure)
med = lambda k, f: statistics.median(f(x) for x in rows[k])
print()
checks = []
for k in ("gcm", "cm"):
    p50 = med(k, lambda x: x["webRTC"]["joinP50Ms"]); p99 = med(k, lambda x: x["webRTC"]["joinP99Ms"])
    spread = med(k, lambda x: x["webRTC"]["offerSpreadMs"]); allin = med(k, lambda x: x["webRTC"]["allJoinedMs"])
    print(f"{k}: join p50 {p50:.0f} ms, p99 {p99:.0f} ms; offers posted within {spread:.0f} ms; all 147 had audio {allin:.0f} ms after the first offer (medians of {rounds})")
    checks.append((f"{k}: every offer posted within 1 s", spread < 1000))
    checks.append((f"{k}: all 147 joined every round", all(x["webRTC"]["joined"] == 147 for x in rows[k])))
native_cpu = med("native", lambda x: x["bridgeSteadyCPUPercent"]); native_rss = med("native", lambda x: x["bridgePeakRSSMB"])
for k in ("gcm", "cm"):
    cpu = med(k, lambda x: x["bridgeSteadyCPUPercent"]); rss = med(k, lambda x: x["bridgePeakRSSMB"])
    whole = med(k, lambda x: x["bridgeCPUPercent"]) / med("native", lambda x: x["bridgeCPUPercent"])
    print(f"{k} vs native: CPU with every site in {cpu:.1f} % vs {native_cpu:.1f} % = {cpu / native_cpu:.2f}x "
          f"(whole run, joins included: {whole:.2f}x); peak RSS {rss:.1f} vs {native_rss:.1f} MB = {rss / native_rss:.2f}x")
    checks.append((f"{k}: CPU within 1.3x of native", cpu / native_cpu <= 1.3))
    checks.append((f"{k}: RSS within 1.3x of native", rss / native_rss <= 1.3))
gcm = med("gcm", lambda x: x["bridgeSteadyCPUPercent"]); cm = med("cm", lambda x: x["bridgeSteadyCPUPercent"])
print(f"AES-GCM vs AES-CM (HMAC-SHA1): bridge CPU with every site in {gcm:.1f} % vs {cm:.1f} % = {gcm / cm:.2f}x")
import glob
aiortc = [json.loads(open(f).read().strip().splitlines()[-1]) for f in glob.glob(f"{d}/aiortc-*.json") if open(f).read().strip()]
joined = [a for a in aiortc if a.get("joined") and "audioMs" in a]
lt = json.load(open(f"{d}/cross-loadtest.json"))["webRTC"]; st = lt["stagesP50Ms"]
native = json.load(open(f"{d}/cross-native.json"))
def m(key): return statistics.median(a[key] for a in joined) if joined else float("nan")
print()
print(f"cross-check in a meeting of 137 native sites (their slowest {native['deliveryMinPerSecond']:.1f} packets/s):")
print(f"  aiortc, 10 at once:          {len(joined)} joined; medians: answered {m('answeredMs'):.0f} ms, connected (ICE + DTLS) {m('connectedMs'):.0f} ms, first audio frame decoded {m('audioMs'):.0f} ms")
print(f"  load generator, 10 at once:  {lt['joined']} joined; medians: answered {st['answer']:.0f} ms, connected {st['answer'] + st['checks'] + st['dtls']:.0f} ms, first audio packet {lt['joinP50Ms']:.0f} ms")
checks.append(("aiortc: all 10 joined", len(joined) == 10))
print()
for name, ok in checks: print(f"{name:45} {'ok' if ok else 'MISSED'}")
print("targets:", "met" if all(ok for _, ok in checks) else "NOT met")
PY
rm -rf "$results"
