#!/usr/bin/env bash
# Offline validation of the Kubernetes manifests, no cluster needed:
#  1. renders every overlay (deploy/k8s/overlays/*) with `kubectl kustomize` and checks it with
#     the shared k8s-validate tool: API schemas, --strict (unknown fields) and --policy
#     (probes, resources, restricted security context, PDB + NetworkPolicy, grace, labels);
#  2. checks deploy/k8s/kafka/*.yaml (Strimzi KafkaTopic/KafkaUser) with --strict;
#  3. runs project checks the generic tool cannot know (see pathways-checks below).
# Usage: deploy/k8s/validate.sh      (K8S_VALIDATE_TOOL=<dir> to use another copy of the tool)
# Exit code 0 when everything passed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
tool="${K8S_VALIDATE_TOOL:-$repo/../shared/tools/k8s-validate}"
[ -f "$tool/validate-k8s.mjs" ] || { echo "validate.sh: k8s-validate not found at $tool" >&2; exit 2; }
command -v kubectl >/dev/null || { echo "validate.sh: kubectl is required" >&2; exit 2; }

# The tool's folder is read-only where CI sees it: install a copy in a scratch directory.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp -r "$tool/." "$tmp"
(cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>"$tmp/npm.log") \
  || { cat "$tmp/npm.log" >&2; echo "validate.sh: npm ci failed" >&2; exit 2; }

# Checks specific to these manifests, on the rendered output. Lives in $tmp so that it resolves
# the tool's `yaml` package.
cat > "$tmp/pathways-checks.mjs" <<'JS'
import fs from "node:fs";
import { parseAllDocuments } from "yaml";
// Usage: node pathways-checks.mjs FILE... | -   (multi-document YAML, like validate-k8s.mjs)
const objs = [];
for (const f of process.argv.slice(2)) {
  for (const d of parseAllDocuments(fs.readFileSync(f === "-" ? 0 : f, "utf8"))) {
    if (d.errors.length) { console.log(`FAIL ${f}: YAML: ${d.errors[0].message}`); process.exit(1); }
    const o = d.toJS();
    if (o && o.kind) objs.push(o);
  }
}
const problems = [];
const configMaps = new Map(objs.filter((o) => o.kind === "ConfigMap").map((o) => [o.metadata.name, o.data ?? {}]));
// Credentials: only from a Secret (the pseudonym secret is required, notify's webhook header not).
const credentials = ["PATHWAYS_PSEUDONYM_SECRET", "PATHWAYS_WEBHOOK_AUTHORIZATION"];
for (const [name, data] of configMaps)
  for (const k of credentials) if (k in data) problems.push(`ConfigMap/${name}: holds ${k}`);
// Settings every service must agree on (same keys, same patients, same deadlines): value per key
// from the first StatefulSet that sets it.
const shared = ["PATHWAYS_KAFKA_BOOTSTRAP", "PATHWAYS_TIME_ZONE", "PATHWAYS_CALENDAR", "PATHWAYS_SATURDAY_IS_WORKING_DAY",
  "PATHWAYS_REFERRAL_TOPIC", "PATHWAYS_PATHWAY_TOPIC", "PATHWAYS_DEAD_LETTER_TOPIC", "PATHWAYS_CATALOGUE_DIRS", "PATHWAYS_PSEUDONYM_SECRET"];
const agreed = new Map();
for (const s of objs.filter((o) => o.kind === "StatefulSet")) {
  const id = `StatefulSet/${s.metadata.name}`, pod = s.spec.template.spec;
  for (const c of pod.containers) {
    const env = {};
    for (const ref of c.envFrom ?? []) {
      if (!ref.configMapRef) continue;
      if (!configMaps.has(ref.configMapRef.name)) problems.push(`${id}: ConfigMap ${ref.configMapRef.name} not in the output`);
      Object.assign(env, configMaps.get(ref.configMapRef.name) ?? {});
    }
    for (const e of c.env ?? []) env[e.name] = e.value ?? e.valueFrom;
    // The server waits up to the drain timeout twice (calls in flight, then the outbox).
    const drain = Number(env.PATHWAYS_DRAIN_TIMEOUT_SECONDS ?? 10), grace = pod.terminationGracePeriodSeconds ?? 30;
    if (!(grace >= 2 * drain + 5)) problems.push(`${id}: terminationGracePeriodSeconds ${grace} < 2 x drain timeout ${drain} + 5`);
    for (const k of credentials) {
      const entry = (c.env ?? []).find((e) => e.name === k);
      if ((entry || k === "PATHWAYS_PSEUDONYM_SECRET") && !entry?.valueFrom?.secretKeyRef) problems.push(`${id}/${c.name}: ${k} must come from a secretKeyRef`);
    }
    for (const k of shared) {
      if (!(k in env)) continue;
      const ref = env[k]?.secretKeyRef;  // a secretKeyRef compares as its Secret name and key
      const v = ref ? `Secret ${ref.name} key ${ref.key}` : JSON.stringify(env[k]);
      if (!agreed.has(k)) agreed.set(k, [v, id]);
      else if (agreed.get(k)[0] !== v) problems.push(`${id}: ${k}=${v} differs from ${agreed.get(k)[1]} (${agreed.get(k)[0]})`);
    }
    // The gRPC listen address must be reachable from the Services and the kubelet's probes.
    for (const [k, v] of Object.entries(env)) {
      if (!/_GRPC_LISTEN$/.test(k) || typeof v !== "string") continue;
      const port = Number(v.split(":").pop());
      if (/^(127\.|localhost|\[::1\])/.test(v)) problems.push(`${id}/${c.name}: ${k}=${v} listens on loopback only`);
      for (const p of ["startupProbe", "livenessProbe", "readinessProbe"])
        if (c[p] && c[p].grpc?.port !== port) problems.push(`${id}/${c.name}: ${p} is not a gRPC probe on port ${port}`);
    }
  }
}
// k8s-validate does not report unknown fields of custom resources: check the spec keys here.
const allowed = {
  KafkaTopic: ["topicName", "partitions", "replicas", "config"],
  KafkaUser: ["authentication", "authorization", "quotas", "template"],
};
for (const o of objs.filter((o) => allowed[o.kind])) {
  const id = `${o.kind}/${o.metadata?.name}`;
  if (!o.metadata?.labels?.["strimzi.io/cluster"]) problems.push(`${id}: label strimzi.io/cluster missing`);
  for (const k of Object.keys(o.spec ?? {})) if (!allowed[o.kind].includes(k)) problems.push(`${id}: spec.${k} is not a field of ${o.kind}`);
  for (const [i, acl] of (o.spec?.authorization?.acls ?? []).entries())
    for (const k of Object.keys(acl)) if (!["resource", "operations", "host", "type"].includes(k)) problems.push(`${id}: acls[${i}].${k} is not a field of an ACL rule`);
}
for (const p of problems) console.log(`FAIL ${p}`);
console.log(`pathways checks: ${problems.length} problem(s)`);
process.exit(problems.length ? 1 : 0);
JS

status=0
run() {  # run <title> <command...>: prints the output, remembers a failure
  echo "== $1"
  shift
  "$@" || status=1
}
validate_overlay() {
  local out="$tmp/rendered-$(basename "$1").yaml"
  kubectl kustomize "$1" > "$out" || return 1
  local rc=0
  node "$tmp/validate-k8s.mjs" --strict --policy - < "$out" || rc=1
  node "$tmp/pathways-checks.mjs" "$out" || rc=1
  return $rc
}
for overlay in "$here"/overlays/*/; do
  run "overlay $(basename "$overlay") (kubectl kustomize | k8s-validate --strict --policy)" \
    validate_overlay "${overlay%/}"
done
run "kafka/*.yaml (k8s-validate --strict)" node "$tmp/validate-k8s.mjs" --strict "$here"/kafka/*.yaml
run "kafka/*.yaml (pathways checks)" node "$tmp/pathways-checks.mjs" "$here"/kafka/*.yaml

if [ "$status" -eq 0 ]; then echo "validate.sh: all passed"; else echo "validate.sh: FAILED"; fi
exit "$status"
