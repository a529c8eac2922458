// The simulator container as the program declares it (dev stack), running on the engine: on the
// program's internal backend network, against an HTTPS test server (fixtures/influx-test-server.js,
// in a container with the alias InfluxDB has there, its certificate from a CA made here), with its
// token and CA read from volumes staged the way the program stages them (loaders, InfluxDB's setup
// script). It must become healthy by its own health check, deliver every point it generates, run
// with the hardening the program declares, and on `docker stop` exit 0 within the stop timeout
// with its summary line: normally, and while the server is down.
import { readFileSync } from "node:fs";
import { DEFAULT_MEASUREMENT, METRICS_MEASUREMENT } from "../../simulator/src/schema";
import { join } from "node:path";
import type Docker from "dockerode";
import { createTestCa, type TestCa } from "../../simulator/test/support/pki";
import { Scope, client, engineSuite, eventually, exec, logs, tar, withDeadline } from "./support/engine";
import { prepare, type Deployment } from "./support/deploy";
import { createLoaders, runInfluxSetup, type SetupRun } from "./support/staging";
import { baseImageTag, declaredStack, type DeclaredStack } from "./support/stack";
import { goDuration } from "./support/translate";

interface ServerStats {
  requests: number;
  writes: number;
  lines: number;
  unique: number;
  uniqueByMeasurement: Record<string, number>;
  unauthorized: number;
  badRequests: number;
  health: number;
}

interface Summary {
  msg: string;
  points_generated: number;
  points_written: number;
  points_dropped: number;
  [key: string]: unknown;
}

engineSuite("the simulator container on the engine, against an HTTPS test server on the backend network", () => {
  let docker: Docker;
  let scope: Scope;
  let stack: DeclaredStack;
  let deployment: Deployment;
  let ca: TestCa;
  let setup: SetupRun;
  let server: Docker.Container;
  let simulator: Docker.Container | undefined;
  let env: Record<string, string>;

  const declared = () => stack.service("simulator");
  const stopTimeout = () => (declared().inputs.stopTimeout as number | undefined) ?? 10;

  beforeAll(async () => {
    docker = client();
    scope = new Scope(docker);
    stack = await declaredStack("dev");
    env = Object.fromEntries((declared().inputs.envs as string[]).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
    const url = new URL(env.INFLUX_URL);
    ca = await createTestCa("engine tier test CA");
    deployment = await prepare(scope, stack, { simulatorImage: true });
    if (!deployment.simulatorBuild?.ok) return; // every test reports the failed build
    // The stack's CA, wherever the program stages it, becomes the test CA.
    const loaders = await createLoaders(deployment, (content) => (stack.caCertPem && content === stack.caCertPem ? ca.certPem : content));
    for (const [name, l] of loaders) if (l.error) throw new Error(`loader ${name}: ${l.error.message}`);
    setup = await runInfluxSetup(deployment);
    if (setup.exitCode !== 0) throw new Error(`InfluxDB's setup scripts failed:\n${setup.output}`);
    server = await startServer(url);
  }, 8 * 60_000);

  afterAll(async () => {
    await scope?.cleanup();
  });

  /** The test server: on every network the simulator uses, with the aliases InfluxDB has there. */
  async function startServer(url: URL): Promise<Docker.Container> {
    const influx = stack.service("influxdb").inputs.networksAdvanced as Array<{ name: string; aliases?: string[] }>;
    const simNetworks = (declared().inputs.networksAdvanced as Array<{ name: string }>).map((n) => n.name);
    const endpoints = influx.filter((n) => simNetworks.includes(n.name));
    if (endpoints.length === 0) throw new Error("the simulator shares no network with InfluxDB");
    const cert = await ca.issue({ dns: [url.hostname] });
    const container = await docker.createContainer({
      name: scope.name("influx-test-server"),
      Image: baseImageTag(),
      User: "1000:1000",
      Entrypoint: ["node", "/srv/influx-test-server.js"],
      Env: [
        `PORT=${url.port || 443}`,
        `TOKEN=${setup.tokens.simulator}`,
        `ORG=${env.INFLUX_ORG}`,
        `BUCKET=${env.INFLUX_BUCKET}`,
        "CERT_FILE=/srv/cert.pem",
        "KEY_FILE=/srv/key.pem",
        "STATS_FILE=/tmp/stats.json",
      ],
      Labels: scope.labels,
      HostConfig: { NetworkMode: scope.name(endpoints[0].name) },
      NetworkingConfig: { EndpointsConfig: { [scope.name(endpoints[0].name)]: { Aliases: endpoints[0].aliases ?? [] } } },
    });
    for (const n of endpoints.slice(1)) await docker.getNetwork(scope.name(n.name)).connect({ Container: container.id, EndpointConfig: { Aliases: n.aliases ?? [] } });
    await container.putArchive(
      tar([
        { name: "srv/influx-test-server.js", content: readFileSync(join(__dirname, "fixtures", "influx-test-server.js")), mode: 0o444 },
        { name: "srv/cert.pem", content: cert.certPem, mode: 0o444, uid: 1000, gid: 1000 },
        { name: "srv/key.pem", content: cert.keyPem, mode: 0o400, uid: 1000, gid: 1000 },
      ]),
      { path: "/" },
    );
    await container.start();
    await eventually("the test server to listen", 20_000, async () => ((await logs(container)).stdout.includes("listening") ? true : undefined));
    return container;
  }

  async function serverStats(): Promise<ServerStats> {
    const r = await exec(server, ["cat", "/tmp/stats.json"]);
    return JSON.parse(r.stdout);
  }

  async function startSimulator(): Promise<Docker.Container> {
    if (!deployment.simulatorBuild?.ok) throw new Error("the simulator image did not build (simulator-image.engine.test.ts says why)");
    if (simulator) await simulator.remove({ force: true, v: true });
    simulator = await deployment.create(declared());
    await simulator.start();
    return simulator;
  }

  /** Healthy by the health check the program declares, within its start period plus a few intervals. */
  async function untilHealthy(container: Docker.Container): Promise<number> {
    const h = declared().inputs.healthcheck;
    const deadline = (goDuration(h.startPeriod ?? "0s") + goDuration(h.interval ?? "30s") * ((h.retries ?? 3) + 1)) / 1e6;
    const started = Date.now();
    await eventually(`the simulator to become healthy (its logs: ${"see below"})`, deadline, async () => {
      const state = (await container.inspect()).State;
      if (!state.Running) throw new Error(`the simulator is not running (exit code ${state.ExitCode}): ${(await logs(container)).stdout.slice(-2000)}`);
      return state.Health?.Status === "healthy" ? true : undefined;
    }, 1000).catch(async (error: Error) => {
      throw new Error(`${error.message}\n${(await logs(container)).stdout.slice(-3000)}`);
    });
    return (Date.now() - started) / 1000;
  }

  /** `docker stop` with the declared stop timeout: how long it took, the exit code, the summary line. */
  async function stop(container: Docker.Container): Promise<{ seconds: number; exitCode: number; summary?: Summary; tail: string }> {
    const started = Date.now();
    await withDeadline("docker stop", (stopTimeout() + 15) * 1000, () => container.stop({ t: stopTimeout() }));
    const seconds = (Date.now() - started) / 1000;
    const state = (await container.inspect()).State;
    const out = (await logs(container)).stdout;
    const lines = out.split("\n").filter((l) => l.startsWith("{"));
    const summary = lines.map((l) => JSON.parse(l) as Summary).find((l) => l.msg === "simulator stopped");
    return { seconds, exitCode: state.ExitCode, summary, tail: lines.slice(-8).join("\n") };
  }

  test("the server stands where the program points the simulator: the alias InfluxDB has on the shared network is INFLUX_URL's host", () => {
    const url = new URL(env.INFLUX_URL);
    const influxAliases = (stack.service("influxdb").inputs.networksAdvanced as Array<{ aliases?: string[] }>).flatMap((n) => n.aliases ?? []);
    expect(influxAliases).toContain(url.hostname);
  });

  test("becomes healthy by its own health check, and delivers every point it generates; `docker stop` ends it with exit 0 within the stop timeout and its summary line", async () => {
    const container = await startSimulator();
    const seconds = await untilHealthy(container);
    console.log(`simulator healthy after ${seconds.toFixed(1)} s`);
    // a few more writes before stopping
    const before = await serverStats();
    await eventually("more points at the server", 30_000, async () => ((await serverStats()).unique > before.unique ? true : undefined));
    const result = await stop(container);
    const stats = await serverStats();
    console.log(`stopped in ${result.seconds.toFixed(1)} s, exit ${result.exitCode}; server: ${JSON.stringify(stats)}; summary: ${JSON.stringify(result.summary)}`);
    expect({ exitCode: result.exitCode, withinStopTimeout: result.seconds < stopTimeout() }).toEqual({ exitCode: 0, withinStopTimeout: true });
    if (!result.summary) throw new Error(`no "simulator stopped" line; last lines:\n${result.tail}`);
    expect(result.summary.points_dropped).toBe(0);
    expect(result.summary.points_written).toBe(result.summary.points_generated);
    expect(result.summary.points_generated).toBeGreaterThan(0);
    // the server counted every generated reading and metrics line, once each, and never a bad token or request
    const summary = result.summary as unknown as Record<string, number>;
    expect({
      readings: stats.uniqueByMeasurement[DEFAULT_MEASUREMENT] ?? 0,
      metrics: stats.uniqueByMeasurement[METRICS_MEASUREMENT] ?? 0,
      others: stats.unique - (stats.uniqueByMeasurement[DEFAULT_MEASUREMENT] ?? 0) - (stats.uniqueByMeasurement[METRICS_MEASUREMENT] ?? 0),
      unauthorized: stats.unauthorized,
      badRequests: stats.badRequests,
    }).toEqual({ readings: summary.points_generated, metrics: summary.metrics_written, others: 0, unauthorized: 0, badRequests: 0 });
  }, 4 * 60_000);

  test("runs with the declared hardening in force: uid, no capabilities, no-new-privileges, init as PID 1, read-only root, its tmpfs, memory and CPU limits", async () => {
    const container = await startSimulator();
    await untilHealthy(container);
    const probe = await exec(container, [
      "node",
      "-e",
      `const fs=require('fs');const status=fs.readFileSync('/proc/self/status','utf8');
       const field=(n)=>(status.match(new RegExp('^'+n+':\\\\s*(.*)$','m'))||[])[1];
       const tryWrite=(p)=>{try{fs.writeFileSync(p,'x');fs.unlinkSync(p);return 'ok'}catch(e){return e.code}};
       const read=(...ps)=>{for(const p of ps){try{return fs.readFileSync(p,'utf8').trim()}catch{}}return null};
       const mounts=fs.readFileSync('/proc/mounts','utf8').split('\\n').map(l=>l.split(' ')).filter(f=>f.length>3);
       console.log(JSON.stringify({uid:process.getuid(),gid:process.getgid(),capEff:field('CapEff'),capBnd:field('CapBnd'),noNewPrivs:field('NoNewPrivs'),
         pid1:fs.readFileSync('/proc/1/cmdline','utf8').split('\\0')[0],rootWrite:tryWrite('/probe'),
         root:(mounts.find(f=>f[1]==='/')||[])[3],tmpfs:Object.fromEntries(mounts.filter(f=>f[2]==='tmpfs').map(f=>[f[1],f[3]])),
         memory:read('/sys/fs/cgroup/memory.max','/sys/fs/cgroup/memory/memory.limit_in_bytes'),
         swapV2:read('/sys/fs/cgroup/memory.swap.max'),memswV1:read('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'),
         cpu:read('/sys/fs/cgroup/cpu.max')||[read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us','/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us'),read('/sys/fs/cgroup/cpu/cpu.cfs_period_us','/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us')].join(' ')}))`,
    ]);
    expect(probe.exitCode).toBe(0);
    const p = JSON.parse(probe.stdout);
    const d = declared().inputs;
    const [uid, gid] = String(d.user).split(":").map(Number);
    const mib = 1024 * 1024;
    const [quota, period] = String(p.cpu).split(" ").map(Number);
    const tmpfsPaths = Object.keys(d.tmpfs ?? {});
    expect({
      uid: p.uid,
      gid: p.gid,
      capEff: p.capEff,
      capBnd: p.capBnd,
      noNewPrivs: p.noNewPrivs,
      pid1IsInit: /docker-init|tini/.test(p.pid1),
      rootWrite: p.rootWrite,
      rootReadOnly: String(p.root).split(",").includes("ro"),
      tmpfs: Object.fromEntries(tmpfsPaths.map((t) => [t, p.tmpfs[t] ? ["rw", "nosuid", "nodev", "noexec"].filter((o) => String(p.tmpfs[t]).split(",").includes(o)) : "absent"])),
      memory: Number(p.memory),
      // Docker's MemorySwap is memory plus swap: cgroup v1 limits that sum (memsw), v2 swap alone
      memoryPlusSwap: p.memswV1 !== null ? Number(p.memswV1) : p.swapV2 !== null ? Number(p.memory) + Number(p.swapV2) : "no swap accounting",
      cpus: quota / period,
    }).toEqual({
      uid,
      gid,
      capEff: "0000000000000000",
      capBnd: d.capabilities?.drops?.includes("ALL") && !(d.capabilities?.adds ?? []).length ? "0000000000000000" : p.capBnd,
      noNewPrivs: "1",
      pid1IsInit: d.init === true,
      rootWrite: d.readOnly ? "EROFS" : "ok",
      rootReadOnly: d.readOnly === true,
      tmpfs: Object.fromEntries(tmpfsPaths.map((t) => [t, ["rw", "nosuid", "nodev", "noexec"].filter((o) => String(d.tmpfs[t]).split(",").includes(o))])),
      memory: d.memory * mib,
      memoryPlusSwap: p.memswV1 === null && p.swapV2 === null ? "no swap accounting" : d.memorySwap * mib,
      cpus: Number(d.cpus),
    });
    const result = await stop(container);
    expect(result.exitCode).toBe(0);
  }, 4 * 60_000);

  test("with the server down, `docker stop` still ends it with exit 0 within the stop timeout and its summary line", async () => {
    const container = await startSimulator();
    await untilHealthy(container);
    await server.stop({ t: 2 });
    // let at least one flush fail against the missing server before stopping
    await new Promise((r) => setTimeout(r, 3000));
    const result = await stop(container);
    console.log(`server down: stopped in ${result.seconds.toFixed(1)} s, exit ${result.exitCode}; summary: ${JSON.stringify(result.summary)}`);
    expect({ exitCode: result.exitCode, withinStopTimeout: result.seconds < stopTimeout() }).toEqual({ exitCode: 0, withinStopTimeout: true });
    if (!result.summary) throw new Error(`no "simulator stopped" line; last lines:\n${result.tail}`);
    // every generated point is accounted for: written, or given up and counted as dropped
    expect(result.summary.points_written + result.summary.points_dropped).toBe(result.summary.points_generated);
    expect(result.summary.points_generated).toBeGreaterThan(0);
  }, 4 * 60_000);
});
