// What the program declares for a stack, taken from the program itself under Pulumi mocks (the
// same harness as the unit tests), and the local images the engine tier runs in place of the
// declared ones: the simulator image built from simulator/ with the program's build inputs, and
// stand-ins for the images no registry can deliver here.
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CONTAINER, mockOutputs, resolve, runUnderMocks, stackConfig, type RecordedResource, type Run } from "../../support/harness";
import { BASE_IMAGE_REPOSITORY, ROOT, STATE_DIR, engine, readImageFile, type Scope } from "./engine";

export const IMAGE = "docker:index/image:Image";
export const REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage";
export const VOLUME = "docker:index/volume:Volume";
export const NETWORK = "docker:index/network:Network";

export type Service = "simulator" | "influxdb" | "grafana" | MqttService;
/** The services the program adds when devices or simulated MQTT devices are declared (the dev stack has three simulated ones). */
export type MqttService = "broker" | "bridge" | "mqtt-simulator";
export const SERVICES: readonly Service[] = ["simulator", "influxdb", "grafana", "broker", "bridge", "mqtt-simulator"];

export interface DeclaredStack {
  run: Run;
  containers: RecordedResource[];
  /** the started service container whose name ends with `-<service>` */
  service(service: Service): RecordedResource;
  /** FileVolume loaders: created, never started (name ends with `-loader`) */
  loaders: RecordedResource[];
  volumes: RecordedResource[];
  networks: RecordedResource[];
  /** the docker.Image the program builds (the simulator's) */
  builtImage: RecordedResource;
  remoteImages: RecordedResource[];
  /** the stack's CA certificate as the program exports it (a mock value under mocks) */
  caCertPem?: string;
}

export async function declaredStack(stack = "dev"): Promise<DeclaredStack> {
  const run = await runUnderMocks(stack, stackConfig(stack));
  const of = (type: string) => run.resources.filter((r) => r.type === type);
  const containers = of(CONTAINER);
  const built = of(IMAGE);
  if (built.length !== 1) throw new Error(`expected the program to build one image, found ${built.length}`);
  const caCertPem = (await resolve(run.pulumi, run.exports.caCertificatePem)) as string | undefined;
  return {
    run,
    containers,
    service(service) {
      // `-simulator` also ends `-mqtt-simulator`: a name that ends with a longer service's name is that service's.
      const longer = SERVICES.filter((s) => s !== service && s.endsWith(`-${service}`));
      const found = containers.filter(
        (c) => c.inputs.start !== false && String(c.inputs.name).endsWith(`-${service}`) && !longer.some((s) => String(c.inputs.name).endsWith(`-${s}`)),
      );
      if (found.length !== 1) throw new Error(`expected one started container named *-${service}, found ${found.map((c) => c.inputs.name).join(", ") || "none"}`);
      return found[0];
    },
    loaders: containers.filter((c) => String(c.inputs.name).endsWith("-loader")),
    volumes: of(VOLUME),
    networks: of(NETWORK),
    builtImage: built[0],
    remoteImages: of(REMOTE_IMAGE),
    caCertPem,
  };
}

/** Every string by which the program can refer to an image resource (inputs, id, mocked outputs). */
export function imageAliases(r: RecordedResource): string[] {
  const values = [r.id, r.inputs.imageName, r.inputs.name, ...Object.values(mockOutputs(r.type, r.name, r.inputs))];
  return values.filter((v): v is string => typeof v === "string" && v !== "");
}

/** The resource (docker.Image or RemoteImage) a declared image reference names. */
export function imageResource(stack: DeclaredStack, reference: string): RecordedResource {
  const found = [stack.builtImage, ...stack.remoteImages].filter((r) => imageAliases(r).includes(reference));
  if (found.length !== 1) throw new Error(`cannot tell which image "${reference}" is (matches ${found.length} image resources)`);
  return found[0];
}

/** The repository of a pinned reference: "grafana/grafana:13.0.1@sha256:…" → "grafana/grafana". */
export function repository(reference: string): string {
  return reference.replace(/@.*$/, "").replace(/:[^/]*$/, "");
}

/** Which service a container or loader belongs to, by its declared name (`iot-dev-influxdb-files-loader` → influxdb). */
export function serviceOf(stack: DeclaredStack, declaredName: string): Service {
  // Longest names first: iot-dev-mqtt-simulator-… is not the simulator's.
  for (const s of [...SERVICES].sort((a, b) => b.length - a.length)) {
    const started = stack.containers.filter((c) => c.inputs.start !== false && String(c.inputs.name).endsWith(`-${s}`));
    if (started.length === 0) continue;
    const prefix = String(stack.service(s).inputs.name);
    if (declaredName === prefix || declaredName.startsWith(`${prefix}-`)) return s;
  }
  throw new Error(`${declaredName} belongs to no service`);
}

// --- local images ------------------------------------------------------------------------------

/** The tag base-image.sh gives the local base: from ENGINE_BASE_IMAGE, else read from simulator/Dockerfile like the script does. */
export function baseImageTag(): string {
  if (process.env.ENGINE_BASE_IMAGE) return process.env.ENGINE_BASE_IMAGE;
  const dockerfile = readFileSync(join(ROOT, "simulator", "Dockerfile"), "utf8");
  const version = /^ARG NODE_VERSION=(\d+\.\d+\.\d+)\s*$/m.exec(dockerfile)?.[1] ?? /Node\.js (\d+\.\d+\.\d+)/.exec(dockerfile)?.[1];
  if (!version) throw new Error("cannot find the Node.js version in simulator/Dockerfile");
  return `${BASE_IMAGE_REPOSITORY}:${version}-bookworm`;
}

/**
 * Stand-ins for the third-party images, which cannot be pulled here: the local base image plus the
 * directories the real image creates at the paths the program mounts volumes or tmpfs on, with the
 * same owner and mode, because the engine copies those into new volumes and onto tmpfs mounts.
 * They never stand in for the service's behaviour: tests run them only to probe the engine.
 */
export const STAND_INS: Record<string, { source: string; dockerfile: string[] }> = {
  influxdb: {
    source:
      "influxdata-docker influxdb/2.9/Dockerfile: mkdir /docker-entrypoint-initdb.d; /var/lib/influxdb2 and /etc/influxdb2 created and chowned to influxdb:influxdb (1000:1000); VOLUME /var/lib/influxdb2 /etc/influxdb2",
    dockerfile: [
      "RUN mkdir /docker-entrypoint-initdb.d && mkdir -p /var/lib/influxdb2 /etc/influxdb2 && chown -R 1000:1000 /var/lib/influxdb2 /etc/influxdb2",
      "VOLUME /var/lib/influxdb2 /etc/influxdb2",
    ],
  },
  "grafana/grafana": {
    source: "grafana/grafana packaging/docker/Dockerfile: $GF_PATHS_DATA (/var/lib/grafana) chowned to grafana:root (472:0) and chmod -R 777",
    dockerfile: ["RUN mkdir -p /var/lib/grafana && chown -R 472:0 /var/lib/grafana && chmod -R 777 /var/lib/grafana"],
  },
};

/**
 * Stand-ins that are whole images of their own, built by test/engine/mqtt-images.sh (run.sh exports
 * their tags): the real broker (Debian's mosquitto) and the real bridge (Telegraf from its Go module),
 * because the tier runs them, not only probes the engine with them.
 */
export const BUILT_STAND_INS: Record<string, { variable: string; source: string }> = {
  "eclipse-mosquitto": {
    variable: "ENGINE_BROKER_IMAGE",
    source: "test/engine/mqtt-images.sh: Debian 12's mosquitto and mosquitto-clients, user mosquitto 1883:1883, /mosquitto/data owned by it (as eclipse/mosquitto docker/2.0-openssl/Dockerfile)",
  },
  telegraf: {
    variable: "ENGINE_BRIDGE_IMAGE",
    source: "test/engine/mqtt-images.sh: Debian 12 with curl and ca-certificates, /usr/bin/telegraf built by test/mqtt/build-upstream.sh (as influxdata-docker telegraf/1.37/Dockerfile)",
  },
};

export interface BuildResult {
  ok: boolean;
  tag: string;
  log: string;
  seconds: number;
}

/** Builds with BuildKit through the CLI engine.sh picked. `env` values reach the CLI's environment only (for `--build-arg NAME` without a value). */
export function buildImage(args: {
  tag: string;
  /** the build context; ignored when dockerfileText is given (stdin is the context then) */
  context?: string;
  dockerfile?: string;
  dockerfileText?: string;
  buildArgs?: Record<string, string>;
  envBuildArgs?: Record<string, string>;
  platform?: string;
  target?: string;
  labels: Record<string, string>;
  deadlineMs: number;
}): Promise<BuildResult> {
  if (!engine?.buildCli) {
    return Promise.reject(
      new Error("no docker CLI can build with BuildKit here (engine.sh found neither the buildx plugin nor a CLI older than 23); the simulator image cannot be built"),
    );
  }
  const cli = engine.buildCli;
  const argv = engine.buildMode === "buildx" ? ["buildx", "build", "--load"] : ["build"];
  argv.push("--progress=plain", "-t", args.tag);
  // A Dockerfile on stdin is the whole context ("-"); otherwise -f names it within the context.
  if (args.dockerfileText === undefined && args.dockerfile) argv.push("-f", args.dockerfile);
  if (args.platform) argv.push("--platform", args.platform);
  if (args.target) argv.push("--target", args.target);
  for (const [k, v] of Object.entries(args.buildArgs ?? {})) argv.push("--build-arg", `${k}=${v}`);
  for (const k of Object.keys(args.envBuildArgs ?? {})) argv.push("--build-arg", k);
  for (const [k, v] of Object.entries(args.labels)) argv.push("--label", `${k}=${v}`);
  if (args.dockerfileText === undefined && !args.context) return Promise.reject(new Error(`${args.tag}: no build context`));
  argv.push(args.dockerfileText !== undefined ? "-" : (args.context as string));
  const env = { ...process.env, ...args.envBuildArgs, DOCKER_HOST: engine.dockerHost, DOCKER_BUILDKIT: "1" };
  const started = Date.now();
  return new Promise((resolvePromise) => {
    const child = execFile(cli, argv, { env, timeout: args.deadlineMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const log = `${stdout}${stderr}`;
      const timedOut = error && (error as { killed?: boolean }).killed ? `\n(build killed at its deadline of ${args.deadlineMs} ms)` : "";
      resolvePromise({ ok: !error, tag: args.tag, log: log + timedOut, seconds: (Date.now() - started) / 1000 });
    });
    if (args.dockerfileText !== undefined) child.stdin?.end(args.dockerfileText);
    else child.stdin?.end();
  });
}

/** Builds the stand-in for a pinned third-party reference, tagged in the scope (removed with it). */
export async function buildStandIn(scope: Scope, reference: string): Promise<string> {
  const repo = repository(reference);
  const built = BUILT_STAND_INS[repo];
  const from = built ? process.env[built.variable] : baseImageTag();
  if (built && !from) throw new Error(`${built.variable} is not set: run the tier with test/engine/run.sh, which builds the stand-in for ${reference} (${built.source})`);
  const spec = built ? { dockerfile: [] } : STAND_INS[repo];
  if (!spec) throw new Error(`no stand-in is defined for ${reference} (test/engine/support/stack.ts STAND_INS)`);
  const tag = `iot-test/standin-${repo.replace(/\//g, "-")}:${scope.id}`;
  const result = await buildImage({
    tag,
    dockerfileText: [`FROM ${from}`, ...spec.dockerfile, ""].join("\n"),
    labels: { ...scope.labels, "iot-test.stand-in-for": reference },
    deadlineMs: 120_000,
  }).catch((e: Error) => ({ ok: false, log: e.message, tag, seconds: 0 }));
  if (!result.ok) throw new Error(`stand-in for ${reference} did not build:\n${tail(result.log)}`);
  return tag;
}

export function tail(text: string, lines = 40): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

// --- the build CA bundle -----------------------------------------------------------------------

/** The host's CA bundle (npm on this machine trusts it; a TLS-intercepting proxy may sit in front of the registry). */
export const HOST_CA_BUNDLE = process.env.ENGINE_HOST_CA_BUNDLE ?? "/etc/ssl/certs/ca-certificates.crt";
/** Linux limits one argument or environment string to 32 pages (MAX_ARG_STRLEN, 131072 bytes). */
const MAX_ARG_STRLEN = 131072;

export function pemCertificates(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

export interface BuildCaCerts {
  /** the PEM text passed as BUILD_CA_CERTS */
  pem: string;
  /** how it was made, for the test log */
  description: string;
  /** a certificate made for this tier that exists nowhere else: it must not appear anywhere in the image */
  canaryPem: string;
}

/**
 * BUILD_CA_CERTS for the simulator build: the host bundle, plus a canary certificate made for the
 * tier. A docker CLI takes build arguments from its argv or environment, where Linux caps one
 * string at 128 KiB; a bundle too big for that (Debian's is about 215 KiB) is reduced to the
 * certificates the base image does not already carry (those are what the host adds, e.g. a
 * proxy's CA), which is what a build needs beyond the base image's own trust.
 */
export async function buildCaCerts(scope: Scope): Promise<BuildCaCerts> {
  const canaryPem = await canaryCertificate();
  const host = readFileSync(HOST_CA_BUNDLE, "utf8");
  const whole = `${host.trimEnd()}\n${canaryPem}`;
  if (Buffer.byteLength(`BUILD_CA_CERTS=${whole}`) < MAX_ARG_STRLEN) {
    return { pem: whole, canaryPem, description: `the host bundle ${HOST_CA_BUNDLE} (${pemCertificates(host).length} certificates) and a canary` };
  }
  const base = (await readImageFile(scope, baseImageTag(), "/etc/ssl/certs/ca-certificates.crt")).toString("utf8");
  const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
  const inBase = new Set(pemCertificates(base).map(fingerprint));
  const extra = pemCertificates(host).filter((pem) => !inBase.has(fingerprint(pem)));
  const pem = [...extra, canaryPem.trim()].join("\n") + "\n";
  return {
    pem,
    canaryPem,
    description:
      `the ${extra.length} certificates of ${HOST_CA_BUNDLE} that the base image does not carry ` +
      `(the whole bundle, ${Buffer.byteLength(host)} bytes, exceeds the 128 KiB limit of one argument) and a canary`,
  };
}

/** A self-signed certificate unique to this machine's tier, kept so that build caches stay valid. */
async function canaryCertificate(): Promise<string> {
  const file = join(STATE_DIR, "canary-ca.pem");
  if (existsSync(file)) return readFileSync(file, "utf8");
  const { createTestCa } = await import("../../../simulator/test/support/pki");
  const ca = await createTestCa(`iot engine tier canary ${new Date().toISOString()}`);
  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(file, ca.certPem);
  return ca.certPem;
}

/** Lines of a certificate's base64 body that any copy of it (PEM file, JSON string, shell history) contains verbatim. */
export function certificateNeedles(pem: string): string[] {
  return pemCertificates(pem).map((cert) => {
    const lines = cert.split("\n").filter((l) => /^[A-Za-z0-9+/=]{40,}$/.test(l));
    return lines[Math.floor(lines.length / 2)];
  });
}

// --- the simulator image -----------------------------------------------------------------------

export interface SimulatorBuild extends BuildResult {
  buildCa: BuildCaCerts;
  /** the build arguments passed (BUILD_CA_CERTS shortened) */
  argsShown: Record<string, string>;
}

/**
 * Builds the simulator image the way the program declares it (its docker.Image build inputs:
 * context, dockerfile, platform, args, target) with NODE_IMAGE set to the local base and
 * BUILD_CA_CERTS to the host's CAs. Tagged in the scope; BuildKit's cache makes a rebuild of
 * unchanged sources take seconds.
 */
export async function buildSimulator(scope: Scope, stack: DeclaredStack): Promise<SimulatorBuild> {
  const build = { ...(stack.builtImage.inputs.build ?? {}) } as Record<string, any>;
  const known = new Set(["context", "dockerfile", "platform", "args", "target", "builderVersion"]);
  const unknown = Object.keys(build).filter((k) => build[k] !== undefined && !known.has(k));
  if (unknown.length > 0) throw new Error(`the program's image build declares ${unknown.join(", ")}, which the engine tier does not pass on yet`);
  if (build.builderVersion && build.builderVersion !== "BuilderBuildKit") throw new Error(`the program builds with ${build.builderVersion}; the tier builds with BuildKit`);
  const buildCa = await buildCaCerts(scope);
  const programArgs: Record<string, string> = { ...(build.args ?? {}) };
  delete programArgs.BUILD_CA_CERTS;
  const buildArgs = { ...programArgs, NODE_IMAGE: baseImageTag() };
  const result = await buildImage({
    tag: `iot-test/simulator:${scope.id}`,
    context: build.context,
    dockerfile: build.dockerfile,
    platform: build.platform,
    target: build.target,
    buildArgs,
    envBuildArgs: { BUILD_CA_CERTS: buildCa.pem },
    labels: scope.labels,
    deadlineMs: 5 * 60_000,
  });
  return { ...result, buildCa, argsShown: { ...buildArgs, BUILD_CA_CERTS: `(${pemCertificates(buildCa.pem).length} certificates: ${buildCa.description})` } };
}
