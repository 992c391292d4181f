#!/usr/bin/env bash
# The main job: installs what is missing, builds vcbridge (release), checks this machine's codec and
# crypto libraries, walks through a secretariat's day on a scratch booking store, then runs a live
# six-site meeting with audio and video; one commune joins from the join page in a browser (headless
# Chromium, when installed) and a screenshot of its page is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
vcb_apt_install ffmpeg  # encodes the demo's camera pictures (VP8), as a room's codec would
swift build -c release --product vcbridge
bin="$(swift build -c release --show-bin-path)/vcbridge"
"$bin" --help
echo
"$bin" doctor

demo=$(mktemp -d /tmp/vcbridge-demo.XXXXXX)
trap 'rm -rf "$demo"' EXIT
export VCBRIDGE_DATA_DIR="$demo"
step() { echo; printf '$ vcbridge'; printf ' %q' "$@"; echo; "$bin" "$@" || true; }
tomorrow=$(TZ=Asia/Ho_Chi_Minh date -d tomorrow +%Y-%m-%d)

echo; echo "== A secretariat's day (scratch store in $demo, times in Vietnam time) =="
step sites song-lo
step sites --search "trung nhi"
VCBRIDGE_ORGANISER="VP huyện Sông Lô" step meeting book --title "Giao ban huyện Sông Lô" --host song-lo \
    --scope communes --start "$tomorrow 08:00" --duration 2h
VCBRIDGE_ORGANISER="VP UBND tỉnh" step meeting book --title "Hội nghị trực tuyến toàn tỉnh" --host vinh-phuc \
    --scope province --start "$tomorrow 09:00" --duration 2h
VCBRIDGE_ORGANISER="VP UBND tỉnh" step meeting book --title "Hội nghị trực tuyến toàn tỉnh" --host vinh-phuc \
    --scope province --start "$tomorrow 09:00" --duration 2h --preempt
VCBRIDGE_ORGANISER="VP huyện Yên Lạc" step meeting book --title "Giao ban tuần" --host yen-lac --scope communes \
    --start "$tomorrow 14:00" --duration 1h --repeat weekly --count 4
step meeting list
step meeting notices
step meeting agenda --site tt-yen-lac
step meeting free --sites lang-cong,tt-yen-lac --duration 2h --within 3d

echo; echo "== A live meeting: the bridge, six sites joining with their keys, for about 30 seconds =="
echo "The province chairs and shows its camera to everyone (presenter); the district and two communes"
echo "send cameras too, and each site's speaker video follows whoever talks (never itself). Bạch Lưu's link"
echo "goes through the impairment relay (8 % loss, jittery): watch its grade and the alert technicians get."
echo "Quang Yên joins from the join page, as a hall's PC does (headless Chromium with a fake camera and microphone)."
for pattern in testsrc smptebars rgbtestsrc mandelbrot; do
    ffmpeg -hide_banner -loglevel error -y -f lavfi -i "$pattern=size=320x240:rate=25" -t 4 -g 25 -pix_fmt yuv420p \
        -c:v libvpx -b:v 300k -deadline realtime -cpu-used 8 "$demo/$pattern.ivf"
done
export VCBRIDGE_ORGANISER="VP UBND tỉnh"
signal=${VCBRIDGE_DEMO_SIGNAL_PORT:-27400}
media=${VCBRIDGE_DEMO_MEDIA_PORT:-27402}
web=${VCBRIDGE_DEMO_WEB_PORT:-27480}
# The web listener: status page, metrics, WebRTC and the join page (plain HTTP, as it is on loopback).
echo "{\"quality\": {\"httpEnabled\": true, \"httpAddress\": \"127.0.0.1\", \"httpPort\": $web}}" > "$demo/vcbridge.json"
export VCBRIDGE_CONFIG="$demo/vcbridge.json"
"$bin" meeting book --title "Giao ban trực tuyến (trình diễn)" --host vinh-phuc \
    --scope song-lo,lang-cong,tam-son,quang-yen,bach-luu --start now --duration 1h
for site in vinh-phuc song-lo lang-cong tam-son quang-yen bach-luu; do
    "$bin" site key "$site" --out "$demo/$site.key" > /dev/null
done
"$bin" serve --listen 127.0.0.1 --signal-port "$signal" --media-port "$media" 2> "$demo/bridge.log" &
bridge=$!
trap 'kill -INT $bridge 2>/dev/null || true; rm -rf "$demo"' EXIT
sleep 1
head -1 "$demo/bridge.log"
# Distinct tones taking turns: the province chairs, the district and two communes answer.
relay=$((media + 10))
"$bin" relay --listen "127.0.0.1:$relay" --to "127.0.0.1:$media" --seed 5 --loss 8 --burst 2 --delay 60 --jitter 40 \
    --duration 34s > "$demo/relay.out" 2>&1 &
run_site() { "$bin" endpoint --key-file "$demo/$1.key" --bridge "127.0.0.1:$signal" --tone "$2" --talk "$3" --duration 30s \
    ${4:+--video "$demo/$4.ivf" --video-loop} ${5:+--media-via "127.0.0.1:$5"} > "$demo/$1.out" 2>&1 & }
run_site vinh-phuc 440 8s/4s testsrc
run_site song-lo 550 4s/8s+4s smptebars
run_site lang-cong 660 3s/9s+10s rgbtestsrc
run_site tam-son 770 3s/9s+7s mandelbrot
link="http://127.0.0.1:$web/join/#quang-yen"
echo
echo "Join link of Xã Quang Yên: $link"
echo "  On a hall's PC the technician opens https://<bridge address>:<port>/join/#quang-yen (HTTPS off loopback),"
echo "  loads the site's key file (vcbridge site key quang-yen --out quang-yen.key) once, picks camera, microphone"
echo "  and speaker, and presses Vào họp; before the meeting the page waits and joins by itself at the setup window."
shot="$PWD/join-page-demo.png"
if command -v chromium >/dev/null 2>&1; then
    ffmpeg -hide_banner -loglevel error -y -f lavfi -i "sine=frequency=880:sample_rate=48000" -t 5 -ac 1 "$demo/browser-tone.wav"
    ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=320x240:rate=15" -t 2 -pix_fmt yuv420p "$demo/browser-camera.y4m"
    python3 Scripts/clients/chromium_site.py --url "$link" --key-file "$demo/quang-yen.key" --audio "$demo/browser-tone.wav" \
        --video "$demo/browser-camera.y4m" --lang vi --seconds 28 --click join@1 --screenshot "$shot@in-meeting+12" \
        > "$demo/browser.json" 2> "$demo/browser.err" &
else
    echo "  (Chromium is not installed: Quang Yên joins with the reference endpoint instead)"
    run_site quang-yen 880 1s/29s
fi
run_site bach-luu 990 1s/29s "" "$relay"
for i in $(seq 1 9); do
    sleep 3
    if [ $((i % 3)) = 0 ]; then
        echo; echo "--- $((i * 3)) s: vcbridge quality (what the technicians watch; --watch redraws it every second)"
        "$bin" quality || true
        "$bin" quality --alerts || true
    else
        echo; echo "--- $((i * 3)) s: vcbridge status"
        "$bin" status || true
    fi
done
wait $(jobs -p | grep -v "^$bridge$") 2>/dev/null || true
sleep 1
echo; echo "--- what each site's endpoint reported"
cat "$demo"/*.out
if [ -s "$demo/browser.json" ]; then
    echo; echo "--- what the join page in Chromium saw (Quang Yên)"
    python3 - "$demo/browser.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
last = (r.get("samples") or [{}])[-1].get("diagnostics") or {}
print(f"page state {last.get('state')}, presenter {last.get('presenter')}, speaker {last.get('speaker')}, "
      f"frames decoded {last.get('framesDecoded')}, tones heard {(last.get('incoming') or {}).get('peaks')}, "
      f"link {last.get('connectionState')}, rejoins {last.get('rejoins')}")
print("screenshot:", (r.get("screenshot") or {}).get("path", "none"), "" if r.get("ok") else f"(trouble: {r.get('error')})")
PY
fi
kill -INT "$bridge"; wait "$bridge" || true
echo; echo "--- the bridge's log"
cat "$demo/bridge.log"
meeting=$(sed -n 's/.*event=join site=vinh-phuc meeting=\([0-9]*\).*/\1/p' "$demo/bridge.log" | head -1)
echo; echo "--- after the meeting: vcbridge quality report $meeting (also written as HTML with charts, and CSV)"
(cd "$demo" && "$bin" quality report "$meeting") || true
