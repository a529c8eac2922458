// npm run device (scripts/device.sh, then tools/dist/tools/device.js), run for real: a stand-in
// `pulumi` on a controlled PATH prints the stack outputs the program declares (index.ts: mqtt,
// deviceKeys, caCertificatePem), with certificates made here by openssl. The bundle's
// mosquitto_pub command is then run against Debian's real mosquitto, configured like the stack's
// broker (TLS only, client certificate required, identity from the certificate, deny-by-default ACL).
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { DEFAULT_MEASUREMENT, READING_FIELDS } from "../simulator/src/schema";
import { which } from "../tools/common";
import { daysLeft, shellWord } from "../tools/device";
import { ROOT } from "./support/harness";

const TOOLS = ["bash", "node", "dirname", "mkdir", "chmod", "head", "base64", "tr", "cat", "sort", "grep"];
const whereIs = (tool: string) => execFileSync("bash", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim();

beforeAll(() => {
  execFileSync("npm", ["run", "--silent", "build:tools"], { cwd: ROOT, stdio: "pipe" });
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

// --- certificates, made the way components/pki.ts makes them (ECDSA P-256, PKCS#8 keys) ----------

const work = mkdtempSync(join(tmpdir(), "device-cli-"));
const pkiDir = join(work, "pki");
mkdirSync(pkiDir);

function openssl(args: string[]): void {
  execFileSync("openssl", args, { cwd: pkiDir, stdio: "pipe" });
}

function newKey(name: string): string {
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${name}.key`]);
  return readFileSync(join(pkiDir, `${name}.key`), "utf8");
}

let serial = 100;
/** A certificate signed by the CA; `extensions` in openssl's extension-file syntax. */
function issue(name: string, commonName: string, extensions: string[]): { certPem: string; keyPem: string } {
  const keyPem = newKey(name);
  writeFileSync(join(pkiDir, `${name}.ext`), `${extensions.join("\n")}\n`);
  openssl(["req", "-new", "-key", `${name}.key`, "-subj", `/O=secure-iot/CN=${commonName}`, "-out", `${name}.csr`]);
  openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", String(serial++), "-days", "30", "-sha256", "-extfile", `${name}.ext`, "-out", `${name}.crt`]);
  return { certPem: readFileSync(join(pkiDir, `${name}.crt`), "utf8"), keyPem };
}

newKey("ca");
openssl(["req", "-x509", "-new", "-key", "ca.key", "-subj", "/O=secure-iot/CN=secure-iot dev IoT stack CA", "-days", "60", "-sha256", "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "ca.pem"]);
const CA_PEM = readFileSync(join(pkiDir, "ca.pem"), "utf8");
const CLIENT = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature", "extendedKeyUsage=clientAuth"];
// the broker's certificate (server.crt) and the test subscriber's (reader.crt), read by path below
issue("server", "broker", ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature", "extendedKeyUsage=serverAuth", "subjectAltName=DNS:broker,DNS:localhost,IP:127.0.0.1"]);
const devA = issue("dev-a", "dev-a", CLIENT);
const devB = issue("dev-b", "dev-b", CLIENT);
issue("reader", "reader", CLIENT);

/** The base64 body of each device key: none of it may ever appear in what the command prints. */
const KEY_BODIES = [devA.keyPem, devB.keyPem].map((pem) => pem.split("\n")[1]);

const notAfterOf = (certPem: string) => new Date(new X509Certificate(certPem).validTo).toISOString().replace(/\.000Z$/, "Z");

interface Outputs {
  caCertificatePem: string;
  mqtt?: { host: string; port: number; devices: Record<string, { site: string; topic: string; certPem: string; notAfter: string }> };
  deviceKeys?: Record<string, string>;
}

function stackOutputs(port = 8883, overrides: Partial<Outputs> = {}): Outputs {
  return {
    caCertificatePem: CA_PEM,
    mqtt: {
      host: "localhost",
      port,
      devices: {
        "dev-a": { site: "site-a", topic: "devices/site-a/dev-a/readings", certPem: devA.certPem, notAfter: notAfterOf(devA.certPem) },
        "dev-b": { site: "lab", topic: "devices/lab/dev-b/readings", certPem: devB.certPem, notAfter: notAfterOf(devB.certPem) },
      },
    },
    deviceKeys: { "dev-a": devA.keyPem, "dev-b": devB.keyPem },
    ...overrides,
  };
}

// --- the command, on a PATH with a stand-in pulumi ---------------------------------------------

/**
 * A bin folder with the tools the scripts use and a stand-in pulumi that prints the outputs as
 * `pulumi stack output --json` does: secrets as "[secret]" unless --show-secrets is given.
 */
function sandbox(outputs: Outputs | { pulumiBody: string }) {
  const dir = mkdtempSync(join(work, "box-"));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  for (const tool of TOOLS) symlinkSync(whereIs(tool), join(bin, tool));
  let body: string;
  if ("pulumiBody" in outputs) {
    body = outputs.pulumiBody;
  } else {
    writeFileSync(join(dir, "secrets.json"), JSON.stringify(outputs, null, 2));
    const masked = { ...outputs, ...(outputs.deviceKeys ? { deviceKeys: "[secret]" } : {}) };
    writeFileSync(join(dir, "plain.json"), JSON.stringify(masked, null, 2));
    body = `case "$*" in *--show-secrets*) cat "${dir}/secrets.json" ;; *) cat "${dir}/plain.json" ;; esac`;
  }
  writeFileSync(join(bin, "pulumi"), `#!/bin/bash\necho "pulumi $* | backend=$PULUMI_BACKEND_URL cwd=$PWD" >> "${dir}/calls"\n${body}\n`);
  chmodSync(join(bin, "pulumi"), 0o755);
  const calls = () => (existsSync(join(dir, "calls")) ? readFileSync(join(dir, "calls"), "utf8") : "");
  return { dir, bin, calls };
}

function device(box: { dir: string; bin: string }, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(join(ROOT, "scripts", "device.sh"), args, {
    env: { PATH: box.bin, HOME: box.dir, PULUMI_CONFIG_PASSPHRASE: "test", ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  // Whatever happened, the private keys were not printed.
  for (const body of KEY_BODIES) expect(`${r.stdout}${r.stderr}`).not.toContain(body);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const mode = (path: string) => statSync(path).mode & 0o777;
/** Nothing was written next to where the bundle would go: no bundle, no half-written staging folder. */
const entries = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);

describe("npm run device -- bundle", () => {
  test("writes the CA, the device's certificate and key (0600), its settings, the payload format and a publish command into a new 0700 folder", () => {
    const box = sandbox(stackOutputs());
    const out = join(box.dir, "bundles", "dev-a");
    const r = device(box, ["bundle", "dev-a", "--out", out]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^wrote the bundle of device dev-a \\(stack dev\\) to ${out}: `));
    expect(box.calls().trim()).toBe(`pulumi stack output --json --show-secrets --stack dev | backend=file://${ROOT}/.pulumi-state cwd=${ROOT}`);

    expect(entries(out)).toEqual(["README.txt", "ca.pem", "dev-a.crt", "dev-a.key", "device.env", "publish.sh"]);
    expect(entries(join(box.dir, "bundles"))).toEqual(["dev-a"]);
    expect(mode(out)).toBe(0o700);
    expect(mode(join(out, "dev-a.key"))).toBe(0o600);
    for (const file of ["README.txt", "ca.pem", "dev-a.crt", "device.env"]) expect(mode(join(out, file))).toBe(0o644);
    expect(mode(join(out, "publish.sh"))).toBe(0o755);

    expect(readFileSync(join(out, "ca.pem"), "utf8")).toBe(CA_PEM);
    expect(readFileSync(join(out, "dev-a.crt"), "utf8")).toBe(devA.certPem);
    expect(readFileSync(join(out, "dev-a.key"), "utf8")).toBe(devA.keyPem);
    expect(readFileSync(join(out, "device.env"), "utf8").split("\n").filter((l) => !l.startsWith("#"))).toEqual([
      "DEVICE_ID=dev-a",
      "MQTT_HOST=localhost",
      "MQTT_PORT=8883",
      "MQTT_TOPIC=devices/site-a/dev-a/readings",
      "MQTT_QOS=1",
      "MQTT_CA_FILE=ca.pem",
      "MQTT_CERT_FILE=dev-a.crt",
      "MQTT_KEY_FILE=dev-a.key",
      "",
    ]);
  });

  test("the README gives the broker, the topic and the payload format from the schema: every field of READING_FIELDS, nanosecond timestamps, QoS 1", () => {
    const box = sandbox(stackOutputs(18883));
    const out = join(box.dir, "dev-b");
    expect(device(box, ["bundle", "dev-b", "--out", out]).status).toBe(0);
    const readme = readFileSync(join(out, "README.txt"), "utf8");
    expect(readme).toContain("host localhost, port 18883");
    expect(readme).toContain("CN=secure-iot dev IoT stack CA");
    expect(readme).toMatch(/^ {2}devices\/lab\/dev-b\/readings$/m);
    expect(readme).toMatch(/Unix time in nanoseconds/);
    expect(readme).toMatch(/QoS {10}1/);
    expect(readme).toContain(`valid until ${notAfterOf(devB.certPem)}`);
    // the fields, each with its unit and description, as schema.ts states them
    for (const [name, field] of Object.entries(READING_FIELDS)) {
      expect(readme).toMatch(new RegExp(`^ {4}${name} +${field.unit.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}, ${field.description.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}; ${field.type}`, "m"));
    }
    // the example line: the measurement, every field in the schema's order with its encoding, a 19-digit timestamp
    const example = readme.split("\n").find((l) => l.trim().startsWith(`${DEFAULT_MEASUREMENT} temperature_c=`))!.trim();
    const [measurement, fields, timestamp] = example.split(" ");
    expect(measurement).toBe(DEFAULT_MEASUREMENT);
    expect(timestamp).toMatch(/^\d{19}$/);
    const pairs = fields.split(",").map((p) => p.split("="));
    expect(pairs.map(([name]) => name)).toEqual(Object.keys(READING_FIELDS));
    for (const [name, value] of pairs) {
      const field = READING_FIELDS[name as keyof typeof READING_FIELDS];
      expect(value).toMatch(field.type === "integer" ? /^-?\d+i$/ : new RegExp(`^-?\\d+\\.\\d{${field.decimals}}$`));
    }
    // the command names the bundle's own files, the topic and a shell-made nanosecond timestamp
    const commands = readme.split("\n").filter((l) => l.startsWith("mosquitto_pub "));
    expect(commands).toEqual([
      `mosquitto_pub -h localhost -p 18883 --cafile ca.pem --cert dev-b.crt --key dev-b.key -V mqttv5 -q 1 -t devices/lab/dev-b/readings -m "${DEFAULT_MEASUREMENT} ${fields} $(date +%s%N)"`,
    ]);
    expect(readFileSync(join(out, "publish.sh"), "utf8")).toContain(`\n${commands[0]}\n`);
    expect(readme).not.toMatch(/--insecure/);
  });

  test("a relative --out is taken from the folder npm was started in (INIT_CWD), not the project's", () => {
    const box = sandbox(stackOutputs());
    const here = join(box.dir, "here");
    mkdirSync(here);
    expect(device(box, ["bundle", "dev-a", "--out", "bundle-a"], { INIT_CWD: here }).status).toBe(0);
    expect(entries(join(here, "bundle-a"))).toContain("dev-a.key");
    expect(existsSync(join(ROOT, "bundle-a"))).toBe(false);
  });

  test("an existing empty folder is accepted and ends up 0700 like a new one", () => {
    const box = sandbox(stackOutputs());
    const out = join(box.dir, "empty");
    mkdirSync(out, { mode: 0o755 });
    expect(device(box, ["bundle", "dev-a", "--out", out]).status).toBe(0);
    expect(mode(out)).toBe(0o700);
    expect(mode(join(out, "dev-a.key"))).toBe(0o600);
  });

  describe("refusals: one line, non-zero, nothing written", () => {
    test("an unknown device: the stack's devices are named", () => {
      const box = sandbox(stackOutputs());
      const r = device(box, ["bundle", "dev-z", "--out", join(box.dir, "out")]);
      expect(r).toEqual({ status: 1, stdout: "", stderr: "error: no device 'dev-z' in stack dev; its devices: dev-a, dev-b\n" });
      expect(entries(box.dir)).toEqual(["bin", "calls", "plain.json", "secrets.json"]);
    });

    test("a stack without the mqtt output (no devices declared, or not deployed since they were): says so", () => {
      const box = sandbox(stackOutputs(8883, { mqtt: undefined, deviceKeys: undefined }));
      const r = device(box, ["bundle", "dev-a", "--out", join(box.dir, "out")]);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(
        "error: no device 'dev-a' in stack dev: it declares no devices (the devices setting in Pulumi.dev.yaml; then npm run up -- --stack dev)\n",
      );
      expect(entries(box.dir)).toEqual(["bin", "calls", "plain.json", "secrets.json"]);
    });

    test("a stack Pulumi cannot read (never deployed): Pulumi's reason in one line", () => {
      const box = sandbox({ pulumiBody: 'echo "error: no stack named \'dev\' found" >&2; exit 255' });
      const r = device(box, ["bundle", "dev-a", "--out", join(box.dir, "out")]);
      expect(r).toEqual({
        status: 1,
        stdout: "",
        stderr: "error: cannot read the outputs of stack dev (has it been deployed with npm run up -- --stack dev?): no stack named 'dev' found\n",
      });
      expect(existsSync(join(box.dir, "out"))).toBe(false);
    });

    test("a stack with no Pulumi.<stack>.yaml: check_stack's line, exit 2, Pulumi never asked", () => {
      const box = sandbox(stackOutputs());
      const r = device(box, ["bundle", "dev-a", "--out", join(box.dir, "out"), "--stack", "prd"]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^error: unknown stack 'prd': there is no Pulumi\.prd\.yaml \(stacks here: .*\); to make a new stack, copy one first: cp Pulumi\.dev\.yaml Pulumi\.prd\.yaml\n$/);
      expect(box.calls()).toBe("");
      expect(existsSync(join(box.dir, "out"))).toBe(false);
    });

    test("an output folder that exists and is not empty: refused before the outputs (and their secrets) are read, its content untouched", () => {
      const box = sandbox(stackOutputs());
      const out = join(box.dir, "used");
      mkdirSync(out);
      writeFileSync(join(out, "notes.txt"), "mine");
      const r = device(box, ["bundle", "dev-a", "--out", out]);
      expect(r).toEqual({ status: 1, stdout: "", stderr: `error: --out ${out} exists and is not empty: give a new or empty folder\n` });
      expect(entries(out)).toEqual(["notes.txt"]);
      expect(readFileSync(join(out, "notes.txt"), "utf8")).toBe("mine");
      expect(box.calls()).toBe("");
    });

    test("an output path that is a file: refused", () => {
      const box = sandbox(stackOutputs());
      const out = join(box.dir, "a-file");
      writeFileSync(out, "x");
      const r = device(box, ["bundle", "dev-a", "--out", out]);
      expect(r).toEqual({ status: 1, stdout: "", stderr: `error: --out ${out} exists and is not a folder: give a new or empty folder\n` });
      expect(readFileSync(out, "utf8")).toBe("x");
    });

    test("a key that does not belong to the device's certificate: refused, never a bundle that cannot connect", () => {
      const box = sandbox(stackOutputs(8883, { deviceKeys: { "dev-a": devB.keyPem, "dev-b": devB.keyPem } }));
      const out = join(box.dir, "out");
      const r = device(box, ["bundle", "dev-a", "--out", out]);
      expect(r).toEqual({ status: 1, stdout: "", stderr: "error: stack dev: the private key of device 'dev-a' does not belong to its certificate: run npm run up -- --stack dev\n" });
      expect(existsSync(out)).toBe(false);
    });

    test.each([
      [["bundle", "dev-a"], "error: bundle needs --out DIR, a new or empty folder to write the device's files to"],
      [["bundle", "dev-a", "--out"], "error: bundle needs --out DIR, a new or empty folder to write the device's files to"],
      [["bundle", "--out", "/tmp/x"], "error: bundle needs a device id (npm run device -- list shows them)"],
      [[], "error: say what to do: list or bundle"],
      [["show"], "error: unknown command 'show': list or bundle"],
      [["list", "--out", "/tmp/x"], "error: list takes no --out"],
      [["bundle", "dev-a", "dev-b", "--out", "/tmp/x"], "error: unknown argument 'dev-b'"],
    ])("arguments %j: %s, the usage line, exit 2, Pulumi never asked", (args, message) => {
      const box = sandbox(stackOutputs());
      const r = device(box, args);
      expect(r).toEqual({
        status: 2,
        stdout: "",
        stderr: `${message}\nusage: npm run device -- list [--stack NAME] | npm run device -- bundle DEVICE_ID --out DIR [--stack NAME]\n`,
      });
      expect(box.calls()).toBe("");
    });

    test("no Pulumi CLI, no passphrase, no Node.js: the prerequisite lines every command gives, exit 1", () => {
      const bin = join(mkdtempSync(join(work, "bare-")), "bin");
      mkdirSync(bin);
      for (const tool of TOOLS.filter((t) => t !== "node")) symlinkSync(whereIs(tool), join(bin, tool));
      const r = device({ dir: join(bin, ".."), bin }, ["list"], { PULUMI_CONFIG_PASSPHRASE: "" });
      expect(r.status).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr.trim().split("\n")).toEqual([
        expect.stringMatching(/^error: the Pulumi CLI is not installed or not on PATH/),
        expect.stringMatching(/^error: no secrets passphrase for stack dev: /),
        expect.stringMatching(/^error: Node\.js is not installed or not on PATH/),
      ]);
    });
  });
});

describe("tools/device.ts helpers", () => {
  test("days left: whole days rounded down, 0 on the last day, negative once expired", () => {
    const now = new Date("2026-12-06T12:00:00Z");
    expect(daysLeft("2026-12-08T11:59:59Z", now)).toBe(1);
    expect(daysLeft("2026-12-08T12:00:00Z", now)).toBe(2);
    expect(daysLeft("2026-12-06T12:00:01.5Z", now)).toBe(0);
    expect(daysLeft("2026-12-06T11:59:59Z", now)).toBe(-1);
  });

  test("shell words: safe values as they are, anything else single-quoted so that the shell takes it literally", () => {
    expect(shellWord("devices/site-a/dev-a/readings")).toBe("devices/site-a/dev-a/readings");
    expect(shellWord("::1")).toBe("::1");
    for (const value of ["my host", "it's", "$(id)", "a;b", ""]) {
      expect(execFileSync("bash", ["-c", `printf %s ${shellWord(value)}`], { encoding: "utf8" })).toBe(value);
    }
  });
});

describe("npm run device -- list", () => {
  test("one line per device, sorted: id, site, topic, certificate notAfter, days left; reads no secret", () => {
    const now = Date.now();
    const inDays = (days: number) => new Date(now + days * 86_400_000 + 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    const outputs = stackOutputs();
    outputs.mqtt!.devices["dev-b"].notAfter = inDays(365);
    outputs.mqtt!.devices["dev-a"].notAfter = inDays(-2);
    const box = sandbox(outputs);
    const r = device(box, ["list", "--stack", "prod"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout.trimEnd().split("\n").map((l) => l.split(/ {2,}/))).toEqual([
      ["DEVICE", "SITE", "TOPIC", "CERTIFICATE NOT AFTER", "DAYS LEFT"],
      ["dev-a", "site-a", "devices/site-a/dev-a/readings", inDays(-2), "-2 (expired)"],
      ["dev-b", "lab", "devices/lab/dev-b/readings", inDays(365), "365"],
    ]);
    expect(box.calls()).toMatch(/^pulumi stack output --json --stack prod \|/);
    expect(box.calls()).not.toMatch(/--show-secrets/);
  });

  test("a stack without the mqtt output: no devices declared, exit 0", () => {
    const box = sandbox(stackOutputs(8883, { mqtt: undefined, deviceKeys: undefined }));
    expect(device(box, ["list"])).toEqual({
      status: 0,
      stdout: "no devices declared in stack dev (the devices setting in Pulumi.dev.yaml; then npm run up -- --stack dev)\n",
      stderr: "",
    });
  });
});

// --- the bundle's command against the real broker ------------------------------------------------

/** Debian installs the broker in /usr/sbin, which is not on every user's PATH. */
const PATH_WITH_SBIN = `${process.env.PATH ?? ""}:/usr/local/sbin:/usr/sbin`;
const MOSQUITTO = which("mosquitto", PATH_WITH_SBIN);
const CLIENTS = ["mosquitto_pub", "mosquitto_sub"].every((c) => which(c));
const skipReason = !MOSQUITTO
  ? "mosquitto (the broker, Debian package mosquitto) is not installed"
  : !CLIENTS
    ? "mosquitto_pub/mosquitto_sub (Debian package mosquitto-clients) are not installed"
    : undefined;
const required = (process.env.IOT_REQUIRE_TIERS ?? "").split(",").map((t) => t.trim()).includes("mqtt");
if (skipReason && !required) process.stderr.write(`device bundle against the real broker SKIPPED (not passed): ${skipReason}\n`);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Collects a process's output and waits, with a deadline, for a pattern to appear in it. */
function watch(child: ChildProcess) {
  let text = "";
  const waiters: Array<() => void> = [];
  const onData = (chunk: Buffer) => {
    text += chunk.toString();
    waiters.splice(0).forEach((w) => w());
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  child.on("exit", () => waiters.splice(0).forEach((w) => w()));
  const until = (pattern: RegExp, what: string, ms = 15_000) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}; output so far:\n${text}`)), ms);
      const check = () => {
        if (pattern.test(text)) {
          clearTimeout(timer);
          resolve();
        } else if (child.exitCode !== null) {
          clearTimeout(timer);
          reject(new Error(`exited (${child.exitCode}) before ${what}; output:\n${text}`));
        } else waiters.push(check);
      };
      check();
    });
  return { until, text: () => text };
}

const realBroker = skipReason && !required ? describe.skip : describe;
realBroker("the bundle's mosquitto_pub command, against Debian's mosquitto", () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  });

  test("publishes a reading with the bundle's own files, verified TLS and no --insecure; a subscriber receives it with a nanosecond timestamp", async () => {
    if (skipReason) throw new Error(`the mqtt tier is required here (IOT_REQUIRE_TIERS) and cannot run: ${skipReason}`);
    const port = await freePort();
    const brokerDir = mkdtempSync(join(work, "broker-"));
    // Deny by default: the device may only write its own topic; the test's reader may only read.
    writeFileSync(join(brokerDir, "acl"), ["user dev-a", "topic write devices/site-a/dev-a/readings", "", "user reader", "topic read devices/#", ""].join("\n"));
    writeFileSync(
      join(brokerDir, "mosquitto.conf"),
      [
        // Started as root, mosquitto switches to the user "mosquitto", which cannot read the test's private files.
        ...(process.getuid?.() === 0 ? [`user ${userInfo().username}`] : []),
        "per_listener_settings false",
        "allow_anonymous false",
        "persistence false",
        // stderr: mosquitto's stdout is block-buffered on a pipe, its log lines would arrive at exit
        "log_dest stderr",
        "log_type all",
        `acl_file ${join(brokerDir, "acl")}`,
        `listener ${port} 127.0.0.1`,
        `cafile ${join(pkiDir, "ca.pem")}`,
        `certfile ${join(pkiDir, "server.crt")}`,
        `keyfile ${join(pkiDir, "server.key")}`,
        "require_certificate true",
        "use_identity_as_username true",
        "",
      ].join("\n"),
    );
    const broker = spawn(MOSQUITTO!, ["-c", join(brokerDir, "mosquitto.conf")], { stdio: ["ignore", "pipe", "pipe"] });
    children.push(broker);
    const brokerLog = watch(broker);
    await brokerLog.until(/mosquitto version [\d.]+ running/, "the broker to start");

    const box = sandbox(stackOutputs(port));
    const out = join(box.dir, "dev-a");
    expect(device(box, ["bundle", "dev-a", "--out", out]).status).toBe(0);

    const subscriber = spawn(
      "mosquitto_sub",
      ["-h", "localhost", "-p", String(port), "--cafile", join(pkiDir, "ca.pem"), "--cert", join(pkiDir, "reader.crt"), "--key", join(pkiDir, "reader.key"), "-V", "mqttv5", "-q", "1", "-t", "devices/#", "-v", "-C", "2", "-W", "60"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    children.push(subscriber);
    const received = watch(subscriber);
    await brokerLog.until(/Received SUBSCRIBE from/, "the subscriber's SUBSCRIBE");

    // The README's command, copied as a user would, run with bash in the bundle's folder; then publish.sh.
    const command = readFileSync(join(out, "README.txt"), "utf8").split("\n").find((l) => l.startsWith("mosquitto_pub "))!;
    const env = { PATH: process.env.PATH ?? "", HOME: box.dir };
    const before = BigInt(Date.now()) * 1_000_000n;
    const copied = spawnSync("bash", ["-c", command], { cwd: out, env, encoding: "utf8", timeout: 30_000 });
    expect({ status: copied.status, stderr: copied.stderr }).toEqual({ status: 0, stderr: "" });
    const script = spawnSync(join(out, "publish.sh"), [], { cwd: tmpdir(), env, encoding: "utf8", timeout: 30_000 });
    expect({ status: script.status, stderr: script.stderr }).toEqual({ status: 0, stderr: "" });
    // + 1 ms: date ran before this, possibly within the same millisecond
    const after = BigInt(Date.now() + 1) * 1_000_000n;

    await received.until(/(^devices\/\S+ .*\n){2}/m, "two readings at the subscriber", 20_000);
    const lines = received.text().trim().split("\n");
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      const match = /^devices\/site-a\/dev-a\/readings (environment \S+) (\d{19})$/.exec(line);
      expect(match).not.toBeNull();
      expect(command).toContain(`-m "${match![1]} $(date +%s%N)"`);
      const ns = BigInt(match![2]);
      expect(ns >= before && ns <= after).toBe(true);
    }
    // the broker knew the publisher by its certificate's CN, at QoS 1
    expect(brokerLog.text()).toMatch(/Received PUBLISH from \S+ \(d0, q1, r0, m\d+, 'devices\/site-a\/dev-a\/readings'/);
    expect(brokerLog.text()).toMatch(/New client connected from 127\.0\.0\.1:\d+ as \S+ \(p5, c1, k\d+, u'dev-a'\)/);
  }, 90_000);
});
