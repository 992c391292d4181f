#!/usr/bin/env bash
# The status page in a real browser: a bridge with the HTTP listener on, a province-wide meeting with
# a loadtest of 60 sites joined, the page loaded in headless Chromium (Debian's package) while the
# load runs; every tile's state and grade compared with `vcbridge quality --json`; a screenshot saved.
# Then, from a network namespace of our own, the listener must not answer on the machine's address.
#   Scripts/check-status-page.sh [SCREENSHOT.png]
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
source Scripts/bench/common.sh
vcb_apt_install chromium iproute2
shot=${1:-status-page.png}
swift build -c release --product vcbridge >&2
bin="$(swift build -c release --show-bin-path)/vcbridge"
bridge_workspace status-page "VP UBND tỉnh"
trap 'ip netns del vcb-outside 2>/dev/null || true; cleanup_workspace' EXIT

"$bin" meeting book --title "Hội nghị trực tuyến toàn tỉnh" --host central --scope all --start now --duration 2h >&2
key_sites "$bin" 60
echo '{"quality": {"httpEnabled": true, "httpPort": 0}}' > "$data/config.json"
start_bridge "$bin" "$data/bridge.log" --config "$data/config.json"  # the http line comes before "listening"
http=$(sed -n 's/.*event=http address=\([^ ]*\).*/\1/p' "$data/bridge.log")
echo "bridge on $signaling, status page on http://$http/" >&2
"$bin" loadtest --sites 60 --talkers 3 --duration 40s --bridge "$signaling" > "$data/loadtest.out" &
load=$!
sleep 15

chrome=(chromium --headless --no-sandbox --disable-gpu --hide-scrollbars)
ok=0
for attempt in 1 2 3; do
    "${chrome[@]}" --dump-dom "http://$http/" 2>/dev/null > "$data/page.html"
    "$bin" quality --json > "$data/quality.json"
    if python3 - "$data/page.html" "$data/quality.json" <<'PY'
import json, re, sys
page = open(sys.argv[1], encoding="utf-8").read()
rows = json.load(open(sys.argv[2]))["sites"]
tiles = {m.group(1): (m.group(3), m.group(2)) for m in
         re.finditer(r'data-site="([^"]*)" data-grade="([^"]*)" data-state="([^"]*)"', page)}
want = {r["site"]: (r["state"], r.get("grade", "")) for r in rows}
missing = sorted(set(want) - set(tiles)); extra = sorted(set(tiles) - set(want))
differ = sorted(s for s in want if s in tiles and tiles[s] != want[s])
connected = sum(1 for s in want.values() if s[0] == "connected")
grades = {}
for state, grade in want.values():
    if state == "connected": grades[grade] = grades.get(grade, 0) + 1
print(f"tiles {len(tiles)}, sites in the meeting {len(want)}, connected {connected}, grades {grades}; "
      f"missing {missing}, extra {extra}, differing {differ}")
sys.exit(0 if not missing and not extra and not differ and connected >= 55 else 1)
PY
    then ok=1; break; fi
    sleep 2  # a grade may change between the two reads: read both again
done
"${chrome[@]}" --window-size=1920,1400 --screenshot="$shot" "http://$http/" 2>/dev/null
echo "screenshot: $shot ($(stat -c %s "$shot") bytes)"
wait "$load" || true
tail -4 "$data/loadtest.out"
[ "$ok" = 1 ] || { echo "the page and vcbridge quality --json disagree"; exit 1; }

# Not reachable from outside localhost: from a network namespace joined to this machine by a veth
# pair, the machine's veth address answers a test listener but not the bridge's status port.
if [ "$(id -u)" = 0 ] && command -v ip > /dev/null; then
    port=${http##*:}
    ip netns add vcb-outside
    ip link add vcb-host type veth peer name vcb-guest
    ip link set vcb-guest netns vcb-outside
    ip addr add 10.203.0.1/24 dev vcb-host && ip link set vcb-host up
    ip netns exec vcb-outside ip addr add 10.203.0.2/24 dev vcb-guest
    ip netns exec vcb-outside ip link set vcb-guest up
    ip netns exec vcb-outside ip link set lo up
    python3 -m http.server 18080 --bind 10.203.0.1 > /dev/null 2>&1 & control=$!
    sleep 1
    reach=$(ip netns exec vcb-outside python3 -c "import socket; s = socket.create_connection(('10.203.0.1', 18080), 2); print('reachable')" 2>&1 || true)
    bridge_answer=$(ip netns exec vcb-outside python3 -c "import socket; s = socket.create_connection(('10.203.0.1', $port), 2); print('ANSWERED')" 2>&1 || true)
    kill "$control"; ip link del vcb-host 2>/dev/null || true
    echo "from the namespace: a listener on 10.203.0.1 is $reach; the status port $port: $(echo "$bridge_answer" | tail -1)"
    [[ "$reach" == reachable* && "$bridge_answer" != *ANSWERED* ]] || { echo "the status page is reachable from outside localhost"; exit 1; }
else
    echo "(not root or no iproute2: the namespace check was skipped)"
fi
echo "status page: OK"
