#!/usr/bin/env bash
# The quick start on a fresh Debian 12 machine (as root, or with the packages
# already installed): installs what is missing, then hands over to make.
#   ./dev.sh run    build and run the product on this machine
#   ./dev.sh test   build and run every test
# Any other make target works too: ./dev.sh test-asan, ./dev.sh bench.
set -euo pipefail
cd "$(dirname "$0")"
tools/install-deps
exec make "${@:-run}"
