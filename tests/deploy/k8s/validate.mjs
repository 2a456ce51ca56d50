// Validates rendered Kubernetes manifests (kubectl kustomize output) for recsys:
//
//  1. schema: every object through its kubernetes-models class (.validate():
//     types, required fields, formats, enums of the Kubernetes OpenAPI schema);
//  2. strict fields: every key must be a field of its Kubernetes type (the
//     schemas allow unknown keys, so a typo such as `terminationGracePeriod`
//     would pass 1; the field lists come from the package's type declarations);
//  3. cross-checks against the binaries: every flag in container args and in
//     the flag files (ConfigMap) exists in that binary's --helpfull; --port /
//     --metrics_port equal the containerPorts, the probes' ports and the
//     prometheus.io/port annotation; Services target existing ports; the
//     gateway's --retrieval/--ranking point at headless Services that reach the
//     backends' gRPC ports (with --retrieval_shards: target i reaches only
//     retrieval pods with --shard i/N, N the number of targets, and every
//     sharded retrieval is listed); NetworkPolicies admit the gateway (only) to
//     the stages' gRPC ports and a namespace (only) to /metrics;
//     terminationGracePeriodSeconds covers preStop sleep + --drain + exit;
//     liveness cannot cut a drain short; volumes and paths line up.
//
//   node validate.mjs --bin-dir build/bin --summary out.json base.yaml [overlay.yaml...]
//
// Prints one line per problem and exits 1 if there is any. --summary writes, per
// manifest file, the gRPC servers found ({binary, port, probeServices}) so the
// calling test can check the probe service names against the running servers.
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { parseAllDocuments } from "yaml";

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------- arguments
const args = process.argv.slice(2);
let binDir = "";
let summaryPath = "";
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--bin-dir") binDir = args[++i];
  else if (args[i] === "--summary") summaryPath = args[++i];
  else files.push(args[i]);
}
if (!binDir || files.length === 0) {
  console.error("usage: node validate.mjs --bin-dir DIR [--summary FILE] MANIFEST.yaml...");
  process.exit(2);
}

const problems = [];
function problem(where, msg) {
  problems.push(`${where}: ${msg}`);
}

// ------------------------------------------------------- 1. schema validation
// apiVersion "apps/v1" -> "kubernetes-models/apps/v1"; core "v1" -> "kubernetes-models/v1".
async function modelClass(apiVersion, kind) {
  const mod = await import(`kubernetes-models/${apiVersion}`);
  return mod[kind];
}

// --------------------------------------------------- 2. strict field checking
// Field lists from the .d.ts declarations of kubernetes-models: each type file
// declares `export interface IName { "field"?: Type; ... }` with Type one of a
// primitive, `Array<T>`, `{ [key: string]: T; }` or an imported interface.
const modelsRoot = path.dirname(require.resolve("kubernetes-models/package.json"));
const typeCache = new Map();

function parseTypeFile(file) {
  if (typeCache.has(file)) return typeCache.get(file);
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    typeCache.set(file, null);
    return null;
  }
  text = text.replace(/\/\*[\s\S]*?\*\//g, "");
  const imports = new Map();
  for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*"([^"]+)"/g)) {
    for (const name of m[1].split(",").map((s) => s.trim()).filter(Boolean)) {
      imports.set(name, m[2]);
    }
  }
  const head = text.match(/export interface \w+(?: extends [\w, ]+)?\s*\{/);
  if (!head) {
    typeCache.set(file, null); // a type alias (IntOrString, Quantity, Time...): a leaf
    return null;
  }
  // The interface body, by brace matching.
  let i = head.index + head[0].length;
  let depth = 1;
  const start = i;
  while (depth > 0 && i < text.length) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}") depth--;
    i++;
  }
  const body = text.slice(start, i - 1);
  const fields = new Map();
  const re = /"([^"]+)"\??:\s*/g;
  let m;
  while ((m = re.exec(body)) !== null) {
    // The type runs to the next ';' outside braces / angle brackets.
    let j = re.lastIndex;
    let d = 0;
    while (j < body.length && !(d === 0 && body[j] === ";")) {
      if (body[j] === "{" || body[j] === "<") d++;
      else if (body[j] === "}" || body[j] === ">") d--;
      j++;
    }
    fields.set(m[1], body.slice(re.lastIndex, j).trim());
    re.lastIndex = j + 1;
  }
  const info = { file, imports, fields };
  typeCache.set(file, info);
  return info;
}

// A type expression -> {kind: "leaf"} | {kind: "object", file} | {kind: "array", of} | {kind: "map", of}
function resolveType(expr, ctx) {
  expr = expr.replace(/\s+/g, " ").trim();
  let m = expr.match(/^Array<(.+)>$/);
  if (m) return { kind: "array", of: resolveType(m[1], ctx) };
  m = expr.match(/^\{ ?\[key: string\]: (.+?);? ?\}$/);
  if (m) return { kind: "map", of: resolveType(m[1], ctx) };
  if (/^I\w+$/.test(expr) && ctx.imports.has(expr)) {
    const spec = ctx.imports.get(expr);
    let file;
    if (spec.startsWith(".")) file = path.resolve(path.dirname(ctx.file), spec + ".d.ts");
    else {
      const [scope, pkg, ...rest] = spec.split("/");
      const pkgRoot = path.dirname(require.resolve(`${scope}/${pkg}/package.json`, { paths: [modelsRoot] }));
      file = path.join(pkgRoot, ...rest) + ".d.ts";
    }
    return parseTypeFile(file) ? { kind: "object", file } : { kind: "leaf" };
  }
  return { kind: "leaf" };
}

function checkFields(value, type, where) {
  if (value === null || value === undefined) return;
  if (type.kind === "array") {
    if (Array.isArray(value)) value.forEach((v, i) => checkFields(v, type.of, `${where}[${i}]`));
    return;
  }
  if (type.kind === "map") {
    if (typeof value === "object") for (const [k, v] of Object.entries(value)) checkFields(v, type.of, `${where}.${k}`);
    return;
  }
  if (type.kind !== "object" || typeof value !== "object" || Array.isArray(value)) return;
  const info = parseTypeFile(type.file);
  for (const [key, v] of Object.entries(value)) {
    if (!info.fields.has(key)) {
      problem(where, `unknown field "${key}" (not in ${path.basename(type.file, ".d.ts")})`);
      continue;
    }
    checkFields(v, resolveType(info.fields.get(key), info), `${where}.${key}`);
  }
}

function topLevelTypeFile(apiVersion, kind) {
  return path.join(modelsRoot, ...apiVersion.split("/"), `${kind}.d.ts`);
}

// ------------------------------------------------------ 3. recsys cross-checks
const helpCache = new Map();
// Flag names a binary accepts, from its --helpfull ("    --name (help); default: x;").
const THIRD_PARTY_SERVERS = new Set(["redis-server"]);

function binaryFlags(binary) {
  if (helpCache.has(binary)) return helpCache.get(binary);
  const exe = path.join(binDir, binary);
  let flags = null;
  if (!existsSync(exe)) {
    problem(binary, `no such binary in ${binDir}`);
  } else {
    let out = "";
    try {
      out = execFileSync(exe, ["--helpfull"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      out = (e.stdout || "") + (e.stderr || ""); // absl exits 1 after --helpfull
    }
    flags = new Set([...out.matchAll(/^\s+--([A-Za-z0-9_]+) \(/gm)].map((m) => m[1]));
    if (flags.size === 0) problem(binary, "--helpfull listed no flags");
  }
  helpCache.set(binary, flags);
  return flags;
}

// "--name=value" lines of an absl flagfile (comments and blank lines skipped).
function parseFlagLines(text) {
  const out = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    out.push(line);
  }
  return out;
}

function parseFlag(arg) {
  const m = arg.match(/^--?([A-Za-z0-9_]+)(?:=(.*))?$/);
  if (!m) return null;
  return { name: m[1], value: m[2] ?? "" };
}

// absl durations as used in flags: "20s", "1m30s", "500ms", "1h".
function durationSeconds(text) {
  const units = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, ns: 1e-9 };
  let total = 0;
  let matched = "";
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)/g)) {
    total += parseFloat(m[1]) * units[m[2]];
    matched += m[0];
  }
  return matched === text && text ? total : NaN;
}

function podSpecOf(obj) {
  if (obj.kind === "Deployment" || obj.kind === "StatefulSet") return obj.spec?.template?.spec;
  if (obj.kind === "CronJob") return obj.spec?.jobTemplate?.spec?.template?.spec;
  return null;
}
function podLabelsOf(obj) {
  if (obj.kind === "CronJob") return obj.spec?.jobTemplate?.spec?.template?.metadata?.labels ?? {};
  return obj.spec?.template?.metadata?.labels ?? {};
}
function podAnnotationsOf(obj) {
  return obj.spec?.template?.metadata?.annotations ?? {};
}
function selects(selector, labels) {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}

// The flags a container passes to each binary it runs: [{binary, flags:[{name,value,source}]}].
function containerInvocations(container, podSpec, configMaps, where) {
  // Files visible in the container: mountPath/key for every ConfigMap volume.
  const files = new Map();
  for (const vm of container.volumeMounts ?? []) {
    const vol = (podSpec.volumes ?? []).find((v) => v.name === vm.name);
    if (!vol?.configMap) continue;
    const cm = configMaps.get(vol.configMap.name);
    if (!cm) {
      problem(where, `volume ${vol.name}: no ConfigMap ${vol.configMap.name}`);
      continue;
    }
    for (const [key, text] of Object.entries(cm.data ?? {})) files.set(`${vm.mountPath}/${key}`, text);
  }
  const expand = (argList, binary, source) => {
    const flags = [];
    for (const a of argList) {
      const f = parseFlag(a);
      if (!f) continue; // a positional argument (e.g. a registry command)
      if (f.name === "flagfile") {
        for (const p of f.value.split(",")) {
          if (!files.has(p)) {
            problem(where, `${binary}: --flagfile ${p} is not a mounted ConfigMap key`);
            continue;
          }
          for (const line of parseFlagLines(files.get(p))) {
            const g = parseFlag(line);
            if (!g) problem(where, `${p}: not a flag line: ${line}`);
            else flags.push({ ...g, source: p });
          }
        }
      }
      flags.push({ ...f, source });
    }
    return flags;
  };
  const cmd = container.command ?? [];
  if (cmd.length === 0) {
    problem(where, "container has no explicit command (the image's entrypoint is the gateway)");
    return [];
  }
  // Third-party servers the overlays run beside ours (the scaled-out
  // overlay's Redis): not a recsys binary, no flags to check.
  if (THIRD_PARTY_SERVERS.has(cmd[0])) return [];
  if (cmd[0].startsWith("recsys-")) {
    return [{ binary: cmd[0], flags: expand([...cmd.slice(1), ...(container.args ?? [])], cmd[0], "args") }];
  }
  // A shell script from the ConfigMap: each `recsys-x ...` line it runs.
  const script = [...cmd, ...(container.args ?? [])].find((a) => files.has(a));
  if (!script) {
    problem(where, `cannot tell which binary ${cmd.join(" ")} runs`);
    return [];
  }
  const text = files.get(script);
  const vars = {};
  for (const m of text.matchAll(/^\s*(\w+)=([^\s$`"']+)\s*$/gm)) vars[m[1]] = m[2];
  const out = [];
  for (const line of text.split("\n")) {
    const m = line.match(/(?:^|[\s;(&|])(recsys-[a-z]+)((?:\s+--[A-Za-z0-9_]+(?:=(?:"[^"]*"|\S+))?)*)/);
    if (!m || line.trim().startsWith("#")) continue;
    const argList = [...m[2].matchAll(/--[A-Za-z0-9_]+(?:=(?:"[^"]*"|\S+))?/g)].map((x) =>
      x[0].replace(/"/g, "").replace(/\$\{?(\w+)\}?/g, (_, v) => vars[v] ?? `$${v}`),
    );
    out.push({ binary: m[1], flags: expand(argList, m[1], script) });
  }
  if (out.length === 0) problem(where, `${script} runs no recsys binary`);
  return out;
}

// A health probe: native gRPC, or `recsys-cli --target=127.0.0.1:PORT ...
// --service=NAME health` (TLS-capable). {port, service, tlsCa, clientCert, files}.
function healthProbe(p, where, kind) {
  if (p?.grpc) return { port: p.grpc.port, service: p.grpc.service, tlsCa: false, clientCert: false, files: [] };
  const cmd = p?.exec?.command ?? [];
  if (cmd[0] !== "recsys-cli" || cmd[cmd.length - 1] !== "health") {
    problem(where, `${kind} must be a native gRPC probe or exec recsys-cli ... health`);
    return null;
  }
  const known = binaryFlags("recsys-cli");
  const flags = {};
  for (const a of cmd.slice(1, -1)) {
    const f = parseFlag(a);
    if (!f) {
      problem(where, `${kind}: unexpected argument ${a}`);
      continue;
    }
    if (known && !known.has(f.name)) problem(where, `${kind}: recsys-cli has no flag --${f.name}`);
    flags[f.name] = f.value;
  }
  const m = (flags.target ?? "").match(/^(?:127\.0\.0\.1|localhost|\[::1\]):(\d+)$/);
  if (!m) problem(where, `${kind}: --target must be the pod's own loopback address, got ${flags.target}`);
  const files = ["tls_ca", "tls_cert", "tls_key", "token_file"].filter((f) => flags[f]).map((f) => flags[f]);
  return {
    port: m ? Number(m[1]) : NaN,
    service: flags.service,
    tlsCa: Boolean(flags.tls_ca),
    clientCert: Boolean(flags.tls_cert && flags.tls_key),
    files,
  };
}

// Does NetworkPolicy peer `peer` admit only pods labelled `labels` (same namespace)?
function peerIsPods(peer, labels) {
  return peer.podSelector && !peer.namespaceSelector && !peer.ipBlock &&
    Object.keys(peer.podSelector.matchLabels ?? {}).length > 0 && selects(peer.podSelector.matchLabels, labels);
}

function crossCheck(objects, file) {
  const summary = { servers: [] };
  const byKind = (k) => objects.filter((o) => o.kind === k);
  const configMaps = new Map(byKind("ConfigMap").map((c) => [c.metadata.name, c]));
  const services = byKind("Service");
  const pvcs = new Map(byKind("PersistentVolumeClaim").map((p) => [p.metadata.name, p]));
  const workloads = objects.filter((o) => podSpecOf(o));
  const grpcBackends = new Map(); // service DNS name:port -> container (for the gateway's targets)

  for (const w of workloads) {
    const spec = podSpecOf(w);
    const where = `${file}: ${w.kind}/${w.metadata.name}`;
    const psc = spec.securityContext ?? {};
    if (psc.runAsNonRoot !== true) problem(where, "pod securityContext.runAsNonRoot must be true");
    for (const c of spec.containers ?? []) {
      const cw = `${where} container ${c.name}`;
      if (!c.image || /:latest$/.test(c.image) || !/:[^/]+$/.test(c.image)) {
        problem(cw, `image ${c.image} must carry an explicit, non-latest tag`);
      }
      if (!c.resources?.requests?.cpu || !c.resources?.requests?.memory || !c.resources?.limits?.memory) {
        problem(cw, "resources need cpu+memory requests and a memory limit");
      }
      for (const inv of containerInvocations(c, spec, configMaps, cw)) {
        const known = binaryFlags(inv.binary);
        if (!known) continue;
        const value = {};
        for (const f of inv.flags) {
          if (!known.has(f.name) && !known.has(f.name.replace(/^no/, ""))) {
            problem(cw, `${inv.binary} has no flag --${f.name} (from ${f.source})`);
          }
          value[f.name] = f.value; // later wins, as in absl
        }
        // Volumes behind the paths the binary uses.
        const mountFor = (p) =>
          (c.volumeMounts ?? []).filter((vm) => p === vm.mountPath || p.startsWith(vm.mountPath + "/"))
            .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
        if (value.registry !== undefined) {
          const vm = mountFor(value.registry);
          const vol = vm && (spec.volumes ?? []).find((v) => v.name === vm.name);
          const claim = vol?.persistentVolumeClaim?.claimName;
          if (!claim || !pvcs.has(claim)) problem(cw, `--registry ${value.registry} is not on a PersistentVolumeClaim`);
          else {
            const modes = pvcs.get(claim).spec?.accessModes ?? [];
            if (!modes.includes("ReadWriteMany") && !modes.includes("ReadOnlyMany")) {
              problem(cw, `registry PVC ${claim} must be ReadWriteMany or ReadOnlyMany (shared by many pods)`);
            }
            const writer = inv.binary === "recsys-train" || inv.binary === "recsys-registry";
            if (!writer && !(vm.readOnly && vol.persistentVolumeClaim.readOnly)) {
              problem(cw, `${inv.binary} should mount the registry read-only`);
            }
            if (writer && vm.readOnly) problem(cw, `${inv.binary} writes the registry: it cannot be read-only`);
          }
        }
        // The embedded user store's log needs its own volume; with an external
        // store (--user_store=redis://...) --state_dir is unused.
        if (value.state_dir !== undefined && (value.user_store ?? "embedded") === "embedded") {
          const vm = mountFor(value.state_dir);
          const tmpl = (w.spec.volumeClaimTemplates ?? []).find((t) => vm && t.metadata.name === vm.name);
          if (!tmpl) problem(cw, `--state_dir ${value.state_dir} must be on a per-replica volumeClaimTemplate`);
          else if (vm.readOnly) problem(cw, "--state_dir is mounted read-only");
        }
        if (value.port === undefined) continue; // not a server
        const secretMount = (p) => {
          const vm = mountFor(p);
          const vol = vm && (spec.volumes ?? []).find((v) => v.name === vm.name);
          return vol?.secret ? vol : null;
        };
        // A gRPC server: ports, probes, annotations, shutdown timing.
        const port = Number(value.port);
        const metricsPort = Number(value.metrics_port);
        const ports = new Map((c.ports ?? []).map((p) => [p.name, p.containerPort]));
        if (ports.get("grpc") !== port) problem(cw, `containerPort grpc ${ports.get("grpc")} != --port ${port}`);
        if (ports.get("metrics") !== metricsPort) {
          problem(cw, `containerPort metrics ${ports.get("metrics")} != --metrics_port ${metricsPort}`);
        }
        const ann = podAnnotationsOf(w);
        if (ann["prometheus.io/scrape"] !== "true") problem(cw, 'annotation prometheus.io/scrape must be "true"');
        if (Number(ann["prometheus.io/port"]) !== metricsPort) {
          problem(cw, `annotation prometheus.io/port ${ann["prometheus.io/port"]} != --metrics_port ${metricsPort}`);
        }
        const probeServices = new Set();
        const tls = value.tls_cert !== undefined && value.tls_cert !== "";
        const mtls = tls && value.tls_require_client_cert !== undefined &&
          value.tls_require_client_cert !== "false";
        for (const kind of ["startupProbe", "readinessProbe", "livenessProbe"]) {
          const p = healthProbe(c[kind], cw, kind);
          if (!p) continue;
          if (p.port !== port) problem(cw, `${kind} port ${p.port} != --port ${port}`);
          if (!p.service) problem(cw, `${kind} must name the health service`);
          probeServices.add(p.service ?? "");
          // The kubelet's native gRPC probe speaks plaintext only.
          if (tls && !p.tlsCa) problem(cw, `${kind}: the gRPC port speaks TLS (--tls_cert); the probe must too (exec recsys-cli --tls_ca)`);
          if (mtls && !p.clientCert) problem(cw, `${kind}: the server requires client certificates; the probe needs --tls_cert/--tls_key`);
          for (const f of p.files) {
            if (!secretMount(f)) problem(cw, `${kind}: ${f} is not on a mounted Secret`);
          }
        }
        // Security files come from Secrets, never the ConfigMap or the image.
        for (const flag of ["tls_cert", "tls_key", "tls_ca", "auth_tokens", "signals_key_file",
                            "backend_tls_ca", "backend_tls_cert", "backend_tls_key", "backend_token_file"]) {
          if (value[flag] && !secretMount(value[flag])) problem(cw, `--${flag} ${value[flag]} is not on a mounted Secret`);
        }
        if (probeServices.size > 1) problem(cw, `probes use different services: ${[...probeServices]}`);
        const drain = durationSeconds(value.drain ?? "");
        if (Number.isNaN(drain)) problem(cw, `--drain must be set explicitly (got ${value.drain})`);
        const pre = c.lifecycle?.preStop?.exec?.command ?? [];
        const preStop = pre[0] === "sleep" ? Number(pre[1]) : NaN;
        if (Number.isNaN(preStop)) problem(cw, "preStop must be exec [sleep, N]");
        const grace = spec.terminationGracePeriodSeconds ?? 30;
        // 3 s for the exit after the drain (the metrics endpoint's teardown takes up to ~2 s).
        if (grace < preStop + drain + 3) {
          problem(cw, `terminationGracePeriodSeconds ${grace} < preStop ${preStop} + --drain ${drain} + 3 s exit`);
        }
        const live = c.livenessProbe ?? {};
        const liveBudget = (live.periodSeconds ?? 10) * (live.failureThreshold ?? 3);
        if (liveBudget < preStop + drain) {
          problem(cw, `liveness gives up after ${liveBudget} s, before preStop + --drain (${preStop + drain} s)`);
        }
        summary.servers.push({
          workload: `${w.kind}/${w.metadata.name}`,
          podLabels: podLabelsOf(w),
          metricsPortName: "metrics",
          binary: inv.binary,
          port,
          metricsPort,
          probeServices: [...probeServices],
          drainSeconds: drain,
          preStopSeconds: preStop,
          terminationGracePeriodSeconds: grace,
          flags: value,
        });
        // Services in front of this pod.
        for (const s of services) {
          if (!s.spec?.selector || !selects(s.spec.selector, podLabelsOf(w))) continue;
          for (const sp of s.spec.ports ?? []) {
            const target = typeof sp.targetPort === "string" ? ports.get(sp.targetPort) : sp.targetPort ?? sp.port;
            if (target === undefined) problem(`${file}: Service/${s.metadata.name}`, `targetPort ${sp.targetPort} is not a port of ${w.metadata.name}`);
            if (target === port) {
              const key = `${s.metadata.name}:${sp.port}`;
              const backend = { binary: inv.binary, headless: s.spec.clusterIP === "None",
                                shard: value.shard ?? "", workload: `${w.kind}/${w.metadata.name}` };
              const seen = grpcBackends.get(key);
              if (seen && (seen.binary !== backend.binary || seen.shard !== backend.shard)) {
                problem(`${file}: Service/${s.metadata.name}`, `reaches both ${seen.workload} (${seen.binary}` +
                  `${seen.shard ? ` --shard=${seen.shard}` : ""}) and ${backend.workload} (${backend.binary}` +
                  `${backend.shard ? ` --shard=${backend.shard}` : ""})`);
              }
              grpcBackends.set(key, backend);
            }
          }
        }
      }
    }
  }

  // The gateway's backend targets: dns:///<service>:<port>, headless, reaching the right binary.
  const expectBackend = { retrieval: "recsys-retrieval", ranking: "recsys-ranking" };
  const checkTarget = (s, flag, t, binary) => {
    const m = t.match(/^dns:\/\/\/([a-z0-9.-]+?)(?:\.[a-z0-9-]+\.svc(?:\.cluster\.local)?)?:(\d+)$/);
    if (!m) {
      problem(`${file}: ${s.workload}`, `--${flag}=${t} must be dns:///<service>:<port>`);
      return null;
    }
    const backend = grpcBackends.get(`${m[1]}:${m[2]}`);
    if (!backend) problem(`${file}: ${s.workload}`, `--${flag}=${t}: no Service ${m[1]} port ${m[2]} reaches a gRPC port`);
    else if (backend.binary !== binary) problem(`${file}: ${s.workload}`, `--${flag}=${t} reaches ${backend.binary}`);
    else if (!backend.headless) problem(`${file}: ${s.workload}`, `--${flag}=${t}: Service ${m[1]} must be headless for round_robin`);
    else return backend;
    return null;
  };
  const listedShards = new Set(); // retrieval workloads some gateway lists in --retrieval_shards
  for (const s of summary.servers.filter((x) => x.binary === "recsys-gateway")) {
    // --retrieval_shards replaces --retrieval (the binary ignores it then).
    const shards = (s.flags.retrieval_shards ?? "").split(",").map((t) => t.trim()).filter(Boolean);
    if (shards.length === 1) problem(`${file}: ${s.workload}`, "--retrieval_shards needs 2 or more targets");
    if (new Set(shards).size !== shards.length) problem(`${file}: ${s.workload}`, "--retrieval_shards lists a target twice");
    shards.forEach((t, i) => {
      const backend = checkTarget(s, "retrieval_shards", t, expectBackend.retrieval);
      if (!backend) return;
      listedShards.add(backend.workload);
      const want = `${i}/${shards.length}`;
      if (backend.shard !== want) {
        problem(`${file}: ${s.workload}`, `--retrieval_shards target ${i} (${t}) reaches ${backend.workload} ` +
          `with --shard=${backend.shard || "(none)"}, not ${want}`);
      }
    });
    for (const [flag, binary] of Object.entries(expectBackend)) {
      if (flag === "retrieval" && shards.length > 0) continue;
      checkTarget(s, flag, s.flags[flag] ?? "", binary);
    }
    // Merged shard pools carry signals: re-signed with the stages' key, or
    // unsigned and recomputed by a keyed ranking (correct, but slower).
    const stagesKeyed = summary.servers.some((x) => x.binary === "recsys-ranking" && x.flags.signals_key_file);
    if (shards.length > 0 && stagesKeyed && !s.flags.signals_key_file) {
      problem(`${file}: ${s.workload}`, "--retrieval_shards with keyed retrieval/ranking needs --signals_key_file");
    }
  }
  for (const r of summary.servers.filter((x) => x.binary === "recsys-retrieval" && x.flags.shard)) {
    if (!listedShards.has(r.workload)) {
      problem(`${file}: ${r.workload}`, `serves --shard=${r.flags.shard}, but no gateway lists it in --retrieval_shards`);
    }
  }
  for (const b of Object.values(expectBackend)) {
    if (!summary.servers.some((s) => s.binary === b)) problem(file, `no workload runs ${b}`);
  }
  if (!summary.servers.some((s) => s.binary === "recsys-gateway")) problem(file, "no workload runs recsys-gateway");

  // NetworkPolicies: every server's pods are selected; the stages' gRPC ports
  // admit only the gateway's pods; /metrics ports only a namespace (Prometheus').
  const policies = byKind("NetworkPolicy");
  const gatewayLabels = summary.servers.find((x) => x.binary === "recsys-gateway")?.podLabels ?? {};
  const secure = summary.servers.some((x) => x.flags.tls_cert);
  for (const s of summary.servers) {
    const mine = policies.filter((p) => selects(p.spec?.podSelector?.matchLabels, s.podLabels) &&
      (p.spec?.policyTypes ?? ["Ingress"]).includes("Ingress"));
    if (mine.length === 0) {
      if (secure) problem(`${file}: ${s.workload}`, "no NetworkPolicy selects its pods");
      continue;
    }
    for (const p of mine) {
      for (const rule of p.spec.ingress ?? []) {
        const ports = (rule.ports ?? []).map((x) => x.port);
        const from = rule.from ?? [];
        const admits = (port) => ports.length === 0 || ports.includes(port);
        const where = `${file}: NetworkPolicy/${p.metadata.name}`;
        if (admits(s.metricsPort) && !(from.length > 0 && from.every((f) => f.namespaceSelector && !f.podSelector))) {
          problem(where, `admits ${s.workload}'s /metrics port ${s.metricsPort} from more than a namespace selector`);
        }
        if (s.binary !== "recsys-gateway" && admits(s.port) &&
            !(from.length > 0 && from.every((f) => peerIsPods(f, gatewayLabels)))) {
          problem(where, `admits ${s.workload}'s gRPC port ${s.port} from others than the gateway's pods`);
        }
      }
    }
    // ... and the traffic that must get in does (a policy selecting the pods
    // with no rule for it, e.g. only the default deny, silently cuts it off).
    const admitted = (port, peerOk) => mine.some((p) => (p.spec.ingress ?? []).some((rule) => {
      const ports = (rule.ports ?? []).map((x) => x.port);
      return (ports.length === 0 || ports.includes(port)) && (rule.from ?? [null]).some(peerOk);
    }));
    if (!admitted(s.port, (f) => s.binary === "recsys-gateway" || (f && peerIsPods(f, gatewayLabels)))) {
      problem(`${file}: ${s.workload}`, `no NetworkPolicy admits ${s.binary === "recsys-gateway" ? "clients" : "the gateway's pods"} to gRPC port ${s.port}`);
    }
    if (!admitted(s.metricsPort, (f) => f?.namespaceSelector)) {
      problem(`${file}: ${s.workload}`, `no NetworkPolicy admits Prometheus' namespace to /metrics port ${s.metricsPort}`);
    }
  }
  const keyed = summary.servers.filter((x) => ["recsys-retrieval", "recsys-ranking"].includes(x.binary))
    .map((x) => Boolean(x.flags.signals_key_file));
  if (new Set(keyed).size > 1) problem(file, "--signals_key_file must be set on both retrieval and ranking or neither");

  // HPAs and PDBs point at real workloads.
  for (const h of byKind("HorizontalPodAutoscaler")) {
    const ref = h.spec.scaleTargetRef;
    if (!workloads.some((w) => w.kind === ref.kind && w.metadata.name === ref.name)) {
      problem(`${file}: HPA/${h.metadata.name}`, `scaleTargetRef ${ref.kind}/${ref.name} does not exist`);
    }
    if ((h.spec.minReplicas ?? 1) > h.spec.maxReplicas) problem(`${file}: HPA/${h.metadata.name}`, "minReplicas > maxReplicas");
  }
  for (const p of byKind("PodDisruptionBudget")) {
    if (!workloads.some((w) => selects(p.spec.selector?.matchLabels, podLabelsOf(w)))) {
      problem(`${file}: PDB/${p.metadata.name}`, "selects no pods");
    }
  }
  if (byKind("CronJob").length === 0) problem(file, "no CronJob (training)");
  return summary;
}

// ------------------------------------------------------------------- main
const summaries = {};
for (const file of files) {
  const docs = parseAllDocuments(readFileSync(file, "utf8"));
  const objects = [];
  for (const d of docs) {
    if (d.errors.length) problem(file, `YAML: ${d.errors[0].message}`);
    const o = d.toJS();
    if (o) objects.push(o);
  }
  if (objects.length === 0) problem(file, "no objects");
  for (const o of objects) {
    const where = `${file}: ${o.kind}/${o.metadata?.name}`;
    let Cls;
    try {
      Cls = await modelClass(o.apiVersion, o.kind);
    } catch {
      Cls = undefined;
    }
    if (!Cls) {
      problem(where, `unknown apiVersion/kind ${o.apiVersion} ${o.kind}`);
      continue;
    }
    try {
      new Cls(o).validate();
    } catch (e) {
      problem(where, `schema: ${e.message}`);
    }
    checkFields(o, { kind: "object", file: topLevelTypeFile(o.apiVersion, o.kind) }, where);
  }
  summaries[file] = crossCheck(objects, file);
  console.log(`${file}: ${objects.length} objects (${[...new Set(objects.map((o) => o.kind))].join(", ")})`);
}
if (summaryPath) writeFileSync(summaryPath, JSON.stringify(summaries, null, 2));
for (const p of problems) console.log(`PROBLEM ${p}`);
if (problems.length) {
  console.log(`${problems.length} problem(s)`);
  process.exit(1);
}
console.log("all objects valid; flags, ports, probes, services and shutdown timing consistent");
