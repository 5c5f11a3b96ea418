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
// Kafka over TLS with the service's own identity (README, "Kafka TLS"): helpers for the checks in
// the loop below.
const nsOf = (o) => o.metadata?.namespace ?? "";
const kafkaUsers = objs.filter((o) => o.kind === "KafkaUser");
const netpols = objs.filter((o) => o.kind === "NetworkPolicy");
const selectsPod = (sel, labels) => !!sel && Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v) &&
  (sel.matchExpressions ?? []).every(({ key, operator, values = [] }) =>
    operator === "In" ? values.includes(labels[key]) : operator === "NotIn" ? !values.includes(labels[key]) :
    operator === "Exists" ? key in labels : !(key in labels));
// The Secret or ConfigMap key that `path` is in container c (through its volumeMounts and the pod's
// volumes), or a string saying why it is none.
function mountedFile(pod, c, path) {
  let best = null;
  for (const m of c.volumeMounts ?? []) {
    const dir = m.mountPath.replace(/\/+$/, "");
    const rel = m.subPath ? (path === m.mountPath ? m.subPath : null) : path.startsWith(dir + "/") ? path.slice(dir.length + 1) : null;
    if (rel !== null && (!best || dir.length > best.dir.length)) best = { m, dir, rel };
  }
  if (!best) return "no volumeMount provides it";
  const v = (pod.volumes ?? []).find((v) => v.name === best.m.name);
  if (!v) return `volume ${best.m.name} is not in the pod`;
  const sources = v.secret ? [{ secret: v.secret }] : v.configMap ? [{ configMap: v.configMap }] : (v.projected?.sources ?? []);
  if (!sources.some((s) => s.secret || s.configMap)) return `volume ${v.name} (at ${best.m.mountPath}) is not from a Secret`;
  for (const s of sources) {
    const src = s.secret ?? s.configMap;
    if (!src) continue;
    const item = src.items ? src.items.find((i) => i.path === best.rel) : best.rel.includes("/") ? null : { key: best.rel };
    if (item) return { kind: s.secret ? "Secret" : "ConfigMap", name: src.secretName ?? src.name, key: item.key,
      mount: best.m.mountPath, readOnly: best.m.readOnly === true, optional: src.optional === true };
  }
  return `volume ${v.name} (at ${best.m.mountPath}) has no key for ${best.rel}`;
}
// A container that talks to Kafka (a Pathways server, or one given PATHWAYS_KAFKA_* settings) must
// use the TLS listener with security.protocol=ssl, read the CA, its certificate and its key from
// Secrets mounted read-only in it (a file that is not there fails only at start, in the cluster),
// the key and certificate from the Secret the User Operator writes for a KafkaUser (tls) of the
// pod's namespace, the CA not from that Secret (its ca.crt is the clients CA, which does not sign
// the brokers); and its NetworkPolicies must let it reach the bootstrap port.
function kafkaProblems(at, ns, pod, labels, c, env) {
  const server = /pathways-platform\/[a-z]+-server([:@]|$)/.test(c.image ?? "");
  if (!server && !Object.keys(env).some((k) => k.startsWith("PATHWAYS_KAFKA_"))) return [];
  const out = [], bootstrap = env.PATHWAYS_KAFKA_BOOTSTRAP, text = env.PATHWAYS_KAFKA_OPTIONS ?? "";
  if (typeof bootstrap !== "string" || !bootstrap) out.push(`${at}: PATHWAYS_KAFKA_BOOTSTRAP not set (the default is the plain 127.0.0.1:9092)`);
  else for (const hp of bootstrap.split(","))
    if (/:9092$/.test(hp.trim())) out.push(`${at}: PATHWAYS_KAFKA_BOOTSTRAP ${hp.trim()} is Strimzi's plain listener; use the TLS listener (9093)`);
  if (typeof text !== "string")
    return [...out, `${at}: PATHWAYS_KAFKA_OPTIONS must be a literal value, so that its TLS settings can be checked (mutual TLS needs no password)`];
  const opts = new Map();
  for (const item of text.split(",")) {
    if (item.trim() === "") continue;  // the servers skip empty entries
    const eq = item.indexOf("="), k = eq < 0 ? item : item.slice(0, eq), v = eq < 0 ? "" : item.slice(eq + 1);
    if (!k || !v) out.push(`${at}: PATHWAYS_KAFKA_OPTIONS entry "${item}" is not key=value`);
    else if (k.trim() !== k || v.trim() !== v)
      out.push(`${at}: PATHWAYS_KAFKA_OPTIONS entry "${item}" has spaces (the servers do not trim them)`);
    else if (opts.has(k)) out.push(`${at}: PATHWAYS_KAFKA_OPTIONS sets ${k} twice`);
    opts.set(k, v);
  }
  const protocol = opts.get("security.protocol") ?? "plaintext (unset)";
  if (protocol.toLowerCase() !== "ssl") out.push(`${at}: PATHWAYS_KAFKA_OPTIONS needs security.protocol=ssl, not ${protocol}`);
  if (/^false$/i.test(opts.get("enable.ssl.certificate.verification") ?? "") || /^none$/i.test(opts.get("ssl.endpoint.identification.algorithm") ?? ""))
    out.push(`${at}: PATHWAYS_KAFKA_OPTIONS turns off the verification of the brokers' certificates`);
  const files = {};
  for (const k of ["ssl.ca.location", "ssl.certificate.location", "ssl.key.location"]) {
    const path = opts.get(k);
    if (!path) { out.push(`${at}: PATHWAYS_KAFKA_OPTIONS lacks ${k}`); continue; }
    const f = mountedFile(pod, c, path);
    if (typeof f === "string") { out.push(`${at}: ${k}=${path}: ${f}`); continue; }
    files[k] = f;
    if (!f.readOnly) out.push(`${at}: ${k}=${path}: the volumeMount at ${f.mount} is not readOnly`);
    if (f.optional) out.push(`${at}: ${k}=${path}: ${f.kind} ${f.name} is optional (the server would start without it)`);
    if (k !== "ssl.ca.location" && f.kind !== "Secret") out.push(`${at}: ${k}=${path} comes from ${f.kind} ${f.name}, not from a Secret`);
  }
  const key = files["ssl.key.location"], cert = files["ssl.certificate.location"], ca = files["ssl.ca.location"];
  const userOf = (f) => f && f.kind === "Secret" && kafkaUsers.find((u) => u.metadata?.name === f.name && nsOf(u) === ns);
  if (key?.kind === "Secret") {
    const user = userOf(key);
    if (!user) out.push(`${at}: ssl.key.location comes from Secret ${key.name}, but there is no KafkaUser ${key.name} in namespace ${ns} ` +
      "(the User Operator writes a user's Secret into the KafkaUser's namespace)");
    else if (user.spec?.authentication?.type !== "tls") out.push(`${at}: KafkaUser ${key.name} does not use authentication type tls`);
    else if (key.key !== "user.key") out.push(`${at}: ssl.key.location is key ${key.key} of Secret ${key.name}, not user.key`);
    if (cert && (cert.kind !== "Secret" || cert.name !== key.name || cert.key !== "user.crt"))
      out.push(`${at}: ssl.certificate.location is ${cert.kind} ${cert.name} key ${cert.key}, not user.crt of Secret ${key.name} (the key's Secret)`);
  }
  if (userOf(ca)) out.push(`${at}: ssl.ca.location comes from KafkaUser ${ca.name}'s Secret: its ca.crt is the clients CA, ` +
    "which does not sign the brokers' certificates (mount pathways-cluster-ca-cert)");
  const port = Number(String(bootstrap ?? "").split(",")[0].split(":").pop());
  const egress = netpols.filter((n) => nsOf(n) === ns && selectsPod(n.spec?.podSelector, labels) &&
    (n.spec?.policyTypes ?? (n.spec?.egress ? ["Egress"] : [])).includes("Egress"));
  if (port && egress.length && !egress.some((n) => (n.spec.egress ?? []).some((r) => !r.ports?.length ||
      r.ports.some((p) => p.port === undefined || p.port === port || (p.endPort && p.port <= port && port <= p.endPort)))))
    out.push(`${at}: no NetworkPolicy lets it reach the Kafka bootstrap port ${port}`);
  return out;
}
// Metrics (README, "Metrics"): the server's PATHWAYS_<SERVICE>_METRICS_LISTEN, the container port
// "metrics", a Service port "metrics" for it and the NetworkPolicies must agree, and only pods of
// a namespace named by kubernetes.io/metadata.name (Prometheus's) may reach the port.
const services = objs.filter((o) => o.kind === "Service");
const servicesOf = (ns, labels) => services.filter((s) => nsOf(s) === ns && s.spec?.selector &&
  Object.entries(s.spec.selector).every(([k, v]) => labels[k] === v));
const admitsPort = (rule, port, name) => !rule.ports?.length || rule.ports.some((p) => p.port === undefined ||
  p.port === port || p.port === name || (p.endPort && p.port <= port && port <= p.endPort));
function metricsProblems(at, ns, labels, c, env) {
  const m = /pathways-platform\/([a-z]+)-server([:@]|$)/.exec(c.image ?? "");
  const key = m ? `PATHWAYS_${m[1].toUpperCase()}_METRICS_LISTEN` : null, out = [];
  // The servers read only their own name: another one is dead configuration (e.g. a copy-paste).
  for (const k of Object.keys(env))
    if (key && k !== key && /_METRICS_LISTEN$/.test(k)) out.push(`${at}: ${k} is not read by ${m[1]}-server (it reads ${key})`);
  const listen = key ? env[key] : undefined, cport = (c.ports ?? []).find((p) => p.name === "metrics");
  if (listen !== undefined && typeof listen !== "string") return [...out, `${at}: ${key} must be a literal value`];
  if (!listen) {
    if (cport) out.push(`${at}: container port "metrics" (${cport.containerPort}), but ${key ?? "no metrics listen address"} is ` +
      `${listen === undefined ? "unset" : "empty"}: nothing serves it`);
    return out;
  }
  const port = Number(listen.split(":").pop());
  if (/^(127\.|localhost|\[::1\])/.test(listen)) out.push(`${at}: ${key}=${listen} listens on loopback only`);
  if (!cport) return [...out, `${at}: ${key}=${listen}, but the container has no port named "metrics"`];
  if (cport.containerPort !== port) out.push(`${at}: container port "metrics" is ${cport.containerPort}, but ${key}=${listen}`);
  const svcPorts = servicesOf(ns, labels).flatMap((s) => (s.spec.ports ?? []).filter((p) => p.name === "metrics").map((p) => [s, p]));
  if (!svcPorts.length) out.push(`${at}: no Service that selects the pod has a port named "metrics"`);
  for (const [s, p] of svcPorts) {
    const target = p.targetPort ?? p.port;
    if (target !== "metrics" && target !== cport.containerPort)
      out.push(`Service/${s.metadata.name}: port "metrics" targets ${target}, not the container port "metrics" (${cport.containerPort})`);
  }
  const ingress = netpols.filter((n) => nsOf(n) === ns && selectsPod(n.spec?.podSelector, labels) &&
    (n.spec?.policyTypes ?? ["Ingress"]).includes("Ingress"));
  if (!ingress.length) return [...out, `${at}: no NetworkPolicy restricts ingress: the metrics port ${cport.containerPort} is open to every pod`];
  const rules = ingress.flatMap((n) => (n.spec.ingress ?? []).filter((r) => admitsPort(r, cport.containerPort, "metrics")).map((r) => [n, r]));
  if (!rules.length) out.push(`${at}: no NetworkPolicy admits Prometheus to the metrics port ${cport.containerPort}`);
  for (const [n, r] of rules) {
    if (!r.from?.length) out.push(`NetworkPolicy/${n.metadata.name}: admits the metrics port ${cport.containerPort} from everywhere`);
    for (const peer of r.from ?? [])
      if (peer.ipBlock || !peer.namespaceSelector?.matchLabels?.["kubernetes.io/metadata.name"])
        out.push(`NetworkPolicy/${n.metadata.name}: admits the metrics port ${cport.containerPort} from ${JSON.stringify(peer)}, ` +
          "not only from a namespace named by its label kubernetes.io/metadata.name");
  }
  return out;
}
for (const s of objs.filter((o) => o.kind === "StatefulSet")) {
  const id = `StatefulSet/${s.metadata.name}`, pod = s.spec.template.spec;
  for (const c of pod.containers) {
    const env = {};
    for (const ref of c.envFrom ?? []) {
      if (!ref.configMapRef) continue;
      if (!configMaps.has(ref.configMapRef.name)) problems.push(`${id}: ConfigMap ${ref.configMapRef.name} not in the output`);
      Object.assign(env, configMaps.get(ref.configMapRef.name) ?? {});
    }
    for (const e of c.env ?? []) {
      // env wins over envFrom: a ConfigMap value under the same name is dead configuration.
      if (e.name in env) problems.push(`${id}/${c.name}: ${e.name} is set in env and in its ConfigMap (the env value wins)`);
      env[e.name] = e.value ?? e.valueFrom;
    }
    problems.push(...kafkaProblems(`${id}/${c.name}`, nsOf(s), pod, s.spec.template.metadata?.labels ?? {}, c, env));
    problems.push(...metricsProblems(`${id}/${c.name}`, nsOf(s), s.spec.template.metadata?.labels ?? {}, c, env));
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
// A ServiceMonitor's endpoints name a port of a Service it selects, and each pod is behind only
// one such Service port (else every pod is scraped twice).
for (const sm of objs.filter((o) => o.kind === "ServiceMonitor")) {
  const id = `ServiceMonitor/${sm.metadata?.name}`, sel = sm.spec?.namespaceSelector;
  const inNs = (s) => sel?.any === true || (sel?.matchNames?.length ? sel.matchNames.includes(nsOf(s)) : nsOf(s) === nsOf(sm));
  const svcs = services.filter((s) => inNs(s) && selectsPod(sm.spec?.selector, s.metadata?.labels ?? {}));
  if (!svcs.length) problems.push(`${id}: selects no Service`);
  for (const [i, ep] of (sm.spec?.endpoints ?? []).entries()) {
    if (typeof ep.port !== "string") { problems.push(`${id}: endpoints[${i}] names no Service port (port: <name>)`); continue; }
    const withPort = svcs.filter((s) => (s.spec?.ports ?? []).some((p) => p.name === ep.port));
    if (svcs.length && !withPort.length) problems.push(`${id}: endpoints[${i}]: no Service it selects has a port named ${ep.port}`);
    for (const w of objs.filter((o) => o.kind === "StatefulSet" || o.kind === "Deployment")) {
      const twice = withPort.filter((s) => servicesOf(nsOf(w), w.spec?.template?.metadata?.labels ?? {}).includes(s));
      if (twice.length > 1) problems.push(`${id}: endpoints[${i}]: ${w.kind}/${w.metadata.name} is behind port ${ep.port} of ` +
        `${twice.map((s) => s.metadata.name).join(" and ")}: each pod would be scraped ${twice.length} times`);
    }
  }
}
// k8s-validate does not report unknown fields of custom resources: check the spec keys here
// (ServiceMonitor: @kubernetes-models/prometheus-operator 6.0.0, and the keys of its endpoints).
const allowed = {
  KafkaTopic: ["topicName", "partitions", "replicas", "config"],
  KafkaUser: ["authentication", "authorization", "quotas", "template"],
  ServiceMonitor: ["attachMetadata", "bodySizeLimit", "convertClassicHistogramsToNHCB", "endpoints", "fallbackScrapeProtocol",
    "jobLabel", "keepDroppedTargets", "labelLimit", "labelNameLengthLimit", "labelValueLengthLimit", "namespaceSelector",
    "nativeHistogramBucketLimit", "nativeHistogramMinBucketFactor", "podTargetLabels", "sampleLimit", "scrapeClass",
    "scrapeClassicHistograms", "scrapeNativeHistograms", "scrapeProtocols", "selector", "selectorMechanism",
    "serviceDiscoveryRole", "targetLabels", "targetLimit"],
};
const endpointKeys = ["authorization", "basicAuth", "bearerTokenFile", "bearerTokenSecret", "enableHttp2", "filterRunning",
  "followRedirects", "honorLabels", "honorTimestamps", "interval", "metricRelabelings", "noProxy", "oauth2", "params", "path",
  "port", "proxyConnectHeader", "proxyFromEnvironment", "proxyUrl", "relabelings", "scheme", "scrapeTimeout", "targetPort",
  "tlsConfig", "trackTimestampsStaleness"];
for (const o of objs.filter((o) => allowed[o.kind])) {
  const id = `${o.kind}/${o.metadata?.name}`;
  if (o.kind.startsWith("Kafka") && !o.metadata?.labels?.["strimzi.io/cluster"]) problems.push(`${id}: label strimzi.io/cluster missing`);
  if (o.kind === "ServiceMonitor") for (const [i, ep] of (o.spec?.endpoints ?? []).entries())
    for (const k of Object.keys(ep ?? {})) if (!endpointKeys.includes(k)) problems.push(`${id}: endpoints[${i}].${k} is not a field of an endpoint`);
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
