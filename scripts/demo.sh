#!/usr/bin/env bash
# Fills a running Pathways system with a realistic week for two units sharing one coordinator
# (see `tools/pathwaysctl/pathwaysctl demo --help`), then prints the coordinator's worklist and
# the notifications. Start the system first, in another terminal:
#
#   scripts/run-system.sh                                  # or, for a quicker breach:
#   PATHWAYS_TIMER_INTERVAL_SECONDS=5 scripts/run-system.sh
#   scripts/demo.sh
#
# The services' addresses are taken from PATHWAYS_{REFERRAL,PATHWAY,NOTIFY}_ADDR, else from the
# listen variables run-system.sh uses (PATHWAYS_*_GRPC_LISTEN), else the defaults. Arguments are
# passed to `pathwaysctl demo` (e.g. --json, --breach-wait 120). Re-runnable: each run adds a week.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATHWAYS_REFERRAL_ADDR="${PATHWAYS_REFERRAL_ADDR:-${PATHWAYS_REFERRAL_GRPC_LISTEN:-127.0.0.1:50061}}"
export PATHWAYS_PATHWAY_ADDR="${PATHWAYS_PATHWAY_ADDR:-${PATHWAYS_PATHWAY_GRPC_LISTEN:-127.0.0.1:50062}}"
export PATHWAYS_NOTIFY_ADDR="${PATHWAYS_NOTIFY_ADDR:-${PATHWAYS_NOTIFY_GRPC_LISTEN:-127.0.0.1:50063}}"
if [ ! -x /usr/bin/python3 ] || ! /usr/bin/python3 -c 'import grpc' 2>/dev/null; then
  echo "demo.sh: Debian's python3 with python3-grpcio is needed (scripts/install-deps.sh installs it)" >&2
  exit 1
fi
exec tools/pathwaysctl/pathwaysctl demo "$@"
