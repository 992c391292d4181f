#!/usr/bin/env bash
# Runs every test: installs the system libraries if missing, builds, and runs the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
swift build --build-tests
swift test --skip-build
