#!/usr/bin/env bash
# Runs every test: installs the system libraries if missing, builds, and runs the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
# The video tests encode their input with a real encoder (ffmpeg with libvpx and libx264) and decode what arrives;
# the store durability test watches the CLI's file system calls with strace; the DTLS tests use OpenSSL's DTLS client
# (s_client) as the peer.
vcb_apt_install ffmpeg strace openssl python3-venv
# aiortc (PyPI), a real WebRTC client, joins the bridge as a site in the WebRTC tests.
if [ ! -x .build/aiortc-venv/bin/python ] || ! .build/aiortc-venv/bin/python -c "import aiortc" 2>/dev/null; then
    mkdir -p .build
    python3 -m venv .build/aiortc-venv
    .build/aiortc-venv/bin/pip install --quiet --disable-pip-version-check "aiortc==1.16.0"
fi
export VCBRIDGE_AIORTC_PYTHON="$PWD/.build/aiortc-venv/bin/python"
swift build --build-tests
swift test --skip-build
