// npm run verify [-- --stack NAME] [-- --json]: checks a deployed stack from the outside, the way
// an operator would, and says plainly what passed, what failed and what was not checked.
//
//   containers       every service container running, healthy and never restarted (the broker,
//                    the bridge and the MQTT simulator too when the stack declares MQTT devices,
//                    and then only); file loaders created and never started (docker inspect:
//                    State, State.Health, RestartCount)
//   published ports  InfluxDB published only as influxPublishPort/influxHostPort say (by default
//                    not at all), Grafana only on grafanaBindAddress:grafanaPort, the broker only
//                    on mqttBindAddress:mqttPort, the simulators and the bridge not at all (docker
//                    inspect: NetworkSettings.Ports)
//   grafana tls      Grafana's certificate verifies against the stack's CA for the URL's host, and
//                    is not inside its renewal window (certEarlyRenewalHours)
//   broker tls       (MQTT stacks) a TLS handshake on mqttBindAddress:mqttPort: the broker's
//                    certificate verifies against the stack's CA for mqttExternalNames[0], outside
//                    its renewal window, and the broker refuses the session without a client
//                    certificate (TLS 1.3 alert "certificate required"). No MQTT packet is sent:
//                    that needs a device certificate, which verify does not hold.
//   grafana login    the admin credentials are accepted and a wrong password is refused (401)
//   fresh data       every simulated device (simDevices over HTTPS, simMqttDevices over MQTT)
//                    wrote a reading within the window and no device outside the stack did; how
//                    many declared devices (devices) wrote is reported, a silent one is no failure;
//                    read through Grafana's datasource (POST /api/ds/query, uid influxdb-iot, Flux)
//   simulator log    no "points dropped", "metrics lines dropped" or "write failed for good" line
//                    in what Docker keeps of the simulator's log, no "simulator stopped" summary
//                    with dropped points or metrics lines, and
//                    the latest verdict of its health check (the health file: last successful
//                    write recent); the same for the MQTT simulator ("mqtt simulator log")
//
// Run through scripts/verify.sh, which sets up the state backend, the passphrase and the Docker
// endpoint exactly like npm run up (scripts/prereqs.sh). Each check's decision is a pure function
// of what was read, tested on recorded answers (test/tools/verify.test.ts).
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import { checkServerIdentity, connect as tlsConnect } from "node:tls";
import { ConfigError, loadSettings, type Settings } from "../settings";
import { DEFAULT_MEASUREMENT, READING_FIELDS } from "../simulator/src/schema";
import { type CheckResult, configString, counts, exec as realExec, type Exec, formatReport, ROOT, stackFileConfig } from "./common";

/** Grafana's provisioned InfluxDB datasource (components/grafana-provisioning.ts DATASOURCE_UID). */
export const DATASOURCE_UID = "influxdb-iot";
/** The measurement of the readings (the stack does not set SIM_MEASUREMENT) and a field every reading carries (simulator/src/schema.ts). */
export const MEASUREMENT = DEFAULT_MEASUREMENT;
export const FIELD: keyof typeof READING_FIELDS = "temperature_c";
/** The services of every stack, by the suffix of their container name (iot-<stack>-<service>). */
export const SERVICES = ["influxdb", "grafana", "simulator"] as const;
/** Container name suffixes of the MQTT path (index.ts: MqttBroker "broker", DeviceBridge "bridge", MqttSimulator "mqtt-simulator"). */
export const BROKER = "broker";
export const BRIDGE = "bridge";
export const MQTT_SIMULATOR = "mqtt-simulator";
/** Ports inside the containers (components/influxdb.ts, components/grafana.ts, components/mqtt-broker.ts). */
const INFLUX_PORT = "8086/tcp";
const GRAFANA_PORT = "3000/tcp";
const BROKER_PORT = "8883/tcp";

/** The services this stack's configuration deploys: the broker and bridge only when MQTT devices are declared, the MQTT simulator only when simMqttDevices > 0. */
export function stackServices(settings: Settings): string[] {
  const services: string[] = [...SERVICES];
  if (settings.mqtt.enabled) services.push(BROKER, BRIDGE);
  if (settings.mqtt.enabled && settings.mqtt.simulatedDevices.length > 0) services.push(MQTT_SIMULATOR);
  return services;
}

// --- containers ----------------------------------------------------------------------------------

/** The part of `docker inspect` the checks read. */
export interface Inspect {
  Name: string;
  RestartCount: number;
  State: {
    Status: string;
    Running: boolean;
    Restarting: boolean;
    OOMKilled?: boolean;
    ExitCode?: number;
    StartedAt: string;
    Health?: { Status: string; FailingStreak?: number; Log?: Array<{ ExitCode: number; Output: string; End?: string }> };
  };
  NetworkSettings: { Ports?: Record<string, Array<{ HostIp: string; HostPort: string }> | null> | null };
}

const nameOf = (c: Inspect) => c.Name.replace(/^\//, "");
const neverStarted = (c: Inspect) => c.State.StartedAt.startsWith("0001-01-01");

export function lastHealthOutput(c: Inspect): string | undefined {
  const log = c.State.Health?.Log ?? [];
  return log.length > 0 ? log[log.length - 1].Output.trim() : undefined;
}

export function checkContainers(inspects: Inspect[], prefix: string, services: readonly string[] = SERVICES): CheckResult {
  const problems: string[] = [];
  const fine: string[] = [];
  const byName = new Map(inspects.map((c) => [nameOf(c), c]));
  for (const service of services) {
    const name = `${prefix}-${service}`;
    const c = byName.get(name);
    if (!c) {
      problems.push(`${name}: no such container`);
      continue;
    }
    const health = c.State.Health?.Status;
    const wrong: string[] = [];
    if (!c.State.Running) wrong.push(`not running (${c.State.Status}, exit code ${c.State.ExitCode ?? "?"})`);
    if (c.State.Restarting) wrong.push("restarting");
    if (c.State.OOMKilled) wrong.push("killed for running out of memory");
    if (health !== "healthy") {
      const output = lastHealthOutput(c);
      wrong.push(health ? `health ${health}${output ? ` (last check: ${output})` : ""}` : "no health check");
    }
    if (c.RestartCount > 0) wrong.push(`restarted ${c.RestartCount} time${c.RestartCount === 1 ? "" : "s"} since it was created`);
    if (wrong.length > 0) problems.push(`${name}: ${wrong.join("; ")}`);
    else fine.push(`${name}: running, healthy, never restarted`);
  }
  let loaders = 0;
  for (const c of inspects) {
    const name = nameOf(c);
    if (services.some((s) => name === `${prefix}-${s}`)) continue;
    if (name.endsWith("-loader") && neverStarted(c) && !c.State.Running) {
      loaders++;
      continue;
    }
    problems.push(`${name}: ${name.endsWith("-loader") ? "a file loader that was started (loaders are only ever created)" : `not a container of the stack (${c.State.Status})`}`);
  }
  const loaderNote = `${loaders} file loader${loaders === 1 ? "" : "s"} created, never started`;
  if (problems.length > 0) return { name: "containers", status: "fail", summary: problems.join("; "), details: fine };
  return { name: "containers", status: "pass", summary: `${services.length} services running, healthy and never restarted; ${loaderNote}`, details: fine };
}

// --- published ports -----------------------------------------------------------------------------

export type PortExpectation = Record<string, Array<{ port: string; hostIp: string; hostPort: string }>>;

/** What the configuration says each service publishes (components/influxdb.ts, grafana.ts, simulator.ts, mqtt-broker.ts, device-bridge.ts, mqtt-simulator.ts). */
export function expectedPorts(settings: Settings): PortExpectation {
  const prefix = settings.namePrefix;
  const expected: PortExpectation = {
    [`${prefix}-influxdb`]: settings.influx.publishPort ? [{ port: INFLUX_PORT, hostIp: "127.0.0.1", hostPort: String(settings.influx.hostPort) }] : [],
    [`${prefix}-grafana`]: [{ port: GRAFANA_PORT, hostIp: settings.grafana.bindAddress, hostPort: String(settings.grafana.port) }],
    [`${prefix}-simulator`]: [],
  };
  const services = stackServices(settings);
  if (services.includes(BROKER)) expected[`${prefix}-${BROKER}`] = [{ port: BROKER_PORT, hostIp: settings.mqtt.bindAddress, hostPort: String(settings.mqtt.port) }];
  if (services.includes(BRIDGE)) expected[`${prefix}-${BRIDGE}`] = [];
  if (services.includes(MQTT_SIMULATOR)) expected[`${prefix}-${MQTT_SIMULATOR}`] = [];
  return expected;
}

const describePublished = (p: { port: string; hostIp: string; hostPort: string }) => `${p.port} on ${p.hostIp || "every address"}:${p.hostPort}`;

export function checkPublishedPorts(inspects: Inspect[], expected: PortExpectation): CheckResult {
  const problems: string[] = [];
  const details: string[] = [];
  for (const [name, wanted] of Object.entries(expected)) {
    const c = inspects.find((i) => nameOf(i) === name);
    if (!c) {
      problems.push(`${name}: no such container`);
      continue;
    }
    const actual = Object.entries(c.NetworkSettings.Ports ?? {}).flatMap(([port, bindings]) =>
      (bindings ?? []).map((b) => ({ port, hostIp: b.HostIp, hostPort: b.HostPort })),
    );
    const key = (p: { port: string; hostIp: string; hostPort: string }) => `${p.port} ${p.hostIp} ${p.hostPort}`;
    const extra = actual.filter((a) => !wanted.some((w) => key(w) === key(a)));
    const missing = wanted.filter((w) => !actual.some((a) => key(w) === key(a)));
    if (extra.length > 0) problems.push(`${name} is published beyond the configuration: ${extra.map(describePublished).join(", ")}`);
    if (missing.length > 0) problems.push(`${name} is not published as configured: ${missing.map(describePublished).join(", ")} missing`);
    details.push(`${name}: ${actual.length > 0 ? actual.map(describePublished).join(", ") : "nothing published"}`);
  }
  if (problems.length > 0) return { name: "published ports", status: "fail", summary: problems.join("; "), details };
  return { name: "published ports", status: "pass", summary: "each service publishes exactly what the configuration says", details };
}

// --- Grafana's certificate -----------------------------------------------------------------------

export interface TlsProbe {
  /** the chain verifies against the given CA and the certificate names the host */
  authorized: boolean;
  authorizationError?: string;
  validTo?: Date;
  /** set when no TLS session could be made at all */
  error?: string;
}

export function checkCertificate(probe: TlsProbe, url: string, earlyRenewalHours: number, now: Date): CheckResult {
  return { name: "grafana tls", ...certificateVerdict(probe, url, earlyRenewalHours, now) };
}

/** The server certificate's verdict, shared by Grafana's and the broker's checks; `where` names what was dialled. */
function certificateVerdict(probe: TlsProbe, where: string, earlyRenewalHours: number, now: Date): Omit<CheckResult, "name"> {
  if (probe.error) return { status: "fail", summary: `no TLS session with ${where}: ${probe.error}` };
  if (!probe.authorized) return { status: "fail", summary: `the certificate of ${where} does not verify against the stack's CA: ${probe.authorizationError}` };
  if (!probe.validTo || Number.isNaN(probe.validTo.getTime())) return { status: "fail", summary: "the certificate's expiry could not be read" };
  const hoursLeft = (probe.validTo.getTime() - now.getTime()) / 3_600_000;
  const until = `valid until ${probe.validTo.toISOString()} (${Math.floor(hoursLeft)} h)`;
  if (hoursLeft <= earlyRenewalHours) {
    return { status: "fail", summary: `${until}: inside the renewal window of ${earlyRenewalHours} h; run npm run up to renew it` };
  }
  return { status: "pass", summary: `verifies against the stack's CA, ${until}, outside the renewal window of ${earlyRenewalHours} h` };
}

/** Opens a TLS session to the URL's host and port, trusting only `caPem`, and reads the peer certificate. */
export function probeTls(url: string, caPem: string, timeoutMs = 10_000): Promise<TlsProbe> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: u.hostname,
      port: Number(u.port || 443),
      ca: caPem,
      servername: isIP(u.hostname) === 0 ? u.hostname : undefined,
      rejectUnauthorized: false,
      timeout: timeoutMs,
    });
    const done = (probe: TlsProbe) => {
      socket.destroy();
      resolve(probe);
    };
    socket.once("secureConnect", () => {
      const cert = socket.getPeerCertificate();
      done({
        authorized: socket.authorized,
        authorizationError: socket.authorizationError ? String(socket.authorizationError) : undefined,
        validTo: cert?.valid_to ? new Date(cert.valid_to) : undefined,
      });
    });
    socket.once("timeout", () => done({ authorized: false, error: `no answer within ${timeoutMs} ms` }));
    socket.once("error", (error) => done({ authorized: false, error: error.message }));
  });
}

// --- the broker's TLS listener -------------------------------------------------------------------

export interface BrokerTlsProbe extends TlsProbe {
  /** what the broker did with a session that offered no client certificate */
  withoutClientCertificate?: "refused" | "kept open" | { closed: string };
}

/** OpenSSL's error for the TLS 1.3 alert certificate_required (116, RFC 8446 §4.4.2.4), as Node names it. */
export const CERTIFICATE_REQUIRED_ALERT = "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED";

/**
 * One TLS 1.3 handshake with the broker, without a client certificate, trusting only `caPem` and
 * checking the certificate against `name` (the name devices dial). TLS 1.3 because there the client
 * verifies the server's certificate before the server judges the client's (empty) one, so one
 * session shows both; Mosquitto with require_certificate then answers with the alert
 * certificate_required. No MQTT packet is sent. `refusalMs` bounds the wait for that alert.
 */
export function probeBrokerTls(host: string, port: number, name: string, caPem: string, timeoutMs = 10_000, refusalMs = 5000): Promise<BrokerTlsProbe> {
  return new Promise((resolve) => {
    let probe: BrokerTlsProbe | undefined;
    let timer: NodeJS.Timeout | undefined;
    const socket = tlsConnect({
      host,
      port,
      ca: caPem,
      servername: isIP(name) === 0 ? name : undefined,
      checkServerIdentity: (_dialled, cert) => checkServerIdentity(name, cert),
      minVersion: "TLSv1.3",
      rejectUnauthorized: false,
      timeout: timeoutMs,
    });
    const done = (result: BrokerTlsProbe) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    socket.once("secureConnect", () => {
      socket.setTimeout(0);
      const cert = socket.getPeerCertificate();
      probe = {
        authorized: socket.authorized,
        authorizationError: socket.authorizationError ? String(socket.authorizationError) : undefined,
        validTo: cert?.valid_to ? new Date(cert.valid_to) : undefined,
      };
      timer = setTimeout(() => done({ ...probe!, withoutClientCertificate: "kept open" }), refusalMs);
      // the alert arrives as an error on the next read
      socket.resume();
    });
    socket.once("timeout", () => done({ authorized: false, error: `no answer within ${timeoutMs} ms` }));
    socket.once("error", (error: NodeJS.ErrnoException) => {
      if (!probe) return done({ authorized: false, error: error.code ? `${error.code}: ${error.message}` : error.message });
      done({ ...probe, withoutClientCertificate: error.code === CERTIFICATE_REQUIRED_ALERT ? "refused" : { closed: error.code ?? error.message } });
    });
    socket.once("close", () => {
      if (probe) done({ ...probe, withoutClientCertificate: { closed: "closed without an alert" } });
    });
  });
}

/** Where verify dials the broker: its published address (0.0.0.0 means every address of the host, so loopback). */
export function brokerAddress(settings: Settings): { host: string; port: number } {
  return { host: settings.mqtt.bindAddress === "0.0.0.0" ? "127.0.0.1" : settings.mqtt.bindAddress, port: settings.mqtt.port };
}

export function checkBrokerTls(probe: BrokerTlsProbe, address: string, name: string, earlyRenewalHours: number, now: Date): CheckResult {
  const checkName = "broker tls";
  const certificate = certificateVerdict(probe, `${address} (as ${name})`, earlyRenewalHours, now);
  if (certificate.status !== "pass") return { name: checkName, ...certificate };
  const without = probe.withoutClientCertificate;
  if (without !== "refused") {
    const what = without === "kept open" || without === undefined ? "kept the session open" : `closed it another way (${without.closed})`;
    return {
      name: checkName,
      status: "fail",
      summary: `the broker on ${address} took a TLS session without a client certificate and ${what}, instead of refusing it with the alert certificate_required (require_certificate true)`,
    };
  }
  return {
    name: checkName,
    status: "pass",
    summary: `${address} serves TLS 1.3 with a certificate for ${name} that ${certificate.summary}; a session without a client certificate is refused (certificate required)`,
  };
}

// --- HTTP ----------------------------------------------------------------------------------------

export interface HttpAnswer {
  status: number;
  body: string;
}

export type HttpRequest = (url: string, options: { method?: string; headers?: Record<string, string>; body?: string; ca?: string }) => Promise<HttpAnswer>;

export const request: HttpRequest = (url, options) =>
  new Promise((resolve, reject) => {
    const send = url.startsWith("https:") ? httpsRequest : httpRequest;
    const req = send(url, { method: options.method ?? "GET", headers: options.headers, ca: options.ca, timeout: 30_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("no answer within 30 s")));
    req.on("error", reject);
    if (options.body) req.write(options.body);
    req.end();
  });

export const basicAuth = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

const excerpt = (body: string) => body.replace(/\s+/g, " ").slice(0, 200);

export function checkLogin(right: HttpAnswer, wrong: HttpAnswer | undefined, user: string): CheckResult {
  const name = "grafana login";
  if (right.status !== 200) {
    const locked = /too many/i.test(right.body) ? " (Grafana's brute-force protection locks a user for 5 minutes after 5 failed logins: wait, then run again)" : "";
    return { name, status: "fail", summary: `the admin credentials from the stack's outputs were refused (HTTP ${right.status}: ${excerpt(right.body)})${locked}` };
  }
  let login: unknown;
  try {
    login = JSON.parse(right.body).login;
  } catch {
    login = undefined;
  }
  if (login !== user) return { name, status: "fail", summary: `GET /api/user did not answer for ${user} (got ${excerpt(right.body)})` };
  if (!wrong) return { name, status: "fail", summary: "a wrong password was not tried" };
  if (wrong.status !== 401) return { name, status: "fail", summary: `a wrong password for ${user} was not refused with 401 (HTTP ${wrong.status}: ${excerpt(wrong.body)})` };
  return { name, status: "pass", summary: `${user} signs in with the password from the stack's outputs; a wrong password is refused (401)` };
}

// --- fresh data ----------------------------------------------------------------------------------

export function freshnessWindowMs(intervalMs: number): number {
  return Math.max(120_000, 3 * intervalMs);
}

/** The devices whose readings the stack expects, by how they arrive. */
export interface DeviceExpectation {
  /** simDevices: the simulator's devices writing over HTTPS (dev-000001 …), counted, not named */
  https: number;
  /** the MQTT simulator's devices (sim-mqtt-001 …): each must write */
  simulatedMqtt: string[];
  /** declared real devices (`devices`): allowed, reported, not required (they may be switched off) */
  declared: string[];
}

export function deviceExpectation(settings: Settings): DeviceExpectation {
  return {
    https: settings.simulator.devices,
    simulatedMqtt: settings.mqtt.enabled ? settings.mqtt.simulatedDevices.map((d) => d.id) : [],
    declared: settings.mqtt.enabled ? settings.mqtt.devices.map((d) => d.id) : [],
  };
}

/**
 * The Flux queries: how many devices wrote in the window, the newest reading's time, and, when
 * the stack has MQTT devices, which of them (by name) wrote. The simulator's HTTPS devices are
 * only counted: they can be 100,000, and Grafana refuses a table longer than a small multiple of
 * maxDataPoints (1.5 × in pkg/tsdb/influxdb/flux/executor.go); the MQTT ones are at most 1000
 * (settings.ts MAX_MQTT_DEVICES).
 */
export function freshDataQuery(bucket: string, windowMs: number, now: Date, namedDevices: readonly string[] = []): Record<string, unknown> {
  const seconds = Math.ceil(windowMs / 1000);
  const select = (extra = "") =>
    `from(bucket: ${JSON.stringify(bucket)}) |> range(start: -${seconds}s) |> filter(fn: (r) => r._measurement == "${MEASUREMENT}" and r._field == "${FIELD}"${extra})`;
  const base = select();
  const queries: Array<Record<string, unknown>> = [
    { refId: "devices", datasource: { uid: DATASOURCE_UID }, query: `${base} |> group(columns: ["device"]) |> last() |> group() |> count()` },
    { refId: "newest", datasource: { uid: DATASOURCE_UID }, query: `${base} |> group() |> keep(columns: ["_time"]) |> sort(columns: ["_time"], desc: true) |> limit(n: 1)` },
  ];
  if (namedDevices.length > 0) {
    // Device ids are [a-z0-9-] (settings.ts DEVICE_ID): nothing in them is special in a regex. A
    // regex on a tag is part of the filter InfluxDB pushes down to its storage.
    const oneOf = ` and r.device =~ /^(${namedDevices.join("|")})$/`;
    queries.push({
      refId: "named",
      datasource: { uid: DATASOURCE_UID },
      // /api/ds/query takes 100 when a query does not say (pkg/services/query/query.go)
      maxDataPoints: Math.max(100, namedDevices.length),
      query: `${select(oneOf)} |> group(columns: ["device"]) |> last() |> group() |> keep(columns: ["device"])`,
    });
  }
  return { from: String(now.getTime() - windowMs), to: String(now.getTime()), queries };
}

interface Frame {
  schema?: { fields?: Array<{ name?: string; type?: string }> };
  data?: { values?: unknown[][] };
}

/** Every value of the fields that match, across the frames of one query's result. */
function fieldValues(frames: Frame[], match: (field: { name?: string; type?: string }) => boolean): unknown[] {
  const out: unknown[] = [];
  for (const frame of frames) {
    (frame.schema?.fields ?? []).forEach((field, index) => {
      if (match(field)) out.push(...(frame.data?.values?.[index] ?? []));
    });
  }
  return out;
}

/** At most this many ids in a detail line. */
const LISTED_IDS = 10;
const listIds = (ids: string[]) => (ids.length > LISTED_IDS ? `${ids.slice(0, LISTED_IDS).join(", ")} and ${ids.length - LISTED_IDS} more` : ids.join(", "));

/**
 * `expected` as a number: that many simulated devices over HTTPS and nothing else (a stack
 * without MQTT devices).
 */
export function checkFreshData(answer: HttpAnswer, expected: number | DeviceExpectation, windowMs: number, now: Date): CheckResult {
  const name = "fresh data";
  const exp = typeof expected === "number" ? { https: expected, simulatedMqtt: [], declared: [] } : expected;
  const named = [...exp.simulatedMqtt, ...exp.declared];
  let doc: any;
  try {
    doc = JSON.parse(answer.body);
  } catch {
    doc = undefined;
  }
  if (answer.status !== 200 || !doc?.results) {
    return { name, status: "fail", summary: `Grafana's datasource query failed (HTTP ${answer.status}: ${excerpt(doc?.message ?? doc?.results?.devices?.error ?? answer.body)})` };
  }
  for (const refId of named.length > 0 ? ["devices", "newest", "named"] : ["devices", "newest"]) {
    const result = doc.results[refId];
    if (!result) return { name, status: "fail", summary: `Grafana's answer has no result for the "${refId}" query` };
    if (result.error) return { name, status: "fail", summary: `the "${refId}" query failed in the datasource: ${excerpt(String(result.error))}` };
  }
  const counted = fieldValues(doc.results.devices.frames ?? [], (f) => f.name === "_value").map(Number);
  const devices = counted.length > 0 ? counted.reduce((a, b) => a + b, 0) : 0;
  const times = fieldValues(doc.results.newest.frames ?? [], (f) => f.type === "time").map(Number).filter(Number.isFinite);
  const seconds = Math.round(windowMs / 1000);
  if (times.length === 0 || devices === 0) return { name, status: "fail", summary: `no reading in the last ${seconds} s` };
  const ageMs = now.getTime() - Math.max(...times);
  const newest = `newest reading ${Math.max(0, Math.round(ageMs / 1000))} s old`;
  if (named.length === 0) {
    if (devices < exp.https) return { name, status: "fail", summary: `${devices} of ${exp.https} devices wrote in the last ${seconds} s (${newest})` };
    if (devices > exp.https) {
      return { name, status: "fail", summary: `${devices} devices wrote in the last ${seconds} s, but the stack runs ${exp.https}: data from elsewhere in the bucket?` };
    }
    return { name, status: "pass", summary: `all ${exp.https} devices wrote in the last ${seconds} s (${newest}), read through Grafana's datasource ${DATASOURCE_UID}` };
  }

  const wrote = new Set(fieldValues(doc.results.named.frames ?? [], (f) => f.name === "device").map(String));
  const mqttWrote = exp.simulatedMqtt.filter((id) => wrote.has(id));
  const mqttSilent = exp.simulatedMqtt.filter((id) => !wrote.has(id));
  const declaredWrote = exp.declared.filter((id) => wrote.has(id));
  const declaredSilent = exp.declared.filter((id) => !wrote.has(id));
  // every device not named in the query: the simulator's HTTPS devices, and anything else
  const unnamed = devices - mqttWrote.length - declaredWrote.length;
  const simulated = exp.https + exp.simulatedMqtt.length;
  const simulatedWrote = Math.min(unnamed, exp.https) + mqttWrote.length;
  const declaredNote = exp.declared.length > 0 ? `; ${declaredWrote.length} of ${exp.declared.length} declared device${exp.declared.length === 1 ? "" : "s"} wrote` : "";
  const details: string[] = [];
  if (mqttSilent.length > 0) details.push(`simulated MQTT devices silent in the last ${seconds} s: ${listIds(mqttSilent)}`);
  if (declaredWrote.length > 0) details.push(`declared devices that wrote: ${listIds(declaredWrote)}`);
  if (declaredSilent.length > 0) {
    details.push(`declared devices silent in the last ${seconds} s: ${listIds(declaredSilent)} (a real device may be switched off or not installed yet: not a failure of the stack)`);
  }
  const problems: string[] = [];
  if (simulatedWrote < simulated) {
    problems.push(
      `${simulatedWrote} of ${simulated} simulated devices wrote in the last ${seconds} s (${Math.min(unnamed, exp.https)} of ${exp.https} over HTTPS, ${mqttWrote.length} of ${exp.simulatedMqtt.length} over MQTT; ${newest})`,
    );
  }
  if (unnamed > exp.https) {
    problems.push(
      `${devices} devices wrote in the last ${seconds} s, but the stack runs ${simulated} simulated devices${exp.declared.length > 0 ? ` and declares ${exp.declared.length} more` : ""}: data from elsewhere in the bucket?`,
    );
  }
  if (problems.length > 0) return { name, status: "fail", summary: `${problems.join("; ")}${declaredNote}`, details };
  return {
    name,
    status: "pass",
    summary: `all ${simulated} simulated devices wrote in the last ${seconds} s (${exp.https} over HTTPS, ${exp.simulatedMqtt.length} over MQTT; ${newest}), read through Grafana's datasource ${DATASOURCE_UID}${declaredNote}`,
    details,
  };
}

// --- the simulator's log -------------------------------------------------------------------------

/** `name` and `container` tell the HTTPS simulator ("simulator log") from the MQTT one ("mqtt simulator log"): both log the same way. */
export function checkSimulatorLog(log: string, simulator: Inspect | undefined, name = "simulator log", container = "the simulator container"): CheckResult {
  let lines = 0;
  let dropped = 0;
  let dropLines = 0;
  let failedForGood = 0;
  let metricsDropped = 0;
  const stoppedWithDrops: string[] = [];
  const fatal: string[] = [];
  for (const raw of log.split("\n")) {
    if (!raw.trim().startsWith("{")) continue;
    let entry: any;
    try {
      entry = JSON.parse(raw);
    } catch {
      continue;
    }
    lines++;
    if (entry.msg === "points dropped") {
      dropLines++;
      dropped += Number(entry.points) || 0;
    } else if (entry.msg === "metrics lines dropped") metricsDropped += Number(entry.lines) || 0;
    else if (entry.msg === "write failed for good") failedForGood++;
    else if (entry.msg === "simulator stopped" && (Number(entry.points_dropped) > 0 || Number(entry.metrics_dropped) > 0)) {
      stoppedWithDrops.push(`${Number(entry.points_dropped) || 0} points and ${Number(entry.metrics_dropped) || 0} metrics lines`);
    }
    if (Number(entry.level) >= 60) fatal.push(String(entry.msg));
  }
  const health = simulator ? lastHealthOutput(simulator) : undefined;
  const healthNote = health ? `last health check: "${health}"` : "no health check result yet";
  const problems: string[] = [];
  if (dropLines > 0) problems.push(`${dropped} points dropped (${dropLines} "points dropped" lines)`);
  if (metricsDropped > 0) problems.push(`${metricsDropped} metrics lines dropped`);
  if (failedForGood > 0) problems.push(`${failedForGood} "write failed for good" lines`);
  if (stoppedWithDrops.length > 0) problems.push(`an earlier run stopped with ${stoppedWithDrops.join("; ")} dropped`);
  if (fatal.length > 0) problems.push(`fatal: ${fatal.join("; ")}`);
  if (!simulator) problems.push(`${container} was not found`);
  else if (!health?.startsWith("healthy:")) problems.push(healthNote);
  if (lines === 0) problems.push("no JSON log line at all (is it logging?)");
  if (problems.length > 0) return { name, status: "fail", summary: problems.join("; ") };
  return { name, status: "pass", summary: `no dropped points in the ${lines} log lines Docker keeps; ${healthNote}` };
}

// --- reading the stack ---------------------------------------------------------------------------

export interface StackOutputs {
  grafanaUrl: string;
  grafanaAdminUser: string;
  grafanaAdminPassword: string;
  caCertificatePem?: string;
}

/** `pulumi config --json` (without secrets: none is needed here) over Pulumi.yaml's defaults. */
export function mergeConfig(defaults: Record<string, string>, pulumiConfigJson: string): Record<string, string> {
  const merged = { ...defaults };
  for (const [key, entry] of Object.entries<any>(JSON.parse(pulumiConfigJson))) {
    if (entry?.objectValue !== undefined) merged[key] = configString(entry.objectValue);
    else if (typeof entry?.value === "string") merged[key] = entry.value;
  }
  return merged;
}

export async function readStack(stack: string, run: Exec, root: string): Promise<{ settings: Settings; outputs: StackOutputs }> {
  const outputs = await run("pulumi", ["stack", "output", "--json", "--show-secrets", "--stack", stack], { cwd: root, timeoutMs: 120_000 });
  if (outputs.status !== 0) throw new Error(`pulumi stack output failed: ${(outputs.error ?? outputs.stderr).trim()}`);
  const config = await run("pulumi", ["config", "--json", "--stack", stack], { cwd: root, timeoutMs: 120_000 });
  if (config.status !== 0) throw new Error(`pulumi config failed: ${(config.error ?? config.stderr).trim()}`);
  const project = Object.fromEntries(Object.entries(stackFileConfig(stack, root)).filter(([k]) => k.startsWith("secure-iot:")));
  let settings: Settings;
  try {
    settings = loadSettings(mergeConfig(project, config.stdout), stack);
  } catch (error) {
    throw new Error(error instanceof ConfigError ? error.message : `cannot read the stack's configuration: ${(error as Error).message}`);
  }
  const o = JSON.parse(outputs.stdout);
  for (const key of ["grafanaUrl", "grafanaAdminUser", "grafanaAdminPassword"]) {
    if (typeof o[key] !== "string" || o[key] === "") throw new Error(`the stack has no output ${key}: is it deployed (npm run up -- --stack ${stack})?`);
  }
  return { settings, outputs: o as StackOutputs };
}

// --- the run -------------------------------------------------------------------------------------

export interface VerifyDeps {
  exec: Exec;
  request: HttpRequest;
  probeTls: (url: string, caPem: string) => Promise<TlsProbe>;
  probeBrokerTls: (host: string, port: number, name: string, caPem: string) => Promise<BrokerTlsProbe>;
  now: () => Date;
  root: string;
}

export interface VerifyRun {
  stack: string;
  results: CheckResult[];
  exitCode: number;
  report: string;
  json: Record<string, unknown>;
}

function finish(stack: string, grafanaUrl: string | undefined, results: CheckResult[]): VerifyRun {
  const c = counts(results);
  const exitCode = c.fail > 0 || results.length === 0 ? 1 : 0;
  return {
    stack,
    results,
    exitCode,
    report: formatReport(`verify stack ${stack}${grafanaUrl ? ` (Grafana ${grafanaUrl})` : ""}`, results),
    json: { stack, grafanaUrl: grafanaUrl ?? null, ok: exitCode === 0, counts: c, checks: results },
  };
}

export async function runVerify(stack: string, deps: VerifyDeps): Promise<VerifyRun> {
  let settings: Settings;
  let outputs: StackOutputs;
  try {
    ({ settings, outputs } = await readStack(stack, deps.exec, deps.root));
  } catch (error) {
    return finish(stack, undefined, [{ name: "stack", status: "fail", summary: (error as Error).message }]);
  }
  const results: CheckResult[] = [];
  const prefix = settings.namePrefix;
  const services = stackServices(settings);

  // Docker: the stack's containers (names start with iot-<stack>-), inspected.
  const listed = await deps.exec("docker", ["ps", "-a", "--format", "{{.Names}}"], { timeoutMs: 60_000 });
  let inspects: Inspect[] = [];
  if (listed.status !== 0) {
    const why = `docker ps failed: ${(listed.error ?? listed.stderr).trim()}`;
    results.push({ name: "containers", status: "fail", summary: why }, { name: "published ports", status: "fail", summary: why });
  } else {
    const names = listed.stdout.split("\n").map((n) => n.trim()).filter((n) => n.startsWith(`${prefix}-`));
    const inspected = names.length > 0 ? await deps.exec("docker", ["inspect", ...names], { timeoutMs: 60_000 }) : { status: 0, stdout: "[]", stderr: "" };
    if (inspected.status !== 0) {
      const why = `docker inspect failed: ${(inspected.stderr || "").trim()}`;
      results.push({ name: "containers", status: "fail", summary: why }, { name: "published ports", status: "fail", summary: why });
    } else {
      inspects = JSON.parse(inspected.stdout);
      results.push(checkContainers(inspects, prefix, services), checkPublishedPorts(inspects, expectedPorts(settings)));
    }
  }

  // Grafana over HTTPS, trusting the stack's CA only.
  const url = outputs.grafanaUrl.replace(/\/$/, "");
  const ca = outputs.caCertificatePem;
  if (!settings.tls.enabled) {
    results.push({ name: "grafana tls", status: "skip", summary: "not checked: TLS is off in this stack (tlsEnabled=false with allowPlaintext=true)" });
  } else if (!ca) {
    results.push({ name: "grafana tls", status: "fail", summary: "the stack has no caCertificatePem output" });
  } else {
    results.push(checkCertificate(await deps.probeTls(url, ca), url, settings.tls.earlyRenewalHours, deps.now()));
  }
  // The broker's listener on its published address (settings.ts refuses MQTT devices without TLS).
  if (services.includes(BROKER)) {
    const { host, port } = brokerAddress(settings);
    const name = settings.mqtt.externalNames[0];
    if (!ca) results.push({ name: "broker tls", status: "fail", summary: "the stack has no caCertificatePem output" });
    else results.push(checkBrokerTls(await deps.probeBrokerTls(host, port, name, ca), `${host}:${port}`, name, settings.tls.earlyRenewalHours, deps.now()));
  }

  const user = outputs.grafanaAdminUser;
  const ask = async (path: string, init: { method?: string; headers?: Record<string, string>; body?: string }): Promise<HttpAnswer> => {
    try {
      return await deps.request(`${url}${path}`, { ...init, ca });
    } catch (error) {
      return { status: 0, body: `no answer: ${(error as Error).message}` };
    }
  };
  const auth = { authorization: basicAuth(user, outputs.grafanaAdminPassword) };
  const right = await ask("/api/user", { headers: auth });

  const windowMs = freshnessWindowMs(settings.simulator.intervalMs);
  const now = deps.now();
  const devices = deviceExpectation(settings);
  const data = await ask("/api/ds/query", {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify(freshDataQuery(settings.influx.bucket, windowMs, now, [...devices.simulatedMqtt, ...devices.declared])),
  });

  // Last, so that the one failed login it records comes after every authenticated request.
  const wrong = right.status === 200 ? await ask("/api/user", { headers: { authorization: basicAuth(user, `${outputs.grafanaAdminPassword}-wrong`) } }) : undefined;
  results.push(checkLogin(right, wrong, user), checkFreshData(data, devices, windowMs, now));

  // The simulator's log, as Docker keeps it (json-file, rotated by logMaxSize/logMaxFiles).
  const simulatorLogs: Array<[string, string, string]> = [["simulator", "simulator log", "the simulator container"]];
  if (services.includes(MQTT_SIMULATOR)) simulatorLogs.push([MQTT_SIMULATOR, "mqtt simulator log", "the MQTT simulator container"]);
  for (const [service, check, label] of simulatorLogs) {
    const containerName = `${prefix}-${service}`;
    const simulator = inspects.find((c) => nameOf(c) === containerName);
    const logs = simulator ? await deps.exec("docker", ["logs", containerName], { timeoutMs: 120_000 }) : undefined;
    if (logs && logs.status !== 0) results.push({ name: check, status: "fail", summary: `docker logs failed: ${(logs.error ?? logs.stderr).trim()}` });
    else results.push(checkSimulatorLog(logs ? `${logs.stdout}\n${logs.stderr}` : "", simulator, check, label));
  }

  return finish(stack, url, results);
}

export function parseArgs(argv: string[]): { stack: string; json: boolean } {
  const options = { stack: "dev", json: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--stack") {
      const v = argv[++i];
      if (!v) throw new Error("--stack needs a value");
      options.stack = v;
    } else if (argv[i] === "--json") options.json = true;
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return options;
}

async function main(): Promise<number> {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`verify: ${(error as Error).message}\nusage: npm run verify [-- --stack NAME] [-- --json]`);
    return 2;
  }
  const run = await runVerify(options.stack, { exec: realExec, request, probeTls, probeBrokerTls, now: () => new Date(), root: ROOT });
  console.log(options.json ? JSON.stringify(run.json, null, 2) : run.report);
  return run.exitCode;
}

if (require.main === module) void main().then((code) => process.exit(code));
