// Runs Pulumi code under mocks and records every resource it registers.
//
// Each run gets a fresh module registry (jest.isolateModules), so @pulumi/pulumi's runtime state,
// the stack config and the program's module-level code start clean: one file can run the dev and
// the prod stack, or a component alone. The config is the one users deploy: Pulumi.yaml's defaults
// overlaid with Pulumi.<stack>.yaml, then any overrides of the test.
import { createHash } from "node:crypto";
import { join } from "node:path";
import type * as PulumiModule from "@pulumi/pulumi";
import { readStackConfig } from "../../stack-config";

// Every fresh copy of @pulumi/pulumi (one per run) adds process exit listeners; many runs per file are expected.
process.setMaxListeners(100);

export const ROOT = join(__dirname, "..", "..");
export const PROJECT = "secure-iot";

export interface RecordedResource {
  type: string;
  name: string;
  id: string;
  /** inputs as the provider would receive them (secrets unwrapped) */
  inputs: Record<string, any>;
  /**
   * the inputs Pulumi sent as secrets, by path: a property is sent (and stored) secret whole when
   * any value inside it is, e.g. a loader's "uploads" when one of its files is a key
   */
  secretInputs: string[];
}

/** Values the provider would compute, made recognisable so tests can trace where they flow. */
export function mockOutputs(type: string, name: string, inputs: Record<string, any>): Record<string, any> {
  switch (type) {
    case "random:index/randomPassword:RandomPassword":
      return { result: `MOCK-SECRET-${name}-${"x".repeat(Math.max(0, (inputs.length ?? 16) - name.length - 12))}` };
    case "tls:index/privateKey:PrivateKey":
      return {
        privateKeyPem: `-----BEGIN EC PRIVATE KEY-----\nMOCK-KEY-${name}\n-----END EC PRIVATE KEY-----\n`,
        privateKeyPemPkcs8: `-----BEGIN PRIVATE KEY-----\nMOCK-PKCS8-KEY-${name}\n-----END PRIVATE KEY-----\n`,
        publicKeyPem: `-----BEGIN PUBLIC KEY-----\nMOCK-PUB-${name}\n-----END PUBLIC KEY-----\n`,
      };
    case "tls:index/selfSignedCert:SelfSignedCert":
    case "tls:index/locallySignedCert:LocallySignedCert":
      return { certPem: `-----BEGIN CERTIFICATE-----\nMOCK-CERT-${name}\n-----END CERTIFICATE-----\n`, validityEndTime: MOCK_NOT_AFTER };
    case "tls:index/certRequest:CertRequest":
      return { certRequestPem: `-----BEGIN CERTIFICATE REQUEST-----\nMOCK-CSR-${name}\n-----END CERTIFICATE REQUEST-----\n` };
    case "docker:index/remoteImage:RemoteImage":
      return { imageId: `sha256:mock-image-id-of-${name}`, repoDigest: `${inputs.name}` };
    case "docker:index/image:Image":
      // For a local build (skipPush) the provider's repoDigest is the local image id
      // (@pulumi/docker image.d.ts: "the local image ID, please use `repoDigest`").
      return { imageName: inputs.imageName, repoDigest: `sha256:mock-local-image-id-of-${name}` };
    case "pulumi-nodejs:dynamic:Resource":
      // the device CRL (components/device-crl.ts): its PEM names the resource, so tests can trace it
      return "certificates" in inputs ? { crlPem: `-----BEGIN X509 CRL-----\nMOCK-CRL-${name}\n-----END X509 CRL-----\n`, revoked: [] } : {};
    default:
      return {};
  }
}

/** The notAfter (RFC 3339) the mock gives every certificate (the provider's validityEndTime). */
export const MOCK_NOT_AFTER = "2030-01-02T03:04:05Z";

/** Pulumi.yaml defaults, then Pulumi.<stack>.yaml, then overrides: "project:key" to the string the engine passes. */
export function stackConfig(stack: string, overrides: Record<string, unknown> = {}): Record<string, string> {
  const config = readStackConfig(ROOT, stack);
  for (const [key, value] of Object.entries(overrides)) {
    const fullKey = key.includes(":") ? key : `${PROJECT}:${key}`;
    if (value === undefined) delete config[fullKey];
    else config[fullKey] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return config;
}

export interface Run {
  resources: RecordedResource[];
  /** the module's exports (the program's stack outputs), or what `body` returned */
  exports: Record<string, unknown>;
  pulumi: typeof PulumiModule;
}

/**
 * Runs `body` (or the program, index.ts) under mocks with the given stack config and waits until
 * every resource it registered has been recorded.
 */
export interface RunOptions {
  /**
   * Give each container an id derived from its inputs, as a replacement would give it a new one
   * (nearly every input of the Docker provider's container is ForceNew, the uploads included):
   * two runs then show which containers an update would replace. Default: the id is the name's.
   */
  containerIdsFromInputs?: boolean;
}

export async function runUnderMocks(
  stack: string,
  config: Record<string, string>,
  body?: (pulumi: typeof PulumiModule) => Record<string, unknown>,
  options: RunOptions = {},
): Promise<Run> {
  const resources: RecordedResource[] = [];
  let pulumi!: typeof PulumiModule;
  let exported: Record<string, unknown> = {};
  let failure: unknown;
  jest.isolateModules(() => {
    pulumi = require("@pulumi/pulumi");
    void pulumi.runtime.setMocks(
      {
        newResource(args) {
          const inputs = unwrapSecrets(args.inputs);
          const id =
            options.containerIdsFromInputs && args.type === CONTAINER
              ? `${args.name}-id-${createHash("sha256").update(JSON.stringify(inputs)).digest("hex").slice(0, 12)}`
              : `${args.name}-id`;
          resources.push({ type: args.type, name: args.name, id, inputs, secretInputs: secretPaths(args.inputs) });
          return { id, state: { ...args.inputs, ...mockOutputs(args.type, args.name, inputs) } };
        },
        call(args) {
          return args.inputs;
        },
      },
      PROJECT,
      stack,
      false,
    );
    pulumi.runtime.setAllConfig(config);
    try {
      exported = body ? body(pulumi) : require(join(ROOT, "index.ts"));
    } catch (error) {
      failure = error;
    }
  });
  if (failure) throw failure;
  // Resolving every exported output and then waiting for the runtime's outstanding RPCs means
  // every resource has been registered with the mock monitor.
  await Promise.all(Object.values(exported).map((value) => resolve(pulumi, value)));
  await pulumi.runtime.disconnect();
  return { resources, exports: exported, pulumi };
}

/** The plain value of an exported output or of an object with outputs inside, all resolved (as Pulumi exports it). */
export function resolveDeep(pulumi: typeof PulumiModule, value: unknown): Promise<unknown> {
  return new Promise((r) => (pulumi.output(value as PulumiModule.Input<unknown>) as PulumiModule.Output<unknown>).apply((v) => r(v)));
}

/** Whether Pulumi would store an export (an output or an object with outputs inside) as a secret. */
export function isSecretDeep(pulumi: typeof PulumiModule, value: unknown): Promise<boolean> {
  return pulumi.isSecret(pulumi.output(value as PulumiModule.Input<unknown>) as PulumiModule.Output<unknown>);
}

/** The plain value of an exported output (or nested object of outputs). */
export function resolve(pulumi: typeof PulumiModule, value: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(value)) return new Promise((r) => (value as PulumiModule.Output<unknown>).apply((v) => r(v)));
  if (value && typeof value === "object" && !pulumi.Resource.isInstance(value)) {
    return Promise.all(Object.values(value).map((v) => resolve(pulumi, v))).then(() => value);
  }
  return Promise.resolve(value);
}

export function isSecret(pulumi: typeof PulumiModule, value: unknown): Promise<boolean> {
  return pulumi.Output.isInstance(value) ? pulumi.isSecret(value as PulumiModule.Output<unknown>) : Promise.resolve(false);
}

// Secrets reach the mock monitor wrapped in a signature object; tests want the plain values.
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
function unwrapSecrets(value: any): any {
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (value && typeof value === "object") {
    if (value[SECRET_SIG] === "1b47061264138c4ac30d75fd1eb44270") return unwrapSecrets(value.value);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
  }
  return value;
}

function secretPaths(value: any, path: string[] = []): string[] {
  if (value && typeof value === "object") {
    if (value[SECRET_SIG] === "1b47061264138c4ac30d75fd1eb44270") return [path.join(".")];
    return Object.entries(value).flatMap(([k, v]) => secretPaths(v, [...path, k]));
  }
  return [];
}

// --- queries over recorded resources -------------------------------------------------------------

export const CONTAINER = "docker:index/container:Container";

export function ofType(run: Run, type: string): RecordedResource[] {
  return run.resources.filter((r) => r.type === type);
}

export function one(run: Run, type: string, name: string): RecordedResource {
  const found = run.resources.filter((r) => r.type === type && r.name === name);
  if (found.length !== 1) {
    const names = ofType(run, type).map((r) => r.name);
    throw new Error(`expected one ${type} named ${name}, found ${found.length} (have: ${names.join(", ")})`);
  }
  return found[0];
}

/** Service containers: every container that is started (loaders are created but never started). */
export function serviceContainers(run: Run): RecordedResource[] {
  return ofType(run, CONTAINER).filter((c) => c.inputs.start !== false);
}

export function env(container: RecordedResource): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of container.inputs.envs ?? []) {
    const eq = entry.indexOf("=");
    out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

/** The files a FileVolume loader uploads: path inside the volume to the upload. */
export function uploads(loader: RecordedResource): Record<string, { content: string; owner: string; group: string; permissions: string }> {
  const out: Record<string, any> = {};
  for (const upload of loader.inputs.uploads ?? []) out[upload.file.replace(/^\/staging\//, "")] = upload;
  return out;
}
