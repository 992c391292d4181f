#!/usr/bin/env bash
# Runs every test: installs the system libraries if missing, builds, and runs the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
# The video tests encode their input with a real encoder (ffmpeg with libvpx and libx264) and decode what arrives.
vcb_apt_install ffmpeg openssl  # openssl: the DTLS tests use its DTLS client (s_client) as the peer
swift build --build-tests
swift test --skip-build
