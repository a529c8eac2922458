// The real broker for the MQTT mode's process tests: Debian's mosquitto (2.0.11 here) on a free
// loopback port, with the listener the stack declares (TLS, a client certificate required, the
// certificate's CN as the username, no anonymous access, a deny-by-default ACL file), a fresh test
// CA, and a subscriber allowed to read every device's readings.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { connect, type MqttClient } from "mqtt";
import { createTestCa, type TestCa } from "./pki";

/** The broker binary: on PATH, or where Debian installs it (/usr/sbin, which a non-root PATH may lack). */
export function mosquittoPath(): string | undefined {
  for (const dir of [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), "/usr/sbin"]) {
    if (existsSync(join(dir, "mosquitto"))) return join(dir, "mosquitto");
  }
  return undefined;
}

/** Why the broker tests cannot run here, or undefined when they can. */
export function mosquittoSkipReason(): string | undefined {
  return mosquittoPath() ? undefined : "mosquitto is neither on PATH nor in /usr/sbin (Debian: apt-get install mosquitto)";
}

/** `describe`, or `describe.skip` with the reason printed once (a failure where IOT_REQUIRE_TIERS names mqtt). */
export function brokerSuite(name: string, body: () => void): void {
  const skip = mosquittoSkipReason();
  const required = (process.env.IOT_REQUIRE_TIERS ?? "").split(",").map((t) => t.trim()).includes("mqtt");
  if (skip && required) {
    describe(name, () => test("the broker is required here (IOT_REQUIRE_TIERS) and cannot run", () => {
      throw new Error(`mqtt tier required but unavailable: ${skip}`);
    }));
  } else if (skip) {
    console.warn(`skipping "${name}": ${skip}`);
    describe.skip(name, body);
  } else {
    describe(name, body);
  }
}

export const READER_ID = "reader";

export interface BrokerOptions {
  /** devices allowed to write to devices/<site>/<id>/readings */
  writers: Array<{ id: string; site: string }>;
}

export interface Received {
  topic: string;
  payload: string;
}

export class TestBroker {
  readonly dir = mkdtempSync(join(tmpdir(), "sim-mosquitto-"));
  port = 0;
  private process?: ChildProcess;
  private exited?: Promise<void>;
  log = "";
  caFile = "";

  private constructor(readonly ca: TestCa) {}

  static async start(options: BrokerOptions): Promise<TestBroker> {
    const broker = new TestBroker(await createTestCa("Test MQTT CA"));
    broker.port = await freePort();
    const server = await broker.ca.issue({ dns: ["localhost"], ips: ["127.0.0.1"] });
    broker.caFile = join(broker.dir, "ca.crt");
    writeFileSync(broker.caFile, broker.ca.certPem);
    writeFileSync(join(broker.dir, "server.crt"), server.certPem);
    writeFileSync(join(broker.dir, "server.key"), server.keyPem, { mode: 0o600 });
    mkdirSync(join(broker.dir, "data"));
    const acl = [
      ...options.writers.flatMap(({ id, site }) => [`user ${id}`, `topic write devices/${site}/${id}/readings`, ""]),
      `user ${READER_ID}`,
      "topic read devices/+/+/readings",
      "",
    ].join("\n");
    writeFileSync(join(broker.dir, "acl"), acl);
    const conf = [
      // Running as root (a container), mosquitto would switch to the user "mosquitto", which cannot read these files.
      ...(process.getuid?.() === 0 ? ["user root"] : []),
      "per_listener_settings false",
      "allow_anonymous false",
      `acl_file ${join(broker.dir, "acl")}`,
      "persistence true",
      `persistence_location ${join(broker.dir, "data")}/`,
      // stderr: unbuffered, so the test sees each line as it is written (stdout to a pipe is block-buffered)
      "log_dest stderr",
      "log_type all",
      `listener ${broker.port} 127.0.0.1`,
      `cafile ${broker.caFile}`,
      `certfile ${join(broker.dir, "server.crt")}`,
      `keyfile ${join(broker.dir, "server.key")}`,
      "require_certificate true",
      "use_identity_as_username true",
      "",
    ].join("\n");
    writeFileSync(join(broker.dir, "mosquitto.conf"), conf);
    await broker.run();
    return broker;
  }

  get url(): string {
    return `mqtts://localhost:${this.port}`;
  }

  /** Starts the broker (again, on the same port, with the same persistence) and waits until it listens. */
  async run(): Promise<void> {
    const child = spawn(mosquittoPath() as string, ["-c", join(this.dir, "mosquitto.conf")], { stdio: ["ignore", "pipe", "pipe"] });
    this.process = child;
    this.exited = new Promise((resolve) => child.on("exit", () => resolve()));
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`mosquitto did not start within 10 s:\n${this.log.slice(-3000)}`));
      }, 10_000);
      const onData = (chunk: Buffer) => {
        this.log += chunk.toString();
        if (/mosquitto version \S+ running/.test(this.log.slice(-2000))) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`mosquitto exited with ${code}:\n${this.log.slice(-3000)}`));
      });
    });
    await ready;
  }

  /** Stops the broker with SIGTERM (it saves its persistence file) and waits for its exit. */
  async stop(): Promise<void> {
    if (!this.process || this.process.exitCode !== null) return;
    this.process.kill("SIGTERM");
    await this.exited;
  }

  /** A client identity for `id` in a directory of its own, as MQTT_IDENTITY_DIR expects, plus the paths. */
  async identityDir(ids: string[]): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), "sim-identities-"));
    for (const id of ids) {
      const { certPem, keyPem } = await this.ca.issueClient(id);
      writeFileSync(join(dir, `${id}.crt`), certPem);
      writeFileSync(join(dir, `${id}.key`), keyPem, { mode: 0o600 });
    }
    return dir;
  }

  /** A persistent-session QoS 1 subscriber to every device's readings, with the reader's certificate. */
  async subscribe(): Promise<Subscriber> {
    const { certPem, keyPem } = await this.ca.issueClient(READER_ID);
    const client = connect(this.url, {
      protocolVersion: 5,
      clientId: READER_ID,
      clean: false,
      properties: { sessionExpiryInterval: 3600 },
      ca: this.ca.certPem,
      cert: certPem,
      key: keyPem,
      rejectUnauthorized: true,
      reconnectPeriod: 200,
    });
    const subscriber = new Subscriber(client);
    client.on("message", (topic, payload) => subscriber.add({ topic, payload: payload.toString() }));
    client.on("error", () => undefined); // reconnects by itself; the broker restarts in a test
    await new Promise<void>((resolve, reject) => {
      client.once("connect", () => client.subscribe("devices/+/+/readings", { qos: 1 }, (error) => (error ? reject(error) : resolve())));
    });
    return subscriber;
  }
}

export class Subscriber {
  readonly messages: Received[] = [];
  private waiters = new Set<() => void>();
  constructor(readonly client: MqttClient) {}

  add(message: Received): void {
    this.messages.push(message);
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Waits until `condition` holds, re-checked on each message, failing after `timeoutMs`. */
  waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${this.messages.length} messages received)`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.client.end(true, {}, () => resolve()));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}
