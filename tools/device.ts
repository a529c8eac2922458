// npm run device -- list | bundle <id> --out DIR [--stack NAME]: what a real device needs to join
// the stack's MQTT broker, read from the deployed stack's outputs (index.ts):
//   caCertificatePem  the stack CA, which signed the broker's certificate and every device's
//   mqtt              { host, port, devices: { <id>: { site, topic, certPem, notAfter } } }, absent
//                     when the stack declares no devices
//   deviceKeys        secret: { <id>: PEM private key }, read only by `bundle`
//
// Started by scripts/device.sh, which has checked the arguments' shape, the stack, the Pulumi CLI,
// the state backend and the passphrase (scripts/prereqs.sh). Every failure is one "error: ..."
// line on stderr with a non-zero exit, and nothing is written: the bundle is assembled in a
// private folder next to DIR and renamed into place only when complete. The private key goes to
// one file (0600) and nowhere else: never to stdout, stderr or an error message.
import { X509Certificate, createPrivateKey } from "node:crypto";
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join } from "node:path";
import { DEFAULT_MEASUREMENT, READING_FIELDS, type FieldEncoding, type ReadingField } from "../simulator/src/schema";
import { SignalModel } from "../simulator/src/signal-model";
import { exec as realExec, type Exec } from "./common";

/** A refusal the user can act on: printed as one line, exit status 1. */
export class DeviceError extends Error {}

export interface DeviceEntry {
  site: string;
  topic: string;
  certPem: string;
  /** RFC 3339 */
  notAfter: string;
}

export interface MqttOutput {
  host: string;
  port: number;
  devices: Record<string, DeviceEntry>;
}

export interface StackOutputs {
  caCertificatePem?: string;
  mqtt?: MqttOutput;
  deviceKeys?: Record<string, string>;
}

// --- reading the outputs -------------------------------------------------------------------------

/**
 * The stack's outputs as `pulumi stack output --json` prints them; secrets only when asked for
 * (bundle): `list` never needs one, so it never decrypts one.
 */
export async function readOutputs(stack: string, withSecrets: boolean, exec: Exec = realExec): Promise<StackOutputs> {
  const args = ["stack", "output", "--json", ...(withSecrets ? ["--show-secrets"] : []), "--stack", stack];
  const r = await exec("pulumi", args, { timeoutMs: 120_000 });
  if (r.status !== 0) {
    // Pulumi's own reason, one line (e.g. "no stack named 'dev' found"); its stdout is never
    // echoed, since with --show-secrets it would hold the keys.
    const reason = r.error ?? lastErrorLine(r.stderr) ?? `pulumi exited with status ${r.status}`;
    throw new DeviceError(`cannot read the outputs of stack ${stack} (has it been deployed with npm run up -- --stack ${stack}?): ${reason}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.stdout);
  } catch {
    throw new DeviceError(`the outputs of stack ${stack} are not JSON ('pulumi stack output --json' printed something else)`);
  }
  if (!isObject(parsed)) throw new DeviceError(`the outputs of stack ${stack} are not a JSON object`);
  return checkShape(stack, parsed);
}

function lastErrorLine(stderr: string): string | undefined {
  const lines = stderr.split("\n").map((l) => l.trim()).filter(Boolean);
  const line = lines.filter((l) => /^error:/i.test(l)).pop() ?? lines.pop();
  return line?.replace(/^error:\s*/i, "");
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The outputs this tool reads, checked so that a stack deployed by another version fails in one line, not in a stack trace. */
function checkShape(stack: string, outputs: Record<string, unknown>): StackOutputs {
  const wrong = (what: string) =>
    new DeviceError(`stack ${stack}: the output ${what}; deploy it again with this version (npm run up -- --stack ${stack})`);
  const result: StackOutputs = {};
  if (outputs.caCertificatePem !== undefined) {
    if (typeof outputs.caCertificatePem !== "string") throw wrong("caCertificatePem is not a PEM string");
    result.caCertificatePem = outputs.caCertificatePem;
  }
  if (outputs.mqtt !== undefined && outputs.mqtt !== null) {
    const mqtt = outputs.mqtt;
    if (!isObject(mqtt) || typeof mqtt.host !== "string" || !mqtt.host || !Number.isInteger(mqtt.port) || !isObject(mqtt.devices)) {
      throw wrong("mqtt is not { host, port, devices }");
    }
    const devices: Record<string, DeviceEntry> = {};
    for (const [id, entry] of Object.entries(mqtt.devices)) {
      if (
        !isObject(entry) ||
        typeof entry.site !== "string" ||
        typeof entry.topic !== "string" ||
        typeof entry.certPem !== "string" ||
        typeof entry.notAfter !== "string" ||
        Number.isNaN(Date.parse(entry.notAfter))
      ) {
        throw wrong(`mqtt.devices["${id}"] is not { site, topic, certPem, notAfter (RFC 3339) }`);
      }
      devices[id] = { site: entry.site, topic: entry.topic, certPem: entry.certPem, notAfter: entry.notAfter };
    }
    result.mqtt = { host: mqtt.host, port: mqtt.port as number, devices };
  }
  if (outputs.deviceKeys !== undefined) {
    // Without --show-secrets Pulumi prints "[secret]" here; list never reads it.
    if (isObject(outputs.deviceKeys)) {
      const keys: Record<string, string> = {};
      for (const [id, pem] of Object.entries(outputs.deviceKeys)) if (typeof pem === "string") keys[id] = pem;
      result.deviceKeys = keys;
    }
  }
  return result;
}

// --- list ----------------------------------------------------------------------------------------

const DAY_MS = 86_400_000;

/** Whole days from now until notAfter, rounded down: 0 on the last day, negative once expired. */
export function daysLeft(notAfter: string, now: Date): number {
  return Math.floor((Date.parse(notAfter) - now.getTime()) / DAY_MS);
}

/** One line per device (a header first), sorted by id; "no devices declared" when there are none. */
export function listLines(stack: string, outputs: StackOutputs, now: Date): string[] {
  const ids = Object.keys(outputs.mqtt?.devices ?? {}).sort();
  if (!outputs.mqtt || ids.length === 0) {
    return [`no devices declared in stack ${stack} (the devices setting in Pulumi.${stack}.yaml; then npm run up -- --stack ${stack})`];
  }
  const rows = [["DEVICE", "SITE", "TOPIC", "CERTIFICATE NOT AFTER", "DAYS LEFT"]];
  for (const id of ids) {
    const d = outputs.mqtt.devices[id];
    const left = daysLeft(d.notAfter, now);
    rows.push([id, d.site, d.topic, d.notAfter, left < 0 ? `${left} (expired)` : String(left)]);
  }
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]))).join("  "));
}

// --- bundle --------------------------------------------------------------------------------------

export interface BundleFile {
  name: string;
  content: string;
  mode: number;
}

/** A word the shell takes literally: as is when it only has safe characters, else single-quoted. */
export function shellWord(value: string): string {
  return /^[A-Za-z0-9._/:@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * An example reading in the payload format: every field of the schema in its order, encoded as
 * its encoding says (simulator/src/schema.ts), the values from the simulator's own signal model
 * so that they are plausible for a sensor. The timestamp is left to the caller.
 */
export function exampleFields(): string {
  // One device, no faults, noon of a fixed day: the same example in every bundle.
  const model = new SignalModel(1, 60_000, 1, { spikeRate: 0, stuckRate: 0, dropoutRate: 0 });
  const reading = model.reading(0, Date.UTC(2026, 0, 15, 12))!;
  return (Object.keys(READING_FIELDS) as ReadingField[])
    .map((name) => {
      const encoding: FieldEncoding = READING_FIELDS[name];
      const value = reading[name];
      return `${name}=${encoding.type === "integer" ? `${Math.round(value)}i` : value.toFixed(encoding.decimals)}`;
    })
    .join(",");
}

/** The one command that publishes a reading, run from the bundle's folder; a nanosecond timestamp from the shell. */
export function publishCommand(id: string, mqtt: MqttOutput): string {
  const device = mqtt.devices[id];
  const line = `${DEFAULT_MEASUREMENT} ${exampleFields()}`;
  return [
    "mosquitto_pub",
    `-h ${shellWord(mqtt.host)}`,
    `-p ${mqtt.port}`,
    "--cafile ca.pem",
    `--cert ${shellWord(`${id}.crt`)}`,
    `--key ${shellWord(`${id}.key`)}`,
    "-V mqttv5",
    "-q 1",
    `-t ${shellWord(device.topic)}`,
    // Double quotes so that the shell runs date; the line itself has no character they treat specially.
    `-m "${line} $(date +%s%N)"`,
  ].join(" ");
}

function commonName(cert: X509Certificate): string | undefined {
  return /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
}

/**
 * The files of a device's bundle, checked before anything is written: the device exists, its key
 * is there and belongs to its certificate, and the certificate names the device and was signed by
 * the stack's CA (the broker would refuse it otherwise).
 */
export function bundleFiles(stack: string, id: string, outputs: StackOutputs): BundleFile[] {
  const mqtt = outputs.mqtt;
  const known = Object.keys(mqtt?.devices ?? {}).sort();
  if (!mqtt || known.length === 0) {
    throw new DeviceError(`no device '${id}' in stack ${stack}: it declares no devices (the devices setting in Pulumi.${stack}.yaml; then npm run up -- --stack ${stack})`);
  }
  if (!Object.prototype.hasOwnProperty.call(mqtt.devices, id)) {
    throw new DeviceError(`no device '${id}' in stack ${stack}; its devices: ${known.join(", ")}`);
  }
  const device = mqtt.devices[id];
  const redeploy = `run npm run up -- --stack ${stack}`;
  if (!outputs.caCertificatePem) throw new DeviceError(`stack ${stack} has no caCertificatePem output: ${redeploy}`);
  const keyPem = outputs.deviceKeys?.[id];
  if (!keyPem) throw new DeviceError(`stack ${stack} has no private key for device '${id}' in its deviceKeys output: ${redeploy}`);

  let ca: X509Certificate, cert: X509Certificate;
  try {
    ca = new X509Certificate(outputs.caCertificatePem);
    cert = new X509Certificate(device.certPem);
  } catch {
    throw new DeviceError(`stack ${stack}: the CA certificate or the certificate of device '${id}' is not a PEM certificate: ${redeploy}`);
  }
  let keyMatches = false;
  try {
    keyMatches = cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    // an unreadable key is reported below, without its content
  }
  if (!keyMatches) throw new DeviceError(`stack ${stack}: the private key of device '${id}' does not belong to its certificate: ${redeploy}`);
  if (commonName(cert) !== id) throw new DeviceError(`stack ${stack}: the certificate of device '${id}' names CN=${commonName(cert) ?? "(none)"}, not ${id}: ${redeploy}`);
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) {
    throw new DeviceError(`stack ${stack}: the certificate of device '${id}' is not signed by the stack's CA (caCertificatePem): ${redeploy}`);
  }

  const command = publishCommand(id, mqtt);
  const env = [
    `# Device ${id} of stack ${stack}. Shell syntax: source it with  . ./device.env  or read it into a firmware build.`,
    `DEVICE_ID=${shellWord(id)}`,
    `MQTT_HOST=${shellWord(mqtt.host)}`,
    `MQTT_PORT=${mqtt.port}`,
    `MQTT_TOPIC=${shellWord(device.topic)}`,
    "MQTT_QOS=1",
    "MQTT_CA_FILE=ca.pem",
    `MQTT_CERT_FILE=${shellWord(`${id}.crt`)}`,
    `MQTT_KEY_FILE=${shellWord(`${id}.key`)}`,
    "",
  ].join("\n");
  const script = [
    "#!/usr/bin/env bash",
    `# Publishes one example reading as device ${id}: the command of README.txt, run from this folder.`,
    "set -euo pipefail",
    'cd "$(dirname "${BASH_SOURCE[0]}")"',
    command,
    "",
  ].join("\n");
  return [
    { name: "ca.pem", content: outputs.caCertificatePem, mode: 0o644 },
    { name: `${id}.crt`, content: device.certPem, mode: 0o644 },
    { name: `${id}.key`, content: keyPem, mode: 0o600 },
    { name: "device.env", content: env, mode: 0o644 },
    { name: "publish.sh", content: script, mode: 0o755 },
    { name: "README.txt", content: readme(stack, id, mqtt, ca, cert, command), mode: 0o644 },
  ];
}

function readme(stack: string, id: string, mqtt: MqttOutput, ca: X509Certificate, cert: X509Certificate, command: string): string {
  const device = mqtt.devices[id];
  const names = Object.keys(READING_FIELDS) as ReadingField[];
  const width = Math.max(...names.map((n) => n.length));
  const example = exampleFields();
  const exampleValue = (name: string) => example.split(",").find((pair) => pair.startsWith(`${name}=`))!.slice(name.length + 1);
  const fieldLines = names.map((name) => {
    const f = READING_FIELDS[name];
    // Line protocol's types: a number without a suffix is a float (21 and 21.5 alike), one with i an integer.
    const type = f.type === "integer" ? `integer, with the suffix i (e.g. ${exampleValue(name)})` : `float (e.g. ${exampleValue(name)})`;
    return `    ${name.padEnd(width)}  ${f.unit}, ${f.description}; ${type}`;
  });
  return [
    `Device ${id} of stack ${stack}`,
    "",
    "Files",
    ...[
      ["ca.pem", `the stack's CA (${ca.subject.replace(/\n/g, ", ")}): trust only it for the broker`],
      [`${id}.crt`, `this device's certificate: CN=${id}, serial ${cert.serialNumber}, valid until ${device.notAfter}`],
      [`${id}.key`, "its private key (mode 0600): copy it to the device only, never share or commit it"],
      ["device.env", "the settings below as shell variables"],
      ["publish.sh", "runs the command below"],
    ].map(([file, what], _, all) => `  ${file.padEnd(Math.max(...all.map(([f]) => f.length)))}  ${what}`),
    "",
    "Broker",
    `  host ${mqtt.host}, port ${mqtt.port}: MQTT 3.1.1 or 5 over TLS only (mqtts://${mqtt.host}:${mqtt.port}).`,
    `  The broker's certificate is signed by ca.pem and names ${mqtt.host}: verify it, never turn verification off.`,
    "  The broker knows the device by its certificate alone (its CN): no user name, no password.",
    "",
    "Topic",
    `  ${device.topic}`,
    "  Publish only there, with QoS 1. The device may publish nowhere else and subscribe to nothing;",
    "  the site and the device of every reading are taken from the topic.",
    "",
    "Payload: InfluxDB line protocol, one or more lines separated by newlines",
    `  ${DEFAULT_MEASUREMENT} <field>=<value>,<field>=<value>,... <timestamp>`,
    `  measurement  ${DEFAULT_MEASUREMENT}`,
    "  fields       these and no others, each of its type, in any order (the dashboards expect all of",
    "               them on every line); a line with another measurement, another field or a field of",
    "               another type is dropped by the bridge, not stored",
    ...fieldLines,
    "  tags         none needed: a device or site tag in the payload is replaced by the topic's",
    "  timestamp    Unix time in nanoseconds (19 digits), e.g. $(date +%s%N) in a shell;",
    "               a line sent again with the same timestamp overwrites the same point, so resending",
    "               a reading the broker did not acknowledge is harmless",
    "  QoS          1: the reading is delivered once the broker acknowledges it (PUBACK)",
    "  example",
    `    ${DEFAULT_MEASUREMENT} ${example} 1768478400000000000`,
    "",
    "Try it from this folder (needs mosquitto_pub, package mosquitto-clients); GNU date for %N,",
    "elsewhere put $(($(date +%s)*1000000000)) in its place:",
    "",
    command,
    "",
  ].join("\n");
}

/** Why DIR cannot receive a bundle, or undefined when it does not exist or is an empty folder. */
export function outDirProblem(dir: string): string | undefined {
  let stat;
  try {
    stat = lstatSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    return `--out ${dir} cannot be read: ${(e as Error).message}`;
  }
  if (!stat.isDirectory()) return `--out ${dir} exists and is not a folder: give a new or empty folder`;
  if (readdirSync(dir).length > 0) return `--out ${dir} exists and is not empty: give a new or empty folder`;
  return undefined;
}

/**
 * Writes the files into a private (0700) folder next to DIR, then renames it to DIR in one step, so
 * that DIR either does not appear or holds the whole bundle. An existing empty DIR is replaced by
 * the rename (POSIX rename(2) allows an empty folder as the target), so DIR is 0700 either way.
 */
export function writeBundle(dir: string, files: BundleFile[]): void {
  const problem = outDirProblem(dir);
  if (problem) throw new DeviceError(problem);
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const staging = mkdtempSync(join(parent, `.${basename(dir)}.partial-`));
  try {
    chmodSync(staging, 0o700);
    for (const file of files) {
      const path = join(staging, file.name);
      // wx: never through a file someone placed there; chmod: the mode whatever the umask.
      writeFileSync(path, file.content, { mode: file.mode, flag: "wx" });
      chmodSync(path, file.mode);
    }
    renameSync(staging, dir);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOTEMPTY" || code === "EEXIST") throw new DeviceError(`--out ${dir} exists and is not empty: give a new or empty folder`);
    throw new DeviceError(`cannot write the bundle to ${dir}: ${(e as Error).message}`);
  }
}

// --- command line --------------------------------------------------------------------------------

const USAGE = "usage: device.js list --stack NAME | device.js bundle DEVICE_ID --out DIR --stack NAME";

interface Command {
  command: "list" | "bundle";
  stack: string;
  id?: string;
  out?: string;
}

/** The arguments scripts/device.sh passes, already checked there; anything else is refused. */
export function parseArgs(argv: string[]): Command {
  const [command, ...rest] = argv;
  const options: Record<string, string> = {};
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === "--stack" || rest[i] === "--out") {
      if (i + 1 >= rest.length) throw new DeviceError(`${rest[i]} needs a value; ${USAGE}`);
      options[rest[i].slice(2)] = rest[++i];
    } else positional.push(rest[i]);
  }
  if (!options.stack) throw new DeviceError(`--stack is required; ${USAGE}`);
  if (command === "list" && positional.length === 0 && !options.out) return { command, stack: options.stack };
  if (command === "bundle" && positional.length === 1 && options.out && isAbsolute(options.out)) {
    return { command, stack: options.stack, id: positional[0], out: options.out };
  }
  throw new DeviceError(`unexpected arguments (--out must be an absolute path); ${USAGE}`);
}

export async function main(argv: string[], exec: Exec = realExec, now = new Date()): Promise<number> {
  try {
    const args = parseArgs(argv);
    if (args.command === "list") {
      const outputs = await readOutputs(args.stack, false, exec);
      process.stdout.write(`${listLines(args.stack, outputs, now).join("\n")}\n`);
      return 0;
    }
    const out = args.out!;
    // Before the outputs are read (and their secrets decrypted): the folder is the cheapest thing to get wrong.
    const problem = outDirProblem(out);
    if (problem) throw new DeviceError(problem);
    const outputs = await readOutputs(args.stack, true, exec);
    const files = bundleFiles(args.stack, args.id!, outputs);
    writeBundle(out, files);
    const device = outputs.mqtt!.devices[args.id!];
    process.stdout.write(
      [
        `wrote the bundle of device ${args.id} (stack ${args.stack}) to ${out}: ${files.map((f) => f.name).join(", ")}`,
        `  broker ${outputs.mqtt!.host}:${outputs.mqtt!.port}, topic ${device.topic}, certificate valid until ${device.notAfter}`,
        `  ${args.id}.key is the device's private key (mode 0600): copy it to the device only. Try it: bash ${shellWord(join(out, "publish.sh"))}`,
        "",
      ].join("\n"),
    );
    return 0;
  } catch (e) {
    if (e instanceof DeviceError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 1;
    }
    // Not a refusal but a bug: its message only, never an object that could hold the outputs.
    process.stderr.write(`error: device: ${(e as Error).message ?? String(e)}\n`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
