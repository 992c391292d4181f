#!/usr/bin/env bash
# Soak: one meeting of all 147 sites for MINUTES (default 120) against a release bridge on loopback, watching that
# nothing grows and nothing freezes.
#   Scripts/soak.sh [MINUTES]            (VCB_KEEP_WORKSPACE=1 keeps the data directory and every log)
# The meeting: 145 sites from `vcbridge loadtest` (3 talkers; the first 2 sites also send VP8 video at 600 kb/s, so
# every site receives a presenter and a speaker stream), one site joining and leaving again and again (a real
# `vcbridge endpoint` process of 4 s every 5 s), one site behind the seeded impairment relay (3 % loss, N(30, 10) ms
# delay on what it sends), talking 5 s in 30, and the floor moved between the two cameras every minute.
# The load test sends and receives every site's packets on one thread: the machine must be quiet (2 cores: nothing else).
# Printed every minute: the bridge's resident memory and open descriptors, the sizes of its per-site tables (`vcbridge
# status --json`: structures; the total, and the largest), tick lateness p99 of the last 10 s, audio packets/s per
# loadtest site over the minute (min/median) and sites that got none, video frames/s per receiver (min/median), the
# churning site's joins, the impaired site's packets/s. At the end, the targets: resident memory and descriptors
# within 5 % of their level after warm-up (the first tenth of the run, at least 2 minutes), no minute with a site
# silent or a receiver without video, every minute's slowest site at 49.5 audio packets/s or more.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-120}
[[ "$minutes" =~ ^[0-9]+$ ]] && [ "$minutes" -ge 3 ] || { echo "usage: Scripts/soak.sh [MINUTES >= 3]" >&2; exit 64; }
source Scripts/setup.sh
source Scripts/bench/common.sh
swift build -c release --product vcbridge >&2
bin="$(swift build -c release --show-bin-path)/vcbridge"
bridge_workspace soak soak
seconds=$((minutes * 60))

mapfile -t sites < <("$bin" sites --json | sed -n 's/.*"id" : "\([^"]*\)".*/\1/p')
[ "${#sites[@]}" -eq 147 ] || { echo "soak: expected the 147 sites of the default directory, found ${#sites[@]}" >&2; exit 1; }
churn=${sites[145]}
impaired=${sites[146]}
"$bin" meeting book --title "Soak: toàn tỉnh" --host central --scope all --start now --duration "$((minutes + 10))m" >&2
key_sites "$bin" 145
"$bin" site key "$churn" --out "$data/churn.key" > /dev/null
"$bin" site key "$impaired" --out "$data/impaired.key" > /dev/null
start_bridge "$bin" "$data/bridge.log"
echo "soak: bridge pid $bridge on $signaling, media $media; $minutes minutes" >&2

"$bin" loadtest --sites 145 --talkers 3 --video-senders 2 --video-kbps 600 --duration "$((seconds + 20))s" --bridge "$signaling" \
    --progress-every 60s --json > "$data/loadtest.json" 2> "$data/loadtest.err" &
loadtest=$!

"$bin" relay --listen 127.0.0.1:0 --to "$media" --seed 11 --loss 3 --delay 30 --jitter 10 --uplink-only --duration "$((seconds + 40))s" \
    > "$data/relay.out" 2> "$data/relay.err" &
relay=$!
for _ in $(seq 1 50); do grep -q listening "$data/relay.err" && break; sleep 0.1; done
via=$(sed -n 's/.*listening on \([^,]*\),.*/\1/p' "$data/relay.err")
"$bin" endpoint --key-file "$data/impaired.key" --bridge "$signaling" --media-via "$via" --tone 700 --talk 5s/25s \
    --duration "$((seconds + 20))s" --json > "$data/impaired.json" 2> "$data/impaired.err" &
impaired_pid=$!

# The churning site: joins, stays 4 s, leaves; again a second later, until the run ends.
(
    end=$((SECONDS + seconds - 10))
    while [ "$SECONDS" -lt "$end" ]; do
        if "$bin" endpoint --key-file "$data/churn.key" --bridge "$signaling" --silent --duration 4s --json \
                > "$data/churn-last.json" 2>> "$data/churn.err"; then
            received=$(sed -n 's/.*"packetsReceived" : "\([0-9]*\)".*/\1/p' "$data/churn-last.json")
            if [ "${received:-0}" -gt 0 ]; then echo ok >> "$data/churn.txt"; else echo silent >> "$data/churn.txt"; fi
        else
            echo failed >> "$data/churn.txt"
        fi
        sleep 1
    done
) &
churner=$!

# The floor, every minute, to one camera and then the other.
(
    for m in $(seq 1 $((minutes - 1))); do
        sleep 60
        "$bin" meeting floor "${sites[$((m % 2))]}" >> "$data/floor.txt" 2>&1 || echo "floor change $m failed" >> "$data/floor.txt"
    done
) &
floor=$!

status_json() { "$bin" status --json 2>/dev/null || echo '{}'; }
count() { local n; n=$(grep -c "^$1\$" "$data/churn.txt" 2>/dev/null) || true; echo "${n:-0}"; }

printf '%4s %8s %5s %7s %-34s %7s %11s %7s %11s %13s %9s\n' min "RSS MB" fds tables "largest tables" "tick99" "audio min/md" silent "video min/md" "churn ok/bad" "impaired"
# Each minute is the load test's: the bridge is sampled when the load test reports the minute it measured.
for m in $(seq 1 "$minutes"); do
    for _ in $(seq 1 900); do
        [ "$(grep -c 'event=loadtest-progress' "$data/loadtest.err" || true)" -ge "$m" ] && break
        kill -0 "$loadtest" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$bridge" 2>/dev/null || { echo "soak: the bridge is gone (see $data/bridge.log)" >&2; exit 1; }
    rss=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$bridge/status")
    fds=$(ls "/proc/$bridge/fd" | wc -l)
    current=$(status_json)
    echo "$current" > "$data/status-$m.json"
    progress=$(grep 'event=loadtest-progress' "$data/loadtest.err" | sed -n "${m}p" || true)
    python3 - "$m" "$rss" "$fds" "$impaired" "$progress" "$(count ok)" "$(( $(count silent) + $(count failed) ))" \
        "$data/status-$m.json" "$data/status-$((m - 1)).json" "$data/minutes.txt" <<'PY'
import json, os, sys
m, rss, fds, impaired, progress, ok, bad, now_path, before_path, out = sys.argv[1:]
status = json.load(open(now_path)) if os.path.getsize(now_path) > 2 else {}
before = json.load(open(before_path)) if os.path.exists(before_path) and os.path.getsize(before_path) > 2 else {}
fields = dict(kv.split("=", 1) for kv in progress.split() if "=" in kv)
tables = status.get("structures", {})
largest = " ".join(f"{k.split('.')[-1]}={v}" for k, v in sorted(tables.items(), key=lambda kv: -kv[1])[:3])
def site(s, name):
    return next((x for x in s.get("sites", []) if x["site"] == name), None)
now_site, before_site = site(status, impaired), site(before, impaired)
rate = "-"
if now_site and before_site:
    rate = f"{(now_site['packetsSent'] - before_site['packetsSent']) / 60:.1f}/s"
row = {"minute": int(m), "rssMB": float(rss), "fds": int(fds), "tables": sum(tables.values()), "structures": tables,
       "tickP99RecentUs": status.get("tickLateP99RecentUs", -1),
       "audioMin": float(fields.get("audioMin", -1)), "audioMedian": float(fields.get("audioMedian", -1)),
       "silentSites": int(fields.get("silentSites", -1)), "videoMin": float(fields.get("videoFramesMin", -1)),
       "videoMedian": float(fields.get("videoFramesMedian", -1)), "churnOK": int(ok or 0), "churnBad": int(bad or 0),
       "impairedSentPerSecond": rate}
with open(out, "a") as f: f.write(json.dumps(row) + "\n")
print(f"{m:>4} {float(rss):8.1f} {int(fds):5d} {row['tables']:7d} {largest:<34} {row['tickP99RecentUs']:5d}µs "
      f"{row['audioMin']:5.1f}/{row['audioMedian']:<5.1f} {row['silentSites']:7d} {row['videoMin']:5.1f}/{row['videoMedian']:<5.1f} "
      f"{int(ok or 0):6d}/{int(bad or 0):<6d} {rate:>9}", flush=True)
PY
done

wait "$loadtest" || echo "soak: the load test failed (see $data/loadtest.err)" >&2
wait "$impaired_pid" || echo "soak: the impaired site's endpoint failed (see $data/impaired.err)" >&2
wait "$churner" "$floor" || true
kill "$relay" 2>/dev/null || true
echo
python3 - "$data/minutes.txt" "$minutes" "$data/loadtest.json" "$data/impaired.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
minutes = int(sys.argv[2])
# Warm-up: a tenth of the run, and at least until the quality series are full (600 s a site), when the run allows.
warm = max(2, minutes // 10, min(11, minutes // 2))
base = next(r for r in rows if r["minute"] == warm)
after = [r for r in rows if r["minute"] >= warm]
def spread(key):
    top = max(r[key] for r in after)
    return (top - base[key]) / base[key] * 100 if base[key] else 0.0
# A table grows if the last minute holds more than 3 entries and 5 % above its size after warm-up (a site coming or
# going moves each by one; a table that follows grades, such as the alert tracking, may swell for a minute and empty).
grown = []
for name in sorted(set().union(*(r["structures"] for r in after))):
    start = base["structures"].get(name, 0)
    end = rows[-1]["structures"].get(name, 0)
    if end > start + max(3, start * 0.05): grown.append(f"{name} {start}->{end}")
full = rows
checks = [
    (f"resident memory, most above minute {warm} (%)", round(spread("rssMB"), 2), "<= 5", spread("rssMB") <= 5),
    (f"open descriptors, most above minute {warm} (%)", round(spread("fds"), 2), "<= 5", spread("fds") <= 5),
    ("tables grown past warm-up, at the end (> 3 entries and 5 %)", ", ".join(grown) or "none", "none", not grown),
    ("slowest site, worst minute (packets/s)", min(r["audioMin"] for r in full), ">= 49.5", min(r["audioMin"] for r in full) >= 49.5),
    ("minutes with a silent site", sum(1 for r in full if r["silentSites"] != 0), "0", all(r["silentSites"] == 0 for r in full)),
    ("minutes with a receiver without video", sum(1 for r in full if r["videoMin"] <= 0), "0", all(r["videoMin"] > 0 for r in full)),
    ("tick lateness p99 of 10 s, worst minute (µs)", max(r["tickP99RecentUs"] for r in rows), "< 2000", max(r["tickP99RecentUs"] for r in rows) < 2000),
    ("churning site's joins ok / not", f"{rows[-1]['churnOK']} / {rows[-1]['churnBad']}", "all ok", rows[-1]["churnBad"] == 0 and rows[-1]["churnOK"] > 0),
]
loadtest = json.load(open(sys.argv[3]))
checks.append(("whole run: slowest loadtest site (packets/s)", round(loadtest["deliveryMinPerSecond"], 2), ">= 49.5", loadtest["deliveryMinPerSecond"] >= 49.5))
try:
    imp = json.load(open(sys.argv[4]))
    received = int(imp["packetsReceived"]) / float(imp["seconds"])
    checks.append(("impaired site hears (packets/s)", round(received, 2), ">= 49.5", received >= 49.5))
except Exception as error:
    checks.append(("impaired site hears (packets/s)", f"no report ({error})", ">= 49.5", False))
for name, value, target, ok in checks:
    print(f"{name:48} {str(value):>14}   target {target:8} {'ok' if ok else 'MISSED'}")
last = rows[-1]["structures"]
print("tables at the end:", " ".join(f"{k}={v}" for k, v in sorted(last.items())))
print("targets:", "met" if all(c[3] for c in checks) else "NOT met")
PY
