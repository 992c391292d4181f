#!/usr/bin/env bash
# Benchmark: one video source at 1.5 Mb/s (about 175 packets/s of up to 1,200 bytes) forwarded to 146
# receivers while the 147-site audio meeting runs (real joins, SRTP, Opus: `vcbridge loadtest`), and,
# in the same run, the C floor for the same work (Scripts/bench/forward_floor.c: one libsrtp2
# unprotect, 146 protects, one sendmmsg per packet).
#   Scripts/bench-video.sh [ROUNDS] [SECONDS]
# Each round starts a fresh bridge, runs the meeting without video, then with video, then the floor;
# the bridge's cost per forwarded packet is its extra CPU with video divided by the packets forwarded.
# The floor gets the same packets at the same moments as they left the load generator (its send log),
# so bursts the generator's pacer lets through reach both alike. A copy's delay runs from the packet's
# arrival (the kernel's receive time in the bridge) to the return of the send that carried the copy.
# Targets: the bridge at most 1.3x the floor per forwarded packet; added delay p99 under 1 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
source Scripts/bench/common.sh
rounds=${1:-3}
seconds=${2:-20}
swift build -c release --product vcbridge >&2
bin="$(swift build -c release --show-bin-path)/vcbridge"
bridge_workspace bench-video bench
cc -O2 -o "$data/forward_floor" Scripts/bench/forward_floor.c $(pkg-config --cflags --libs libsrtp2) -lpthread

"$bin" meeting book --title "Benchmark: toàn tỉnh, có hình" --host central --scope all --start now --duration 2h >&2
key_sites "$bin"
echo "$rounds rounds of ${seconds}s without and with video, then the floor" >&2

for r in $(seq 1 "$rounds"); do
    start_bridge "$bin" "$data/bridge-$r.log"
    "$bin" loadtest --sites 147 --talkers 3 --duration "${seconds}s" --bridge "$signaling" --json > "$data/audio-$r.json"
    sleep 1
    "$bin" loadtest --sites 147 --talkers 3 --duration "${seconds}s" --bridge "$signaling" --video-senders 1 --video-kbps 1500 \
        --video-send-log "$data/sent-$r.txt" --json > "$data/video-$r.json"
    kill -INT "$bridge"; wait "$bridge" || true; bridge=
    packets=$(wc -l < "$data/sent-$r.txt")
    "$data/forward_floor" 146 1200 "$packets" --schedule "$data/sent-$r.txt" > "$data/floor-$r.txt"
    # And what sharding the fan-out over both cores would gain: the floor with two threads.
    "$data/forward_floor" 146 1200 "$packets" --schedule "$data/sent-$r.txt" --threads 2 > "$data/floor2-$r.txt"
    echo "round $r: $(cat "$data/floor-$r.txt")" >&2
    echo "round $r: $(cat "$data/floor2-$r.txt")" >&2
done

python3 - "$data" "$rounds" <<'PY'
import json, statistics, sys
data, rounds = sys.argv[1], int(sys.argv[2])
rows = []
for r in range(1, rounds + 1):
    a = json.load(open(f"{data}/audio-{r}.json")); v = json.load(open(f"{data}/video-{r}.json"))
    floor = dict(kv.split("=") for kv in open(f"{data}/floor-{r}.txt").read().split())
    floor2 = dict(kv.split("=") for kv in open(f"{data}/floor2-{r}.txt").read().split())
    vid = v["video"]
    # CPU seconds the bridge spent on video: with video minus without, over the same length of run.
    extra = v["bridgeCPUSeconds"] - a["bridgeCPUSeconds"] * v["elapsedSeconds"] / a["elapsedSeconds"]
    per_packet_us = extra / vid["packetsSent"] * 1e6
    floor_us = float(floor["cpu_ns_per_packet"]) / 1000
    rows.append(dict(round=r, audio_cpu=a["bridgeCPUPercent"], video_cpu=v["bridgeCPUPercent"], per_packet_us=per_packet_us,
                     floor_us=floor_us, ratio=per_packet_us / floor_us, sent_pps=vid["sentPacketsPerSecond"],
                     recv_min=vid["receiversMinPacketsPerSecond"], recv_med=vid["receiversMedianPacketsPerSecond"],
                     e2e_p50=vid["endToEndDelayP50Us"], e2e_p99=vid["endToEndDelayP99Us"],
                     fwd_p50=vid["bridgeForwardP50Us"], fwd_p99=vid["bridgeForwardP99Us"],
                     floor_p50=int(floor["copy_delay_p50_us"]), floor_p99=int(floor["copy_delay_p99_us"]),
                     delay_ratio=vid["bridgeForwardP99Us"] / int(floor["copy_delay_p99_us"]),
                     floor2_p50=int(floor2["copy_delay_p50_us"]), floor2_p99=int(floor2["copy_delay_p99_us"]),
                     audio_min=v["deliveryMinPerSecond"], rss=v["bridgePeakRSSMB"], auth=vid["authenticationFailures"]))
print("per forwarded packet: CPU µs for all 146 copies; per copy: µs from the packet's arrival to the send that carried it;")
print("the floor: the same packets at the same moments (the load generator's send log)")
print(f"{'round':>5} {'CPU audio %':>11} {'CPU +video %':>12} {'bridge µs/pkt':>13} {'floor µs/pkt':>12} {'ratio':>6} "
      f"{'sent pps':>8} {'recv min':>8} {'bridge copy p50/p99':>19} {'floor copy p50/p99':>18} {'send-to-arrival p50/p99':>23} {'audio min':>9}")
for x in rows:
    print(f"{x['round']:>5} {x['audio_cpu']:>11.1f} {x['video_cpu']:>12.1f} {x['per_packet_us']:>13.0f} {x['floor_us']:>12.0f} "
          f"{x['ratio']:>6.2f} {x['sent_pps']:>8.1f} {x['recv_min']:>8.1f} {str(x['fwd_p50']) + '/' + str(x['fwd_p99']):>19} "
          f"{str(x['floor_p50']) + '/' + str(x['floor_p99']):>18} {str(x['e2e_p50']) + '/' + str(x['e2e_p99']):>23} {x['audio_min']:>9.1f}")
med = lambda k: statistics.median(x[k] for x in rows)
print()
checks = [
    ("bridge CPU per forwarded packet (µs, 146 copies)", round(med("per_packet_us")), "-", True),
    ("C floor per packet (µs)", round(med("floor_us")), "-", True),
    ("ratio bridge / floor (median of rounds)", round(med("ratio"), 2), "<= 1.3", med("ratio") <= 1.3),
    ("bridge CPU with audio + video (% of one core)", round(med("video_cpu"), 1), "-", True),
    ("added delay in the bridge per copy p50 (µs)", med("fwd_p50"), "-", True),
    ("added delay in the bridge per copy p99 (µs)", med("fwd_p99"), "< 1000", med("fwd_p99") < 1000),
    ("the C floor's own delay per copy p50 / p99 (µs)", f"{med('floor_p50')}/{med('floor_p99')}", "-", True),
    ("delay p99 ratio bridge / floor (median of rounds)", round(med("delay_ratio"), 2), "-", True),
    ("the floor on two threads, delay per copy p50 / p99 (µs)", f"{med('floor2_p50')}/{med('floor2_p99')}", "-", True),
    ("send-to-arrival p50 / p99 (µs, incl. load generator)", f"{med('e2e_p50')}/{med('e2e_p99')}", "-", True),
    ("slowest receiver (video packets/s)", round(med("recv_min"), 1), f">= {0.99 * med('sent_pps'):.0f}", med("recv_min") >= 0.99 * med("sent_pps")),
    ("slowest site (audio packets/s)", round(med("audio_min"), 1), ">= 49.5", med("audio_min") >= 49.5),
    ("video authentication failures", sum(x["auth"] for x in rows), "0", sum(x["auth"] for x in rows) == 0),
]
for name, value, target, ok in checks:
    print(f"{name:54} {value:>10}   target {target:8} {'ok' if ok else 'MISSED'}")
print("targets:", "met" if all(c[3] for c in checks) else "NOT met")
PY
