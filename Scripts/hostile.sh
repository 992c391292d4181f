#!/usr/bin/env bash
# Hostile traffic during a meeting: a release bridge on loopback (SIP over UDP, TCP and TLS, the HTTP
# listener on), SITES loadtest sites and a reference endpoint in one meeting, and for SECONDS:
# forged joins at JOIN_RATE a second from `vcbridge-bench hostile-joins` (compiled: wrong proofs, unknown
# sites, replayed nonces, malformed hellos, garbage, from 500 source addresses), and the attackers of
# Scripts/hostile/attack.py: random datagrams at the media port, slow, silent and half-closed connections
# at every listener (join, HTTP, SIP TCP, SIP TLS, the control socket), forged INVITEs over UDP/TCP/TLS,
# malformed and oversized requests at every listener. All bounded; everything stops by itself.
#   Scripts/hostile.sh [--quota PERCENT] [SECONDS]   (env: SITES=30 JOIN_RATE=10000 MEDIA_RATE=200000 SLOW=100)
# --quota PERCENT (root, a cgroup cpu controller): the whole bridge process (every thread) runs under that
# share of one core, as a service under systemd's CPUQuota= would, so the flood and the attacks at the other
# listeners outrun it; the media thread's receive work per tick is bounded and the other threads yield to it
# (nice 10), so the mix must still run. (QUOTA=PERCENT in the environment does the same.)
# Prints: audio packets/s at every site (min/median), what was accepted from the attackers (must be 0),
# the forged-join rate achieved, mixer tick lateness p99 over the attack, the media socket's receive
# counters, and per listener the amplification factor (bytes the bridge sent the attackers / bytes they
# sent; must be <= 1).
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
source Scripts/bench/common.sh
quota=${QUOTA:-}
while [ $# -gt 0 ]; do
    case "$1" in
        --quota) [ $# -ge 2 ] || { echo "hostile.sh: --quota needs a percentage of one core" >&2; exit 64; }; quota=$2; shift 2 ;;
        --quota=*) quota=${1#--quota=}; shift ;;
        -*) echo "hostile.sh: unknown option $1 (usage: Scripts/hostile.sh [--quota PERCENT] [SECONDS])" >&2; exit 64 ;;
        *) break ;;
    esac
done
if [ -n "$quota" ] && ! [[ "$quota" =~ ^[0-9]+$ && "$quota" -ge 1 && "$quota" -le 200 ]]; then
    echo "hostile.sh: --quota must be a whole percentage of one core, 1-200 (not '$quota')" >&2; exit 64
fi
seconds=${1:-60}
sites=${SITES:-30}
join_rate=${JOIN_RATE:-10000}
media_rate=${MEDIA_RATE:-200000}
slow=${SLOW:-100}
if [ -n "${VCB_BIN:-}" ]; then  # (VCB_BIN: a vcbridge already built, e.g. the debug one; vcbridge-bench beside it)
    bin=$VCB_BIN
else
    swift build -c release --product vcbridge >&2
    swift build -c release --product vcbridge-bench >&2
    bin="$(swift build -c release --show-bin-path)/vcbridge"
fi
bench="$(dirname "$bin")/vcbridge-bench"
bridge_workspace hostile hostile
cgroup=""
cleanup_hostile() {
    cleanup_workspace
    [ -n "$cgroup" ] && rmdir "$cgroup" 2>/dev/null || true
}
trap cleanup_hostile EXIT

"$bin" meeting book --title "Kiểm thử: tấn công" --host central --scope all --start now --duration 2h >&2
key_sites "$bin" $((sites + 1))
first_site=$("$bin" sites --json | sed -n 's/.*"id" : "\([^"]*\)".*/\1/p' | head -1)
"$bin" site key "$first_site" --out "$data/reference.key" > /dev/null  # (a new generation of its key, in a file)
cat > "$data/config.json" <<'JSON'
{"sip": {"enabled": true, "tlsEnabled": true, "tlsPort": 0},
 "quality": {"httpEnabled": true, "httpPort": 0}}
JSON
serve=(--config "$data/config.json" --sip-port 0)
if [ -n "$quota" ]; then
    if [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then
        cgroup=/sys/fs/cgroup/vcb-hostile-$$; mkdir "$cgroup"; echo "$((quota * 100)) 10000" > "$cgroup/cpu.max"
        echo 1000 > "$cgroup/cpu.weight"
    else
        cgroup=/sys/fs/cgroup/cpu/vcb-hostile-$$; mkdir "$cgroup"
        echo 10000 > "$cgroup/cpu.cfs_period_us"; echo $((quota * 100)) > "$cgroup/cpu.cfs_quota_us"
        echo 10240 > "$cgroup/cpu.shares"
    fi
    # (Ten times the default weight: on a busy machine the group still gets its quota, which is then what binds.)
    echo "bridge under a CPU quota of $quota % of one core, every thread of it ($cgroup)" >&2
    "$bin" serve --listen 127.0.0.1 --signal-port 0 --media-port 0 "${serve[@]}" 2> "$data/bridge.log" &
    bridge=$!
    echo "$bridge" > "$cgroup/cgroup.procs" 2>/dev/null || echo "note: could not move the bridge into $cgroup" >&2
    for _ in $(seq 1 50); do grep -q event=listening "$data/bridge.log" && break; sleep 0.1; done
    signaling=$(sed -n 's/.*event=listening signaling=\([^ ]*\).*/\1/p' "$data/bridge.log")
    media=$(sed -n 's/.*event=listening.* media=\([^ ]*\).*/\1/p' "$data/bridge.log")
else
    start_bridge "$bin" "$data/bridge.log" "${serve[@]}"
fi
listening=$(grep -m1 event=listening "$data/bridge.log")
sip=$(echo "$listening" | field sip | tr -d '"')
sip_tls=$(echo "$listening" | field sipTLS | tr -d '"')
control=$(echo "$listening" | field control | tr -d '"')
for _ in $(seq 1 30); do grep -q "event=http " "$data/bridge.log" && break; sleep 0.1; done
http=$(grep -m1 "event=http " "$data/bridge.log" | field address | tr -d '"')
echo "bridge pid $bridge: join $signaling, media $media, SIP $sip, SIP TLS $sip_tls, HTTP $http, control $control" >&2

# The meeting: a reference endpoint (the first site) and SITES loadtest sites, for the attack and 10 s around it.
meeting_seconds=$((seconds + 10))
"$bin" endpoint --key-file "$data/reference.key" --bridge "$signaling" \
    --tone 440 --duration "${meeting_seconds}s" --json > "$data/endpoint.json" 2> "$data/endpoint.err" &
endpoint=$!
"$bin" loadtest --sites "$sites" --skip 1 --talkers 2 --duration "${meeting_seconds}s" --bridge "$signaling" --json \
    > "$data/loadtest.json" 2> "$data/loadtest.err" &
loadtest=$!
for _ in $(seq 1 100); do
    n=$("$bin" status --json 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("sites", [])))' 2>/dev/null || echo 0)
    [ "$n" -ge $((sites + 1)) ] && break; sleep 0.1
done
echo "meeting: $n sites connected; attacking for $seconds s..." >&2
sleep 2
"$bin" status --json > "$data/status-before.json"
# Status every second during the attack: which sites are in, the mixer's recent lateness.
compact() { python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)))' 2>/dev/null || true; }
( end=$((SECONDS + seconds)); while [ $SECONDS -lt $end ]; do "$bin" status --json 2>/dev/null | compact >> "$data/status-during.jsonl"
  sleep 1; done ) &
sampler=$!
"$bench" hostile-joins --target "$signaling" --site "$first_site" --seconds "$seconds" --rate "$join_rate" \
    > "$data/joins.json" &
joins=$!
python3 Scripts/hostile/attack.py --seconds "$seconds" --signal "$signaling" --media "$media" --http "$http" --sip "$sip" \
    --sip-tls "$sip_tls" --control "$control" --site "$first_site" --join-rate 0 --media-rate "$media_rate" \
    --slow "$slow" > "$data/attack.json"
wait "$joins"
wait "$sampler" || true
"$bin" status --json > "$data/status-after.json"
wait "$endpoint" || true
wait "$loadtest" || true
[ -n "$cgroup" ] && echo "quota: $(tr '\n' ' ' < "$cgroup/cpu.stat")" >&2
python3 - "$data" "$sites" "$seconds" "$join_rate" <<'PY'
import json, sys, statistics
data, sites, seconds, join_rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
attack = []
joins = json.load(open(f"{data}/joins.json"))
for r in json.load(open(f"{data}/attack.json")) + [joins]:  # the join flood runs in several processes: one row for them
    same = next((x for x in attack if x["listener"] == r["listener"] and not r.get("slow")), None)
    if same is None: attack.append(r); continue
    for k, v in r.items():
        if isinstance(v, (int, float)) and not k.startswith("worst"): same[k] = same.get(k, 0) + v
load = json.load(open(f"{data}/loadtest.json"))
try:
    endpoint = json.load(open(f"{data}/endpoint.json"))
except Exception:
    endpoint = {}
before, after = json.load(open(f"{data}/status-before.json")), json.load(open(f"{data}/status-after.json"))
during = [json.loads(l) for l in open(f"{data}/status-during.jsonl") if l.strip()]
legit = {s["site"] for s in before.get("sites", [])}
intruders = sorted({s["site"] for st in during + [after] for s in st.get("sites", [])} - legit)
log = open(f"{data}/bridge.log").read()
ok = True
def check(name, value, target, good):
    global ok
    ok = ok and good
    print(f"{name:58} {value:>14}   target {target:10} {'ok' if good else 'MISSED'}")
print()
rates = [load["deliveryMinPerSecond"], load["deliveryMedianPerSecond"]]
check("loadtest sites: audio packets/s, slowest", round(load["deliveryMinPerSecond"], 2), ">= 49.5", load["deliveryMinPerSecond"] >= 49.5)
check("loadtest sites: audio packets/s, median", round(load["deliveryMedianPerSecond"], 2), "50", load["deliveryMedianPerSecond"] >= 49)
if endpoint:
    duration = float(endpoint.get("seconds", 0) or 0) or (seconds + 10)
    per = int(endpoint.get("packetsReceived", "0")) / duration
    check("reference endpoint: audio packets/s", round(per, 2), ">= 49.5", per >= 49.5)
late = max([st.get("tickLateP99RecentUs", -1) for st in during] or [-1])
check("mixer tick lateness p99, worst 10 s window in the attack (us)", late, "< 5000", 0 <= late < 5000)
check("mixer tick lateness p99 since start (us)", after.get("tickLateP99Us"), "-", True)
accepted = sum(r.get("accepted", 0) for r in attack)
check("accepted from attackers (welcomes, 200s, answers)", accepted, "= 0", accepted == 0)
check("sites in the meeting that were not before the attack", len(intruders), "= 0", not intruders)
check("site sessions ended during the attack", sum(1 for l in log.splitlines() if "event=site-lost" in l), "= 0",
      "event=site-lost" not in log)
check("forged joins attempted (connections started), per second", joins.get("startedPerSecond", "-"), f">= {join_rate:.0f}",
      joins.get("startedPerSecond", 0) >= 0.98 * join_rate)
check("forged joins written to the bridge (all bytes sent), per second", joins["ratePerSecond"], f"{join_rate:.0f}", True)
print(f"{'  not accepted (the listen queue was full: SYNs dropped), held open past 6 s':58} {joins.get('notAccepted', '-')} / {joins['heldOpen']}")
print(f"{'  by kind: written / challenged / refused / closed silently / accepted':58}")
for kind, t in joins["forgeries"].items():
    print(f"  {kind:14} {t['written']:>9} / {t['challenged']:>8} / {t['refused']:>8} / {t['closedSilently']:>8} / {t['accepted']}   "
          f"bytes {t['sentBytes']} in, {t['receivedBytes']} out ({t['receivedBytes'] / max(1, t['sentBytes']):.3f})")
print(f"{'media socket: slices that left datagrams / kernel drops':58} {after.get('receiveBudgetExhausted', '-')} / {after.get('receiveDroppedByKernel', '-')}")
print(f"{'media: unknown-SSRC / malformed / refused WebRTC datagrams':58} {after.get('unknownSSRCPackets')} / {after.get('malformedPackets')} / {after.get('refusedWebRTCPackets')}")
print()
print("amplification: bytes the bridge sent the attackers / bytes they sent; a reflection risk only where no handshake proves the\n"
      "address (UDP: checked); TCP and Unix peers proved theirs, and their figures show what error answers cost")
print(f"{'listener':36} {'requests':>9} {'rate/s':>8} {'bytes in':>12} {'bytes out':>12} {'amplif.':>8}  closed by the bridge (of opened)")
for r in sorted(attack, key=lambda r: r["listener"]):
    amp = r["receivedBytes"] / max(1, r["sentBytes"])
    closed = ""
    if r.get("slow"):
        closed = ", ".join(f"{k} {r['closedByBridge'][k]}/{r['opened'][k]}" for k in r["opened"]) + f" (last after {r['lastClosedAfterSeconds']} s)"
    elif "worstSourceAmplification" in r:
        closed = f"worst source address {r['worstSourceAmplification']}, worst address+port {r['worstPortAmplification']} (the allowance is per address)"
    print(f"{r['listener']:36} {r['sent']:>9} {r.get('ratePerSecond', ''):>8} {r['sentBytes']:>12} {r['receivedBytes']:>12} {amp:>8.3f}  {closed}")
    # Reflection matters where an address is not proven: UDP. TCP and Unix peers proved theirs in the handshake.
    if "UDP" in r["listener"] or r["listener"] == "join (TCP) forged":
        check(f"  amplification, {r['listener']}", round(amp, 3), "<= 1", amp <= 1)
        if "worstSourceAmplification" in r:
            check(f"  amplification, worst single source, {r['listener']}", r["worstSourceAmplification"], "<= 1", r["worstSourceAmplification"] <= 1)
print("targets:", "met" if ok else "NOT met")
PY
