#!/usr/bin/env bash
# Installs the dependencies, builds everything and runs every test (unit, integration, Python
# outside client). Exit code 0 only when all pass. Usage: scripts/test.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j "${TEST_JOBS:-2}" --timeout 300 "$@"
