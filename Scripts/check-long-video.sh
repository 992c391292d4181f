#!/usr/bin/env bash
# Outside check that video lasts: five sites, one sending paced video at about 275 packets/s, for
# SECONDS (default 150, past the 32,768 packets after which a 16-bit comparison used to freeze every
# receiver's stream). Prints what was sent and what each receiver got per second.
#   Scripts/check-long-video.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
source Scripts/bench/common.sh
seconds=${1:-150}
swift build -c release --product vcbridge >&2
bin="$(swift build -c release --show-bin-path)/vcbridge"
bridge_workspace long-video check
"$bin" meeting book --title "Kiểm tra hình dài" --host central --scope all --start now --duration 2h >&2
key_sites "$bin" 5
start_bridge "$bin" "$data/bridge.log"
"$bin" loadtest --sites 5 --talkers 1 --duration "${seconds}s" --bridge "$signaling" --video-senders 1 --video-kbps 2400 \
    --json > "$data/result.json"
python3 - "$data/result.json" "$seconds" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))["video"]
sent, seconds = v["packetsSent"], int(sys.argv[2])
print(f"{seconds} s: sent {sent} video packets ({v['sentPacketsPerSecond']:.0f}/s); receivers got "
      f"min {v['receiversMinPacketsPerSecond']:.1f}/s, median {v['receiversMedianPacketsPerSecond']:.1f}/s "
      f"(ratio {v['receiversMinPacketsPerSecond'] / v['sentPacketsPerSecond']:.3f}); authentication failures {v['authenticationFailures']}")
PY
