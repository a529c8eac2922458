// The policy pack as `pulumi up --policy-pack policy` runs it, without the Pulumi CLI: the CLI's
// nodejs analyzer shim resolves @pulumi/pulumi/cmd/run-policy-pack from the pack's folder and
// starts it there with node; the runner compiles policy/index.ts, serves the analyzer over gRPC
// and prints its port; the engine then sends every resource's inputs to Analyze. This test does
// what the CLI does, with the CLI's own protocol stubs (@pulumi/pulumi/proto), so it shows that
// a plain `npm ci` leaves the pack runnable (it has no dependencies of its own), and that the
// pack, not just the rules module, refuses a weakened container.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { policies } from "./rules";
import { CONTAINER, ROOT, runUnderMocks, stackConfig, type RecordedResource } from "../test/support/harness";

const POLICY_DIR = join(ROOT, "policy");
const PULUMI_DIR = join(ROOT, "node_modules", "@pulumi", "pulumi");
const fromPulumi = (module: string) => require(require.resolve(module, { paths: [PULUMI_DIR] }));
const grpc = fromPulumi("@grpc/grpc-js");
const analyzerGrpc = require(join(PULUMI_DIR, "proto", "analyzer_grpc_pb.js"));
const analyzerPb = require(join(PULUMI_DIR, "proto", "analyzer_pb.js"));
const { Struct } = fromPulumi("google-protobuf/google/protobuf/struct_pb");
const { Empty } = fromPulumi("google-protobuf/google/protobuf/empty_pb");

/** pulumirpc.EnforcementLevel */
const MANDATORY = 1;
const ADVISORY = 0;

interface Diagnostic {
  policy: string;
  level: number;
  message: string;
}

let runner: ChildProcess | undefined;
let client: any;
let stderr = "";

beforeAll(async () => {
  // What the CLI's analyzer shim does: resolve the runner from the pack's folder (so from the
  // project's node_modules, which npm ci fills) and start it there.
  const entry = require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [POLICY_DIR] });
  expect(entry).toBe(join(PULUMI_DIR, "cmd", "run-policy-pack", "index.js"));
  runner = spawn(process.execPath, [entry, "127.0.0.1:1", "."], { cwd: POLICY_DIR, stdio: ["ignore", "pipe", "pipe"] });
  runner.stderr!.on("data", (chunk) => (stderr += chunk));
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the policy pack did not print its port within 60 s; stderr: ${stderr}`)), 60_000);
    runner!.stdout!.on("data", (chunk) => {
      out += chunk;
      const match = /^(\d+)\s*$/m.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    runner!.on("exit", (code) => reject(new Error(`the policy pack exited (${code}) before serving; stderr: ${stderr}`)));
  });
  client = new analyzerGrpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}, 90_000);

afterAll(() => {
  client?.close();
  runner?.kill("SIGTERM");
});

function analyze(resource: { type: string; name: string; inputs: Record<string, unknown> }): Promise<Diagnostic[]> {
  const request = new analyzerPb.AnalyzeRequest();
  request.setType(resource.type);
  request.setName(resource.name);
  request.setUrn(`urn:pulumi:dev::secure-iot::${resource.type}::${resource.name}`);
  request.setProperties(Struct.fromJavaScript(JSON.parse(JSON.stringify(resource.inputs))));
  request.setOptions(new analyzerPb.AnalyzerResourceOptions());
  return new Promise((resolve, reject) =>
    client.analyze(request, (error: Error | null, response: any) => {
      if (error) return reject(error);
      resolve(
        response.getDiagnosticsList().map((d: any) => ({ policy: d.getPolicyname(), level: d.getEnforcementlevel(), message: d.getMessage() })),
      );
    }),
  );
}

async function analyzeAll(resources: RecordedResource[]): Promise<Array<Diagnostic & { resource: string }>> {
  const all: Array<Diagnostic & { resource: string }> = [];
  for (const r of resources) for (const d of await analyze(r)) all.push({ ...d, resource: r.name });
  return all;
}

test("the pack serves every rule of rules.ts, at its enforcement level", async () => {
  const info: any = await new Promise((resolve, reject) => client.getAnalyzerInfo(new Empty(), (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r))));
  expect(info.getName()).toBe("secure-iot-baseline");
  const served = info.getPoliciesList().map((p: any) => [p.getName(), p.getEnforcementlevel()]);
  expect(served).toEqual(policies.map((p) => [p.name, p.enforcementLevel === "advisory" ? ADVISORY : MANDATORY]));
});

describe("the dev program under mocks, through the running pack", () => {
  let resources: RecordedResource[];
  beforeAll(async () => {
    resources = (await runUnderMocks("dev", stackConfig("dev"))).resources;
  }, 60_000);

  test("as shipped: no violation on any resource", async () => {
    expect(resources.filter((r) => r.type === CONTAINER).length).toBeGreaterThan(3);
    expect(await analyzeAll(resources)).toEqual([]);
  });

  /** The dev program with one change to one resource, as a change to a component would make it. */
  function weakened(name: string, change: (inputs: Record<string, any>) => Record<string, any>): RecordedResource[] {
    expect(resources.some((r) => r.name === name)).toBe(true);
    return resources.map((r) => (r.name === name ? { ...r, inputs: change(structuredClone(r.inputs)) } : r));
  }

  /** The broker's files loader with its mosquitto.conf changed. */
  const brokerConf = (inputs: any, change: (conf: string) => string) => {
    const conf = inputs.uploads.find((u: any) => u.file.endsWith("/mosquitto.conf"));
    expect(conf).toBeDefined();
    const changed = change(conf.content);
    expect(changed).not.toBe(conf.content);
    return { ...inputs, uploads: inputs.uploads.map((u: any) => (u === conf ? { ...u, content: changed } : u)) };
  };

  test.each([
    ["a writable root filesystem", "grafana-container", (i: any) => ({ ...i, readOnly: false }), "container-read-only-root"],
    ["running as root", "simulator-container", (i: any) => ({ ...i, user: "0:0" }), "container-not-root"],
    ["a capability added back", "influxdb-container", (i: any) => ({ ...i, capabilities: { drops: ["ALL"], adds: ["CAP_SYS_ADMIN"] } }), "container-drop-all-capabilities"],
    ["privileged", "grafana-container", (i: any) => ({ ...i, privileged: true }), "container-no-privileged-or-host-namespaces"],
    ["seccomp off", "influxdb-container", (i: any) => ({ ...i, securityOpts: [...i.securityOpts, "seccomp=unconfined"] }), "container-keeps-engine-confinement"],
    ["the Docker socket mounted", "simulator-container", (i: any) => ({ ...i, mounts: [...i.mounts, { type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock" }] }), "container-no-host-paths"],
    ["no memory limit", "influxdb-container", (i: any) => ({ ...i, memory: undefined, memorySwap: undefined }), "container-resource-limits"],
    ["not health-gated", "grafana-container", (i: any) => ({ ...i, wait: false }), "container-health-gated"],
    ["an image by tag only", "grafana-image", (i: any) => ({ ...i, name: "grafana/grafana:latest" }), "image-pinned-by-digest"],
    ["anonymous MQTT in the broker's staged config", "broker-files-loader", (i: any) => brokerConf(i, (c) => c.replace("allow_anonymous false", "allow_anonymous true")), "mqtt-broker-no-anonymous"],
    ["a plaintext MQTT listener", "broker-files-loader", (i: any) => brokerConf(i, (c) => `${c}\nlistener 1883\n`), "mqtt-broker-tls-listeners-only"],
    ["MQTT clients not identified by certificate", "broker-files-loader", (i: any) => brokerConf(i, (c) => c.replace("require_certificate true", "require_certificate false")), "mqtt-broker-certificate-identity"],
    ["the broker's ACL dropped", "broker-files-loader", (i: any) => brokerConf(i, (c) => c.replace(/^acl_file .*$/m, "")), "mqtt-broker-acl"],
    ["a second broker port", "broker-container", (i: any) => ({ ...i, ports: [...i.ports, { internal: 1883, external: 1883, ip: "127.0.0.1", protocol: "tcp" }] }), "mqtt-broker-published-on-one-address"],
  ])("one container weakened (%s): refused, mandatory, on that resource only", async (_what, name, change, policy) => {
    const found = await analyzeAll(weakened(name, change));
    expect(found.length).toBeGreaterThan(0);
    expect(found.every((d) => d.resource === name && d.level === MANDATORY)).toBe(true);
    expect(found.map((d) => d.policy)).toContain(policy);
  });

  test("the broker's staged config is checked when the engine sends the loader's uploads as a secret (they hold its keys)", async () => {
    // the engine's form of a secret property value (Pulumi's sdk/nodejs/runtime/rpc.ts specialSecretSig)
    const asSecret = (value: unknown) => ({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value });
    const loader = resources.find((r) => r.name === "broker-files-loader")!;
    expect(loader.secretInputs).toEqual(["uploads"]);
    const sent = (inputs: any) => ({ ...loader, inputs: { ...inputs, uploads: asSecret(inputs.uploads) } });
    expect(await analyze(sent(loader.inputs))).toEqual([]);
    const weakenedLoader = brokerConf(structuredClone(loader.inputs), (c) => c.replace("allow_anonymous false", "allow_anonymous true"));
    expect((await analyze(sent(weakenedLoader))).map((d) => d.policy)).toEqual(["mqtt-broker-no-anonymous"]);
  });

  test("a port published on every address is reported as advisory (it does not block)", async () => {
    const found = await analyzeAll(weakened("grafana-container", (i) => ({ ...i, ports: i.ports.map((p: any) => ({ ...p, ip: "0.0.0.0" })) })));
    expect(found).toEqual([{ resource: "grafana-container", policy: "published-ports-bound-to-an-address", level: ADVISORY, message: expect.stringMatching(/port 3000 is published on every host address/) }]);
  });
});
