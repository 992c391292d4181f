#!/usr/bin/env bash
# Runs every test: installs the system libraries if missing, builds, and runs the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
# The video tests encode their input with a real encoder (ffmpeg with libvpx and libx264) and decode what arrives;
# the store durability test watches the CLI's file system calls with strace; the DTLS tests use OpenSSL's DTLS client
# (s_client) as the peer. The join page's tests drive Debian's Chromium headless (Scripts/clients/chromium_site.py,
# standard-library Python over the DevTools pipe); DejaVu has the Vietnamese letters for its screenshots. baresip
# (baresip-core: SIP, SDES-SRTP, Opus, aufile, sndfile) calls the bridge as a hall's room system in the SIP tests.
# The service test (InstallScriptTests) runs install.sh's unit through systemd-analyze verify/security (package systemd,
# already there on a Debian machine booted with it) and its ExecStart under unshare/setpriv (util-linux, always there).
vcb_apt_install ffmpeg strace openssl python3-venv chromium fonts-dejavu-core baresip-core systemd
# aiortc (PyPI), a real WebRTC client, joins the bridge as a site in the WebRTC tests.
vcb_aiortc
swift build --build-tests
swift test --skip-build
# Every parser of outside bytes under libFuzzer for a few seconds each (about 2 minutes for all; Tests/Fuzz/README.md).
Scripts/fuzz.sh "${VCB_FUZZ_SECONDS:-5}"
