import { hardenedContainerArgs, type ServiceContainerSpec } from "../../components/hardening";

const spec: ServiceContainerSpec = {
  image: "example@sha256:0",
  user: "1000:1000",
  limits: { memoryMb: 256, cpuMillis: 250 },
  policy: { restartPolicy: "on-failure", restartMaxRetries: 4, logMaxSize: "5m", logMaxFiles: 2, startupTimeoutSeconds: 90 },
  tmpfs: { "/tmp": "size=8m" },
  healthcheck: { tests: ["CMD", "true"] },
  networksAdvanced: [{ name: "backend" }],
};

test("the baseline: read-only, all capabilities dropped, no new privileges, limits, bounded restarts, rotated logs, health-gated", () => {
  const args = hardenedContainerArgs("svc", spec);
  expect(args).toMatchObject({
    name: "svc",
    user: "1000:1000",
    readOnly: true,
    privileged: false,
    capabilities: { drops: ["ALL"], adds: [] },
    securityOpts: ["no-new-privileges:true"],
    ipcMode: "private",
    memory: 256,
    memorySwap: 256,
    cpus: "0.25",
    restart: "on-failure",
    maxRetryCount: 4,
    logDriver: "json-file",
    logOpts: { "max-size": "5m", "max-file": "2" },
    wait: true,
    waitTimeout: 90,
    mustRun: true,
    init: false,
  });
  expect(args.tmpfs).toEqual({ "/tmp": "rw,noexec,nosuid,nodev,size=8m" });
  expect(args.networkMode).toBeUndefined();
});

test.each(["0", "0:0", "root", "root:root"])("refuses to run as %s", (user) => {
  expect(() => hardenedContainerArgs("svc", { ...spec, user })).toThrow(/must not run as root/);
});

test("capabilities are only added back when asked for", () => {
  expect(hardenedContainerArgs("svc", { ...spec, capabilitiesToAdd: ["NET_BIND_SERVICE", "cap_chown"] }).capabilities).toEqual({
    drops: ["ALL"],
    adds: ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"],
  });
});

test("unless-stopped carries no retry count", () => {
  const args = hardenedContainerArgs("svc", { ...spec, policy: { ...spec.policy, restartPolicy: "unless-stopped" } });
  expect(args.restart).toBe("unless-stopped");
  expect(args.maxRetryCount).toBeUndefined();
});

test("a container the provider deletes (replaced or destroyed) gets its stop timeout to shut down, never 0 s", () => {
  // kreuzwerker/terraform-provider-docker v4.5.0 resourceDockerContainerDelete stops with
  // destroy_grace_seconds, 0 when unset, then removes by force: the engine tier saw influxd killed at once.
  expect(hardenedContainerArgs("svc", spec).destroyGraceSeconds).toBe(10);
  expect(hardenedContainerArgs("svc", { ...spec, stopTimeoutSeconds: 15 })).toMatchObject({ stopTimeout: 15, destroyGraceSeconds: 15 });
});
