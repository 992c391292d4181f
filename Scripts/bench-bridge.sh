#!/usr/bin/env bash
# Benchmark: one meeting of all 147 sites with K talkers through `vcbridge loadtest` (real joins,
# SRTP, Opus) against a release bridge on loopback.
#   Scripts/bench-bridge.sh [SECONDS] [TALKERS]
# Targets: bridge under 25 % of one core, under 150 MB resident, mixer tick lateness p99 under 2 ms,
# every site receiving 50 packets/s, talkers + 1 encodes per tick.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
source Scripts/bench/common.sh
seconds=${1:-60}
talkers=${2:-3}
swift build -c release --product vcbridge >&2
bin="$(swift build -c release --show-bin-path)/vcbridge"
bridge_workspace bench-bridge bench

"$bin" meeting book --title "Benchmark: toàn tỉnh" --host central --scope all --start now --duration 2h >&2
key_sites "$bin"
echo "provisioned $(ls "$data/keys" | wc -l) site keys" >&2
start_bridge "$bin" "$data/bridge.log"
echo "bridge pid $bridge on $signaling; running $seconds s with 147 sites and $talkers talkers..." >&2
"$bin" loadtest --sites 147 --talkers "$talkers" --duration "${seconds}s" --bridge "$signaling" --json > "$data/result.json"
cat "$data/result.json"
python3 - "$data/result.json" "$talkers" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); k = int(sys.argv[2])
checks = [
    ("bridge CPU (% of one core)", r["bridgeCPUPercent"], "< 25", r["bridgeCPUPercent"] < 25),
    ("bridge peak RSS (MB)", r["bridgePeakRSSMB"], "< 150", r["bridgePeakRSSMB"] < 150),
    ("mixer tick lateness p50 (us)", r["tickLateP50Us"], "-", True),
    ("mixer tick lateness p99 (us)", r["tickLateP99Us"], "< 2000", r["tickLateP99Us"] < 2000),
    ("slowest site (packets/s)", round(r["deliveryMinPerSecond"], 2), ">= 49.5", r["deliveryMinPerSecond"] >= 49.5),
    ("median site (packets/s)", round(r["deliveryMedianPerSecond"], 2), "50", True),
    ("encodes per tick", r["encodesLastTick"], f"= {k + 1}", r["encodesLastTick"] == k + 1),
]
print()
for name, value, target, ok in checks:
    print(f"{name:32} {value:>10}   target {target:8} {'ok' if ok else 'MISSED'}")
print("targets:", "met" if all(c[3] for c in checks) else "NOT met")
PY
