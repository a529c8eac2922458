import type { ReportViolation, ResourceValidationArgs } from "@pulumi/policy";
import { policies } from "./rules";
import { runUnderMocks, stackConfig } from "../test/support/harness";

function violations(type: string, props: Record<string, any>): string[] {
  const found: string[] = [];
  for (const policy of policies) {
    const report: ReportViolation = (message: string) => found.push(`${policy.name}: ${message}`);
    const validate = policy.validateResource;
    for (const fn of Array.isArray(validate) ? validate : validate ? [validate] : []) {
      fn({ type, props, name: "r", urn: "urn:r", opts: {}, stackTags: new Map() } as unknown as ResourceValidationArgs, report);
    }
  }
  return found;
}

describe.each(["dev", "prod"])("the %s stack passes every rule", (stack) => {
  test("no violation on any resource", async () => {
    const run = await runUnderMocks(stack, stackConfig(stack));
    const all = run.resources.flatMap((r) => violations(r.type, r.inputs).map((v) => `${r.name}: ${v}`));
    expect(all).toEqual([]);
    expect(run.resources.filter((r) => r.type === "docker:index/container:Container").length).toBeGreaterThan(0);
  });
});

describe("each rule catches what it is for", () => {
  const good = {
    user: "1000:1000",
    readOnly: true,
    capabilities: { drops: ["ALL"], adds: [] },
    securityOpts: ["no-new-privileges:true"],
    memory: 256,
    memorySwap: 256,
    cpus: "0.5",
    restart: "on-failure",
    maxRetryCount: 3,
    logOpts: { "max-size": "10m", "max-file": "3" },
    healthcheck: { tests: ["CMD", "true"] },
    wait: true,
    mounts: [{ type: "volume", source: "data", target: "/data" }],
    ports: [{ internal: 3000, external: 3000, ip: "127.0.0.1" }],
  };
  const container = (change: Record<string, any>) => violations("docker:index/container:Container", { ...good, ...change });

  test("a good container passes", () => expect(container({})).toEqual([]));

  test.each([
    ["root user", { user: "0:0" }, /container-not-root: runs as "0:0"/],
    ["no user", { user: undefined }, /container-not-root: runs as "the image's default user"/],
    ["writable root", { readOnly: false }, /container-read-only-root/],
    ["capabilities kept", { capabilities: { drops: [] } }, /container-drop-all-capabilities: capabilities.drops must contain "ALL"/],
    ["capability added", { capabilities: { drops: ["ALL"], adds: ["SYS_ADMIN"] } }, /adds capabilities back: SYS_ADMIN/],
    ["new privileges", { securityOpts: [] }, /container-no-new-privileges/],
    ["privileged", { privileged: true }, /runs privileged/],
    ["seccomp off", { securityOpts: ["no-new-privileges:true", "seccomp=unconfined"] }, /container-keeps-engine-confinement: securityOpts turns confinement off: "seccomp=unconfined"/],
    ["apparmor off", { securityOpts: ["no-new-privileges:true", "apparmor:unconfined"] }, /turns confinement off: "apparmor:unconfined"/],
    ["selinux labels off", { securityOpts: ["no-new-privileges:true", "label=disable"] }, /turns confinement off: "label=disable"/],
    ["host network", { networkMode: "host" }, /networkMode is "host"/],
    ["host pid", { pidMode: "host" }, /pidMode is "host"/],
    ["bind mount", { mounts: [{ type: "bind", source: "/etc", target: "/host-etc" }] }, /mounts a bind at \/host-etc/],
    ["docker socket", { mounts: [{ type: "volume", source: "/var/run/docker.sock", target: "/s" }] }, /mounts the Docker socket/],
    ["host path volume", { volumes: [{ hostPath: "/", containerPath: "/host" }] }, /mounts the host path \//],
    ["no memory limit", { memory: undefined }, /no memory limit/],
    ["swap beyond the limit", { memorySwap: -1 }, /memorySwap allows swap/],
    ["no cpu limit", { cpus: undefined }, /no CPU limit/],
    ["restart always", { restart: "always" }, /restart "always"/],
    ["unbounded on-failure", { maxRetryCount: 0 }, /retries forever/],
    ["no log rotation", { logOpts: {} }, /logs are not rotated/],
    ["no health check", { healthcheck: undefined }, /no health check/],
    ["not health-gated", { wait: false }, /does not wait/],
    ["port on every address", { ports: [{ internal: 3000, external: 3000 }] }, /port 3000 is published on every host address/],
  ])("%s", (_name, change, message) => {
    expect(container(change).join("\n")).toMatch(message);
  });

  test("a never-started loader may have a writable root (Docker needs it for uploads) but nothing else", () => {
    const loader = { start: false, user: "65534:65534", readOnly: false, capabilities: { drops: ["ALL"] }, securityOpts: ["no-new-privileges:true"], networkMode: "none" };
    expect(violations("docker:index/container:Container", loader)).toEqual([]);
    expect(violations("docker:index/container:Container", { ...loader, user: "root" }).join()).toMatch(/container-not-root/);
  });

  test.each([
    ["influxdb:latest", ["image-pinned-by-digest: influxdb:latest is not pinned by digest", "image-pinned-by-digest: influxdb:latest uses the latest tag"]],
    ["influxdb:2.9.1", ["image-pinned-by-digest: influxdb:2.9.1 is not pinned by digest"]],
    [`influxdb:latest@sha256:${"a".repeat(64)}`, [`image-pinned-by-digest: influxdb:latest@sha256:${"a".repeat(64)} uses the latest tag`]],
  ])("image %s", (name, expected) => {
    expect(violations("docker:index/remoteImage:RemoteImage", { name })).toEqual(expected);
  });

  test("a pinned image passes", () => {
    expect(violations("docker:index/remoteImage:RemoteImage", { name: `influxdb:2.9.1@sha256:${"0".repeat(64)}` })).toEqual([]);
  });
});
