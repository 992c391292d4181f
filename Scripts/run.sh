#!/usr/bin/env bash
# The main job: installs what is missing, builds vcbridge (release), shows what it can do and
# checks this machine's codec and crypto libraries with known-answer tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
swift build -c release --product vcbridge
bin="$(swift build -c release --show-bin-path)/vcbridge"
"$bin" --help
echo
"$bin" doctor
