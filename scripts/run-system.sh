#!/usr/bin/env bash
# Installs the dependencies, builds, and runs the whole system on the embedded Kafka broker:
# pathways-broker, then each service, all sharing one data directory (var/ by default).
# Waits until every service reports it is serving, prints the endpoints, and stops everything
# cleanly (SIGTERM, in reverse order) on Ctrl-C. Running it again continues with the stored data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh

data_dir="${PATHWAYS_DATA_DIR:-$PWD/var}"
broker_listen="${PATHWAYS_BROKER_LISTEN:-127.0.0.1:9092}"
referral_listen="${PATHWAYS_REFERRAL_GRPC_LISTEN:-127.0.0.1:50061}"
pathway_listen="${PATHWAYS_PATHWAY_GRPC_LISTEN:-127.0.0.1:50062}"
notify_listen="${PATHWAYS_NOTIFY_GRPC_LISTEN:-127.0.0.1:50063}"
export PATHWAYS_REFERRAL_METRICS_LISTEN="${PATHWAYS_REFERRAL_METRICS_LISTEN:-127.0.0.1:9461}"
export PATHWAYS_PATHWAY_METRICS_LISTEN="${PATHWAYS_PATHWAY_METRICS_LISTEN:-127.0.0.1:9462}"
export PATHWAYS_NOTIFY_METRICS_LISTEN="${PATHWAYS_NOTIFY_METRICS_LISTEN:-127.0.0.1:9463}"
mkdir -p "$data_dir/log"
# A development secret, kept with the data so keys stay stable across runs. Production sets
# PATHWAYS_PSEUDONYM_SECRET from a Kubernetes Secret.
if [ -z "${PATHWAYS_PSEUDONYM_SECRET:-}" ]; then
  [ -f "$data_dir/dev-pseudonym-secret" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$data_dir/dev-pseudonym-secret"
  export PATHWAYS_PSEUDONYM_SECRET="$(cat "$data_dir/dev-pseudonym-secret")"
fi
export PATHWAYS_KAFKA_BOOTSTRAP="$broker_listen"

pids=()
stop_all() {
  trap - INT TERM EXIT
  echo "stopping..."
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  echo "stopped"
  exit 0
}
trap stop_all INT TERM EXIT

wait_for() {  # wait_for <log file> <text> <name>
  for _ in $(seq 1 300); do
    if grep -q "$2" "$1" 2>/dev/null; then return 0; fi
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then
      echo "$3 failed to start; last log lines:" >&2; tail -20 "$1" >&2; exit 1
    fi
    sleep 0.1
  done
  echo "$3 did not start within 30 s" >&2; exit 1
}

build/bin/pathways-broker --listen="$broker_listen" > "$data_dir/log/broker.log" 2>&1 &
pids+=($!)
wait_for "$data_dir/log/broker.log" '"ready"' pathways-broker

build/bin/referral-server --grpc-listen="$referral_listen" --data-dir="$data_dir/referral" \
  > "$data_dir/log/referral.log" 2>&1 &
pids+=($!)
wait_for "$data_dir/log/referral.log" '"serving"' referral-server

build/bin/pathway-server --grpc-listen="$pathway_listen" --data-dir="$data_dir/pathway" \
  --catalogue-dirs="${PATHWAYS_CATALOGUE_DIRS:-$PWD/catalogue}" \
  > "$data_dir/log/pathway.log" 2>&1 &
pids+=($!)
wait_for "$data_dir/log/pathway.log" '"serving"' pathway-server

build/bin/notify-server --grpc-listen="$notify_listen" --data-dir="$data_dir/notify" \
  --catalogue-dirs="${PATHWAYS_CATALOGUE_DIRS:-$PWD/catalogue}" \
  --file-channel-path="$data_dir/notifications.jsonl" \
  > "$data_dir/log/notify.log" 2>&1 &
pids+=($!)
wait_for "$data_dir/log/notify.log" '"serving"' notify-server

cat <<INFO

Pathways is running (data in $data_dir, logs in $data_dir/log):
  Kafka (embedded broker)   $broker_listen
  referral  gRPC            $referral_listen   (referral.v1.ReferralService, health, reflection)
  pathway   gRPC            $pathway_listen   (pathway.v1.PathwayService, health, reflection)
  notify    gRPC            $notify_listen   (notify.v1.NotifyService, health, reflection)
  metrics (Prometheus)      http://$PATHWAYS_REFERRAL_METRICS_LISTEN/metrics  http://$PATHWAYS_PATHWAY_METRICS_LISTEN/metrics  http://$PATHWAYS_NOTIFY_METRICS_LISTEN/metrics
  notifications (file channel)  $data_dir/notifications.jsonl
Press Ctrl-C to stop.
INFO
wait -n "${pids[@]}" || true
echo "a process exited; see $data_dir/log" >&2
