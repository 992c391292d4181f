#!/usr/bin/env bash
# Installs what vcbridge needs on a fresh Debian 12 machine (idempotent). Sourced by the other scripts.
set -euo pipefail

VCB_PACKAGES=(pkg-config libopus-dev libsrtp2-dev libnss3-dev)

vcb_missing_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    echo "${missing[@]:-}"
}

vcb_apt_install() {
    local missing
    missing=$(vcb_missing_packages "$@")
    [ -z "$missing" ] && return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "setup: installing $missing" >&2
    $sudo apt-get update -qq >&2
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >&2
}

vcb_apt_install "${VCB_PACKAGES[@]}"

if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then
        export PATH="/opt/swift/usr/bin:$PATH"
    else
        echo "setup: the Swift 6 toolchain is not installed (expected on PATH or at /opt/swift)" >&2
        exit 1
    fi
fi

# vcb_aiortc: aiortc (PyPI), a real WebRTC client, in .build/aiortc-venv; exports VCBRIDGE_AIORTC_PYTHON.
vcb_aiortc() {
    vcb_apt_install python3-venv
    if [ ! -x .build/aiortc-venv/bin/python ] || ! .build/aiortc-venv/bin/python -c "import aiortc" 2>/dev/null; then
        mkdir -p .build
        python3 -m venv .build/aiortc-venv
        .build/aiortc-venv/bin/pip install --quiet --disable-pip-version-check "aiortc==1.16.0"
    fi
    export VCBRIDGE_AIORTC_PYTHON="$PWD/.build/aiortc-venv/bin/python"
}
