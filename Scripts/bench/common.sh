# Helpers shared by the benchmark scripts (sourced).
# field NAME: the value of NAME=value in a line of space-separated name=value pairs on stdin.
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }
# median: the median of the numbers on stdin, one per line.
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# speech_sample FILE: a Vietnamese speech recording (espeak-ng, about 12 s, 22.05 kHz mono) written to
# FILE; prints its length in whole seconds, rounded up.
speech_sample() {
    espeak-ng -v vi -s 140 -w "$1" \
      "Kính thưa các đồng chí. Hội nghị trực tuyến hôm nay triển khai nhiệm vụ phát triển kinh tế xã hội của tỉnh Vĩnh Phúc. \
       Đề nghị các xã, phường, thị trấn chuẩn bị báo cáo kết quả thực hiện trong quý vừa qua và kế hoạch cho quý tới."
    python3 -c "import wave; w=wave.open('$1'); print(int(w.getnframes()/w.getframerate())+1)"
}

# natural_speech_sample FILE: natural recorded speech, 48 kHz mono, about 10 s: seven channel names
# spoken in Debian's alsa-utils recordings (/usr/share/sounds/alsa), one after another, written to
# FILE; prints its length in whole seconds, rounded up. Installs alsa-utils if they are missing.
natural_speech_sample() {
    [ -f /usr/share/sounds/alsa/Front_Left.wav ] || vcb_apt_install alsa-utils
    python3 - "$1" <<'PY'
import sys, wave
names = ["Front_Left", "Front_Center", "Front_Right", "Side_Left", "Side_Right", "Rear_Left", "Rear_Right"]
frames = b""
for name in names:
    with wave.open(f"/usr/share/sounds/alsa/{name}.wav") as w:
        assert w.getframerate() == 48000 and w.getnchannels() == 1 and w.getsampwidth() == 2, name
        frames += w.readframes(w.getnframes())
with wave.open(sys.argv[1], "wb") as out:
    out.setnchannels(1); out.setsampwidth(2); out.setframerate(48000); out.writeframes(frames)
print(int(len(frames) / 2 / 48000) + 1)
PY
}

# start_bridge VCBRIDGE LOG [serve options...]: starts `vcbridge serve` on loopback ports the kernel
# chooses, its log in LOG, and waits until it listens; sets bridge (its pid), signaling and media.
start_bridge() {
    local exe=$1 log=$2; shift 2
    "$exe" serve --listen 127.0.0.1 --signal-port 0 --media-port 0 "$@" 2> "$log" &
    bridge=$!
    for _ in $(seq 1 50); do grep -q event=listening "$log" && break; sleep 0.1; done
    signaling=$(sed -n 's/.*event=listening signaling=\([^ ]*\).*/\1/p' "$log")
    media=$(sed -n 's/.*event=listening.* media=\([^ ]*\).*/\1/p' "$log")
}

# bridge_workspace NAME ORGANISER: a scratch data directory in $data for one run, exported as the
# data directory with ORGANISER as the bookings' organiser; on exit any bridge started by start_bridge
# is stopped and the directory removed.
bridge_workspace() {
    data=$(mktemp -d "/tmp/vcb-$1.XXXXXX")
    export VCBRIDGE_DATA_DIR="$data" VCBRIDGE_ORGANISER="$2"
    trap 'cleanup_workspace' EXIT
}
cleanup_workspace() {  # VCB_KEEP_WORKSPACE=1 keeps the files for a look afterwards
    [ -n "${bridge:-}" ] && kill -INT "$bridge" 2>/dev/null; wait 2>/dev/null || true
    if [ -n "${VCB_KEEP_WORKSPACE:-}" ]; then echo "kept $data" >&2; else rm -rf "$data"; fi
}

# key_sites VCBRIDGE [COUNT]: makes a key for each of the first COUNT sites in directory order (all by default).
key_sites() {
    for site in $("$1" sites --json | sed -n 's/.*"id" : "\([^"]*\)".*/\1/p' | head -"${2:-1000}"); do
        "$1" site key "$site" --out /dev/null > /dev/null
    done
}
