#!/usr/bin/env bash
# Benchmark: a 147-site meeting with 3 talkers, all native Opus, against the same meeting where 40 sites are SIP room
# systems on G.722 (`vcbridge loadtest --sip-sites 40 --sip-codec g722`: real SIP calls with SDES-SRTP, digest, ACK,
# G.722 from VoiceCodecs, no audio levels, BYE at the end; one of the talkers among them), each run on a fresh release
# bridge on loopback with SIP on, ROUNDS times alternately.
#   Scripts/bench-sip.sh [SECONDS] [ROUNDS] [SIP_SITES] [SIP_TALKERS] [CODEC]
# Prints per run: the bridge's CPU (with every site in, and over the whole run), mixer tick lateness p50/p99, encodes per
# tick, packets per second per site (slowest native and SIP site, median), SIP calls connected; then the medians and the
# ratio SIP meeting / all-Opus meeting. The meeting is whole when every site receives 50 packets/s and every call connected.
# The load generator counts what it has read by the end of its run: on a machine busy with other work its receive loop
# lags, which shows as fewer (or, catching up, a little over 50) packets/s for every site alike, not as a bridge fault.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
source Scripts/bench/common.sh
seconds=${1:-40}
rounds=${2:-3}
sip_sites=${3:-40}
sip_talkers=${4:-1}
codec=${5:-g722}
swift build -c release --product vcbridge >&2
bin="$(swift build -c release --show-bin-path)/vcbridge"
results=$(mktemp -d /tmp/vcb-bench-sip-results.XXXXXX)
trap 'rm -rf "$results"' EXIT

# run KIND ROUND: one fresh bridge (SIP on), one meeting of 147 sites; KIND native (all Opus) or sip.
run() (
    bridge_workspace bench-sip bench
    echo '{"sip": {"enabled": true, "port": 0}}' > "$data/config.json"
    export VCBRIDGE_CONFIG="$data/config.json"
    "$bin" meeting book --title "Benchmark: SIP" --host central --scope all --start now --duration 2h > /dev/null
    key_sites "$bin"
    start_bridge "$bin" "$data/bridge.log"
    sip=$(sed -n 's/.*event=listening.* sip=\([^ ]*\).*/\1/p' "$data/bridge.log")
    case $1 in
        native) extra=() ;;
        sip) extra=(--sip-sites "$sip_sites" --sip-codec "$codec" --sip-talkers "$sip_talkers" --sip "$sip") ;;
    esac
    echo "round $2: $1, 147 sites, $seconds s" >&2
    "$bin" loadtest --sites 147 --talkers 3 --duration "${seconds}s" --bridge "$signaling" "${extra[@]}" --json > "$results/$1-$2.json"
)

for round in $(seq 1 "$rounds"); do
    for kind in native sip; do run "$kind" "$round"; done
done

python3 - "$results" "$rounds" "$sip_sites" "$codec" <<'PY'
import json, statistics, sys
d, rounds, sip_sites, codec = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rows = {k: [json.load(open(f"{d}/{k}-{r}.json")) for r in range(1, rounds + 1)] for k in ("native", "sip")}
print(f"{'round':>5} {'meeting':12} {'CPU in %':>8} {'CPU %':>6} {'late p50':>8} {'late p99':>8} {'enc/tick':>8} "
      f"{'min pk/s':>8} {'med pk/s':>8} {'SIP min':>8} {'calls':>6}")
for r in range(rounds):
    for k in ("native", "sip"):
        x = rows[k][r]; s = x.get("sip", {})
        label = "all Opus" if k == "native" else f"{sip_sites} {codec}"
        cpu_in = f"{x['bridgeSteadyCPUPercent']:8.1f}" if x['bridgeSteadyCPUPercent'] >= 0 else f"{'-':>8}"
        print(f"{r + 1:>5} {label:12} {cpu_in} {x['bridgeCPUPercent']:6.1f} {x['tickLateP50Us']:>8} "
              f"{x['tickLateP99Us']:>8} {x['encodesLastTick']:>8} {x['deliveryMinPerSecond']:8.1f} {x['deliveryMedianPerSecond']:8.1f} "
              f"{(s['deliveryMinPerSecond'] if s else float('nan')):8.1f} {(str(s['connected']) + '/' + str(s['sites'])) if s else '-':>6}")
        for failure in s.get("failures", [])[:5]: print("      call failed:", failure)
med = lambda k, f: statistics.median(f(x) for x in rows[k])
def steady(k):  # -1: the run had under 4 s with every site in (loadtest samples every 2 s): left out
    values = [x["bridgeSteadyCPUPercent"] for x in rows[k] if x["bridgeSteadyCPUPercent"] >= 0]
    return (statistics.median(values), len(values)) if values else (None, 0)
(cpu_n, n_n), (cpu_s, n_s) = steady("native"), steady("sip")
whole_n = med("native", lambda x: x["bridgeCPUPercent"]); whole_s = med("sip", lambda x: x["bridgeCPUPercent"])
print()
if cpu_n and cpu_s:
    print(f"bridge CPU with every site in (medians of {n_n} and {n_s} runs): all Opus {cpu_n:.1f} %, {sip_sites} SIP {codec} "
          f"{cpu_s:.1f} % of one core = {cpu_s / cpu_n:.2f}x")
else:
    print("bridge CPU with every site in: not measured (each run needs at least 4 s with every site in: SECONDS >= 20)")
print(f"bridge CPU over the whole run, joins and calls included: {whole_n:.1f} % vs {whole_s:.1f} % = {whole_s / whole_n:.2f}x")
for k in ("native", "sip"):
    print(f"{k:6}: tick lateness p99 median {med(k, lambda x: x['tickLateP99Us']):.0f} us; slowest site "
          f"{med(k, lambda x: x['deliveryMinPerSecond']):.1f} packets/s (median of the per-run minimum)")
whole = all(x["deliveryMinPerSecond"] >= 49 for k in rows for x in rows[k]) \
    and all(x["sip"]["connected"] == x["sip"]["sites"] and x["sip"]["hungUp"] == x["sip"]["sites"] for x in rows["sip"])
print("meeting whole in every run (every site >= 49 packets/s, every SIP call connected and hung up):", "yes" if whole else "NO")
PY
