#!/usr/bin/env bash
# The main job: installs what is missing, builds vcbridge (release), checks this machine's codec and
# crypto libraries, then walks through a secretariat's day on a scratch booking store.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
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
