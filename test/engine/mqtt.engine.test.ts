// The broker and the bridge as the program declares them (dev stack: three simulated MQTT devices),
// running on the engine: the real broker (Debian's mosquitto 2.0.11) and the real bridge (Telegraf
// built from its Go module), in stand-ins for the pinned images (test/engine/mqtt-images.sh), with
// every declared setting (user, read-only root, caps, no-new-privileges, tmpfs, limits, mounts,
// networks, published port, health check), on the program's networks. Only the certificates differ:
// the mocks' are fake, so the staged certificate, key and CRL files get real ones made here (same
// paths, owners, modes). InfluxDB is a stand-in (fixtures/influx-line-sink.js, with InfluxDB's alias
// and a certificate from the same CA) that records every line the bridge writes; the bridge's token
// comes from the program's own first-setup script (support/staging.ts runInfluxSetup).
import { readFileSync } from "node:fs";
import { createServer, connect, type AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { DEFAULT_MEASUREMENT, READING_FIELDS } from "../../simulator/src/schema";
import { Scope, client, engineSuite, eventually, exec, logs, tar, withDeadline } from "./support/engine";
import { prepare, type Deployment } from "./support/deploy";
import { createMqttTestCa, type Issued, type MqttTestCa } from "./support/mqtt-pki";
import { runInfluxSetup, volumeContents, type SetupRun } from "./support/staging";
import { baseImageTag, declaredStack, serviceOf, type DeclaredStack, type MqttService } from "./support/stack";
import { goDuration, type Translation } from "./support/translate";

const FILES_MOUNT = /^\/etc\/iot\/(broker|bridge|simulator)$/;

engineSuite("the broker and the bridge the program declares, running on the engine (real mosquitto, real Telegraf)", () => {
  let docker: Docker;
  let scope: Scope;
  let stack: DeclaredStack;
  let deployment: Deployment;
  let ca: MqttTestCa;
  let setup: SetupRun;
  let sink: Docker.Container;
  const identities = new Map<string, Issued>();
  let brokerServer: Issued;
  let crlPem: string;
  /** the host port the broker is published on: the declared one, unless something on this host holds it */
  let hostPort: number;
  const running = new Map<MqttService, Docker.Container>();

  const declared = (service: MqttService) => stack.service(service);
  const envOf = (service: MqttService | "simulator") =>
    Object.fromEntries(((stack.service(service).inputs.envs as string[]) ?? []).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
  const brokerPort = () => (declared("broker").inputs.ports as Array<{ internal: number; external: number; ip: string }>)[0];
  const simulatedIds = () => [...identities.keys()].filter((id) => id.startsWith("sim-"));

  beforeAll(async () => {
    docker = client();
    scope = new Scope(docker);
    stack = await declaredStack("dev");
    deployment = await prepare(scope, stack, { simulatorImage: true });

    ca = await createMqttTestCa("engine tier MQTT test CA");
    crlPem = await ca.emptyCrl();
    const brokerAlias = (declared("broker").inputs.networksAdvanced as Array<{ aliases?: string[] }>).flatMap((n) => n.aliases ?? [])[0];
    brokerServer = await ca.server([brokerAlias, "localhost"], ["127.0.0.1"]);
    for (const id of ["bridge", "broker-health"]) identities.set(id, await ca.client(id));
    // The simulated devices the program stages certificates for (identities/<id>.crt).
    for (const loader of stack.loaders) {
      for (const u of (loader.inputs.uploads ?? []) as Array<{ file: string }>) {
        const m = /\/identities\/([a-z0-9-]+)\.crt$/.exec(u.file);
        if (m) identities.set(m[1], await ca.client(m[1]));
      }
    }

    // Every loader, as declared; the MQTT services' certificate files get real ones by path, and any
    // other copy of the stack CA becomes the test CA.
    for (const loader of stack.loaders) {
      const service = serviceOf(stack, loader.inputs.name);
      await deployment.create(loader, (t) => {
        t.uploads = t.uploads.map((u) => ({ ...u, content: realContent(service, u.file, u.content ?? "") }));
      });
    }
    setup = await runInfluxSetup(deployment);
    if (setup.exitCode !== 0) throw new Error(`InfluxDB's setup scripts failed:\n${setup.output}`);
    sink = await startSink();
    hostPort = await freeOr(brokerPort().external, brokerPort().ip);
  }, 10 * 60_000);

  afterAll(async () => {
    await scope?.cleanup();
  });

  /** The real file for a staged one: the broker's and bridge's TLS files by path, the CA anywhere. */
  function realContent(service: string, file: string, content: string): string {
    const path = file.replace(/^\/[^/]+\//, ""); // relative to the loader's mount point
    const byPath: Record<string, Record<string, string | undefined>> = {
      broker: {
        "tls/server.crt": brokerServer.certPem,
        "tls/server.key": brokerServer.keyPem,
        "tls/ca.pem": ca.certPem,
        "tls/crl.pem": crlPem,
        "health/client.crt": identities.get("broker-health")?.certPem,
        "health/client.key": identities.get("broker-health")?.keyPem,
      },
      bridge: { "tls/ca.pem": ca.certPem, "tls/client.crt": identities.get("bridge")?.certPem, "tls/client.key": identities.get("bridge")?.keyPem },
      "mqtt-simulator": { "tls/ca.pem": ca.certPem },
    };
    const id = /^identities\/([a-z0-9-]+)\.(crt|key)$/.exec(path);
    if (service === "mqtt-simulator" && id) {
      const issued = identities.get(id[1]);
      if (!issued) throw new Error(`no test certificate for ${id[1]}`);
      return id[2] === "crt" ? issued.certPem : issued.keyPem;
    }
    const replaced = byPath[service]?.[path];
    if (replaced) return replaced;
    if (stack.caCertPem && content === stack.caCertPem) return ca.certPem;
    // Nothing fake may reach the broker or bridge unnoticed: a mocked PEM left there is a test bug.
    if (byPath[service] && /MOCK-/.test(content)) throw new Error(`${service}: staged file ${path} holds a mocked PEM the test does not replace`);
    return content;
  }

  /** The declared port if nothing on this host holds it, else a free one (said in the log); the address stays the declared one. */
  async function freeOr(port: number, address: string): Promise<number> {
    const tryListen = (p: number) =>
      new Promise<number | undefined>((resolvePort) => {
        const server = createServer();
        server.once("error", () => resolvePort(undefined));
        server.listen(p, address, () => {
          const got = (server.address() as AddressInfo).port;
          server.close(() => resolvePort(got));
        });
      });
    const declaredFree = await tryListen(port);
    if (declaredFree !== undefined) return port;
    const other = await tryListen(0);
    if (other === undefined) throw new Error(`cannot listen on ${address} at all`);
    console.warn(`host port ${port} on ${address} is taken on this host; the broker is published on ${other} instead (same address)`);
    return other;
  }

  /** The InfluxDB stand-in, on every network the bridge shares with InfluxDB, with InfluxDB's aliases there. */
  async function startSink(): Promise<Docker.Container> {
    const influxUrl = new URL(envOf("simulator").INFLUX_URL);
    const influx = stack.service("influxdb").inputs.networksAdvanced as Array<{ name: string; aliases?: string[] }>;
    const bridgeNetworks = (declared("bridge").inputs.networksAdvanced as Array<{ name: string }>).map((n) => n.name);
    const endpoints = influx.filter((n) => bridgeNetworks.includes(n.name));
    if (endpoints.length === 0) throw new Error("the bridge shares no network with InfluxDB");
    const cert = await ca.server([influxUrl.hostname]);
    const sim = envOf("simulator");
    const container = await docker.createContainer({
      name: scope.name("influx-line-sink"),
      Image: baseImageTag(),
      User: "1000:1000",
      Entrypoint: ["node", "/srv/influx-line-sink.js"],
      Env: [
        `PORT=${influxUrl.port || 443}`,
        `TOKEN=${setup.tokens.bridge}`,
        `ORG=${sim.INFLUX_ORG}`,
        `BUCKET=${sim.INFLUX_BUCKET}`,
        "CERT_FILE=/srv/cert.pem",
        "KEY_FILE=/srv/key.pem",
        "LINES_FILE=/tmp/lines.txt",
        "STATS_FILE=/tmp/stats.json",
      ],
      Labels: scope.labels,
      HostConfig: { NetworkMode: scope.name(endpoints[0].name) },
      NetworkingConfig: { EndpointsConfig: { [scope.name(endpoints[0].name)]: { Aliases: endpoints[0].aliases ?? [] } } },
    });
    for (const n of endpoints.slice(1)) await docker.getNetwork(scope.name(n.name)).connect({ Container: container.id, EndpointConfig: { Aliases: n.aliases ?? [] } });
    await container.putArchive(
      tar([
        { name: "srv/influx-line-sink.js", content: readFileSync(join(__dirname, "fixtures", "influx-line-sink.js")), mode: 0o444 },
        { name: "srv/cert.pem", content: cert.certPem, mode: 0o444, uid: 1000, gid: 1000 },
        { name: "srv/key.pem", content: cert.keyPem, mode: 0o400, uid: 1000, gid: 1000 },
      ]),
      { path: "/" },
    );
    await container.start();
    await eventually("the InfluxDB stand-in to listen", 20_000, async () => ((await logs(container)).stdout.includes("listening") ? true : undefined));
    return container;
  }

  const sinkLines = async () => (await exec(sink, ["cat", "/tmp/lines.txt"])).stdout.split("\n").filter((l) => l !== "");
  const sinkStats = async () => JSON.parse((await exec(sink, ["cat", "/tmp/stats.json"])).stdout) as Record<string, number>;

  /** Creates and starts a service from its declaration (the broker's host port as freeOr found it), once. */
  async function start(service: MqttService, change?: (t: Translation) => void): Promise<Docker.Container> {
    const existing = running.get(service);
    if (existing) return existing;
    const container = await deployment.create(declared(service), (t) => {
      if (service === "broker") {
        const bindings = (t.create.HostConfig?.PortBindings ?? {}) as Record<string, Array<{ HostIp: string; HostPort: string }>>;
        for (const list of Object.values(bindings)) for (const b of list) b.HostPort = String(hostPort);
      }
      change?.(t);
    });
    running.set(service, container);
    await container.start();
    return container;
  }

  /** Healthy by the declared health check, within its start period plus (retries + 1) intervals. */
  async function untilHealthy(service: MqttService, container: Docker.Container): Promise<number> {
    const h = declared(service).inputs.healthcheck;
    const ms = (goDuration(h.startPeriod ?? "0s") + goDuration(h.interval ?? "30s") * ((h.retries ?? 3) + 1)) / 1e6;
    const started = Date.now();
    try {
      await eventually(`${service} to become healthy`, ms, async () => {
        const state = (await container.inspect()).State;
        if (!state.Running) throw new Error(`${service} is not running (exit code ${state.ExitCode}, restarts or not)`);
        return state.Health?.Status === "healthy" ? true : undefined;
      }, 1000);
    } catch (error) {
      const state = (await container.inspect()).State;
      const out = await logs(container);
      const checks = (state.Health?.Log ?? []).map((l) => `exit ${l.ExitCode}: ${l.Output.trim()}`).join("\n  ");
      throw new Error(`${(error as Error).message}\nhealth checks:\n  ${checks}\nlogs:\n${(out.stdout + out.stderr).slice(-3000)}`);
    }
    return (Date.now() - started) / 1000;
  }

  /** A device publishing from the host through the published port, as a real one would: mosquitto_pub in a host-network container. */
  async function publish(id: string, topic: string, payload: string, port = hostPort, address = brokerPort().ip) {
    const issued = identities.get(id);
    if (!issued) throw new Error(`no certificate for ${id}`);
    const container = await docker.createContainer({
      name: scope.name(`device-${id}-${Date.now()}`),
      Image: process.env.ENGINE_BROKER_IMAGE,
      Entrypoint: ["mosquitto_pub"],
      Cmd: ["-h", address, "-p", String(port), "-V", "mqttv5", "-q", "1", "--cafile", "/d/ca.pem", "--cert", "/d/d.crt", "--key", "/d/d.key", "-i", `${id}-test`, "-t", topic, "-m", payload, "-d"],
      User: "1883:1883",
      Labels: scope.labels,
      HostConfig: { NetworkMode: "host" },
    });
    await container.putArchive(
      tar([
        { name: "d/ca.pem", content: ca.certPem, mode: 0o444 },
        { name: "d/d.crt", content: issued.certPem, mode: 0o444 },
        { name: "d/d.key", content: issued.keyPem, mode: 0o444 },
      ]),
      { path: "/" },
    );
    try {
      await container.start();
      const { StatusCode } = await withDeadline(`mosquitto_pub as ${id}`, 30_000, () => container.wait());
      const out = await logs(container);
      return { exitCode: StatusCode, output: out.stdout + out.stderr };
    } finally {
      await container.remove({ force: true });
    }
  }

  /** A reading in the schema's line protocol, with a nanosecond timestamp, and no tags (the topic gives them). */
  function reading(timestampNs: bigint, marker: number): string {
    const fields = Object.entries(READING_FIELDS).map(([name, spec]) => (spec.type === "integer" ? `${name}=${-60 - (marker % 30)}i` : `${name}=${(marker % 90) + 0.5}`));
    return `${DEFAULT_MEASUREMENT} ${fields.join(",")} ${timestampNs}`;
  }

  /** What a process sees of its own hardening, from /proc (the images have a shell, not node). */
  async function hardening(container: Docker.Container): Promise<Record<string, string>> {
    const script = [
      "s=/proc/1/status",
      'echo "uid=$(awk \'/^Uid:/{print $2}\' $s) gid=$(awk \'/^Gid:/{print $2}\' $s)"',
      'echo "capEff=$(awk \'/^CapEff:/{print $2}\' $s) capBnd=$(awk \'/^CapBnd:/{print $2}\' $s) noNewPrivs=$(awk \'/^NoNewPrivs:/{print $2}\' $s)"',
      'if touch /probe 2>/dev/null; then echo rootWrite=ok; else echo rootWrite=refused; fi',
      'echo "root=$(awk \'$2=="/"{print $4}\' /proc/mounts)"',
      'echo "tmp=$(awk \'$2=="/tmp"{print $3":"$4}\' /proc/mounts)"',
      'if touch /tmp/.probe 2>/dev/null; then echo tmpWrite=ok; else echo tmpWrite=refused; fi',
      'echo "memory=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"',
      'echo "cpu=$(cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo "$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us 2>/dev/null || cat /sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us)")"',
      'echo "memlock=$(awk \'/^Max locked memory/{print $4}\' /proc/1/limits)"',
      'echo "pid1=$(tr \'\\0\' \' \' </proc/1/cmdline)"',
    ].join("\n");
    const r = await exec(container, ["sh", "-c", script]);
    if (r.exitCode !== 0) throw new Error(`hardening probe failed: ${r.stderr}`);
    return Object.fromEntries(
      r.stdout
        .split(/\s+(?=[a-zA-Z0-9]+=)|\n/)
        .filter((kv) => kv.includes("="))
        .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1).trim()]),
    );
  }

  function expectDeclaredHardening(service: MqttService, p: Record<string, string>) {
    const d = declared(service).inputs;
    const [uid, gid] = String(d.user).split(":");
    const [quota, period] = p.cpu.split(" ").map(Number);
    expect({
      service,
      uid: p.uid,
      gid: p.gid,
      capEff: p.capEff,
      capBnd: p.capBnd,
      noNewPrivs: p.noNewPrivs,
      rootWrite: p.rootWrite,
      rootReadOnly: p.root.split(",").includes("ro"),
      tmp: p.tmp.split(":")[0],
      tmpOptions: ["rw", "nosuid", "nodev", "noexec"].filter((o) => p.tmp.split(":")[1]?.split(",").includes(o)),
      tmpWrite: p.tmpWrite,
      memory: Number(p.memory),
      cpus: quota / period,
    }).toEqual({
      service,
      uid,
      gid,
      capEff: "0000000000000000",
      capBnd: "0000000000000000",
      noNewPrivs: "1",
      rootWrite: "refused",
      rootReadOnly: true,
      tmp: "tmpfs",
      tmpOptions: ["rw", "nosuid", "nodev", "noexec"],
      tmpWrite: "ok",
      memory: d.memory * 1024 * 1024,
      cpus: Number(d.cpus),
    });
    // the declaration itself is the hardened baseline (components/hardening.ts)
    expect({ readOnly: d.readOnly, drops: d.capabilities?.drops, adds: d.capabilities?.adds, securityOpts: d.securityOpts, privileged: d.privileged }).toEqual({
      readOnly: true,
      drops: ["ALL"],
      adds: [],
      securityOpts: ["no-new-privileges:true"],
      privileged: false,
    });
  }

  test("the dev stack declares a broker, a bridge and the MQTT simulator, each with its files volume mounted read-only", () => {
    for (const s of ["broker", "bridge", "mqtt-simulator"] as const) {
      const mounts = declared(s).inputs.mounts as Array<{ target: string; readOnly?: boolean }>;
      expect(mounts.filter((m) => FILES_MOUNT.test(m.target)).map((m) => m.readOnly)).toEqual([true]);
    }
  });

  test("the broker runs as declared (uid 1883, read-only root, no capabilities, no-new-privileges, its tmpfs and limits) and becomes healthy by its own health check: a TLS round trip with the health certificate", async () => {
    const broker = await start("broker");
    const seconds = await untilHealthy("broker", broker);
    console.log(`broker healthy after ${seconds.toFixed(1)} s`);
    const p = await hardening(broker);
    console.log(`broker: ${JSON.stringify(p)}`);
    expectDeclaredHardening("broker", p);
    expect(p.pid1).toMatch(/mosquitto -c \/etc\/iot\/broker\/mosquitto\.conf/);
  }, 4 * 60_000);

  test("the broker's published port is bound on the declared address only: reachable there, refused on this host's other addresses", async () => {
    const broker = running.get("broker") ?? (await start("broker"));
    const info = await broker.inspect();
    const key = `${brokerPort().internal}/tcp`;
    expect(info.NetworkSettings.Ports[key]).toEqual([{ HostIp: brokerPort().ip, HostPort: String(hostPort) }]);
    const reach = (host: string) =>
      new Promise<string>((resolveReach) => {
        const socket = connect({ host, port: hostPort, timeout: 3000 });
        socket.once("connect", () => (socket.destroy(), resolveReach("connected")));
        socket.once("timeout", () => (socket.destroy(), resolveReach("timeout")));
        socket.once("error", (e: NodeJS.ErrnoException) => resolveReach(e.code ?? e.message));
      });
    expect(await reach(brokerPort().ip)).toBe("connected");
    const others = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a && a.family === "IPv4" && a.address !== brokerPort().ip && !a.address.startsWith("127."))
      .map((a) => a!.address);
    if (brokerPort().ip === "0.0.0.0") throw new Error("the program publishes the broker on every address");
    expect(others.length).toBeGreaterThan(0);
    for (const address of others) expect({ address, result: await reach(address) }).toEqual({ address, result: "ECONNREFUSED" });
  }, 60_000);

  test("the bridge runs as declared (its uid, read-only root, no capabilities, no-new-privileges, its tmpfs and limits), loads its configuration, connects to the broker with its certificate and becomes healthy", async () => {
    await untilHealthy("broker", running.get("broker") ?? (await start("broker")));
    const bridge = await start("bridge");
    const seconds = await untilHealthy("bridge", bridge);
    console.log(`bridge healthy after ${seconds.toFixed(1)} s`);
    const p = await hardening(bridge);
    console.log(`bridge: ${JSON.stringify(p)}`);
    expectDeclaredHardening("bridge", p);
    // PID 1 runs the declared command (the image's entrypoint execs it as it is, not as root)
    expect(p.pid1).toContain((declared("bridge").inputs.command as string[]).join(" "));
    expect(p.pid1).toMatch(/--config \/etc\/iot\/bridge\/telegraf\.conf/);
    // Telegraf logs to stderr, unbuffered: its configuration loaded, the broker connected, no error.
    const out = await logs(bridge);
    const log = out.stdout + out.stderr;
    console.log(`bridge log:\n${log}`);
    expect({
      loaded: /I! Loaded inputs: .*mqtt_consumer/.test(log) && /I! Loaded outputs: .*influxdb_v2/.test(log) && /I! Loaded secretstores: .*bridge_secrets/.test(log),
      connected: /I! \[inputs\.mqtt_consumer\] Connected \[ssl:\/\/broker:8883\]/.test(log),
      // memguard locks the token's memory: 3 pages per secret must fit the memlock limit
      lockableMemory: !/Insufficient lockable memory/.test(log),
      errors: log.split("\n").filter((l) => /\bE! /.test(l)),
    }).toEqual({ loaded: true, connected: true, lockableMemory: true, errors: [] });
  }, 4 * 60_000);

  test("a device publishing with its own certificate through the published port reaches InfluxDB through the bridge, tagged with the device and site of its topic", async () => {
    const bridge = running.get("bridge");
    if (!bridge) throw new Error("the bridge did not start (see the test above)");
    const device = simulatedIds()[0];
    const site = envOf("mqtt-simulator").SIM_SITE;
    const ts = BigInt(Date.now()) * 1_000_000n + 123n;
    const sent = await publish(device, `devices/${site}/${device}/readings`, reading(ts, 7));
    expect({ exitCode: sent.exitCode, output: sent.output }).toEqual({ exitCode: 0, output: expect.stringContaining("PUBACK") });
    const line = await eventually(`the reading of ${device} at the InfluxDB stand-in`, 30_000, async () => (await sinkLines()).find((l) => l.endsWith(` ${ts}`)));
    expect(line.slice(0, line.indexOf(" ")).split(",").sort()).toEqual([DEFAULT_MEASUREMENT, `device=${device}`, `site=${site}`].sort());
    const stats = await sinkStats();
    expect({ unauthorized: stats.unauthorized, badRequests: stats.badRequests }).toEqual({ unauthorized: 0, badRequests: 0 });
  }, 2 * 60_000);

  test("through the published port, a device publishing to another device's topic is refused by the broker (MQTT 5 reason 135) and nothing of it is stored", async () => {
    if (!running.get("bridge")) throw new Error("the bridge did not start");
    const [device, other] = simulatedIds();
    const site = envOf("mqtt-simulator").SIM_SITE;
    const ts = BigInt(Date.now()) * 1_000_000n + 456n;
    const sent = await publish(device, `devices/${site}/${other}/readings`, reading(ts, 11));
    console.log(`${device} → ${other}'s topic: exit ${sent.exitCode}\n${sent.output}`);
    expect(sent.output).toMatch(/received PUBACK \(Mid: \d+, RC:135\)/);
    // a reading published after it arrives, so the refused one would have arrived by then too
    const after = BigInt(Date.now()) * 1_000_000n + 789n;
    expect((await publish(device, `devices/${site}/${device}/readings`, reading(after, 12))).exitCode).toBe(0);
    await eventually("the later reading at the InfluxDB stand-in", 30_000, async () => ((await sinkLines()).some((l) => l.endsWith(` ${after}`)) ? true : undefined));
    expect((await sinkLines()).filter((l) => l.endsWith(` ${ts}`))).toEqual([]);
  }, 2 * 60_000);

  test("the MQTT simulator (the simulator image in MQTT mode, as declared) becomes healthy and its devices' readings arrive through the broker and the bridge", async () => {
    if (!deployment.simulatorBuild?.ok) throw new Error("the simulator image did not build (simulator-image.engine.test.ts says why)");
    if (!running.get("bridge")) throw new Error("the bridge did not start");
    const sim = await start("mqtt-simulator");
    await untilHealthy("mqtt-simulator", sim);
    const ids = simulatedIds();
    const seen = await eventually(`readings of ${ids.join(", ")}`, 60_000, async () => {
      const tags = new Set((await sinkLines()).filter((l) => l.startsWith(`${DEFAULT_MEASUREMENT},`)).map((l) => /device=([^, ]+)/.exec(l)?.[1]));
      return ids.every((id) => tags.has(id)) ? [...tags] : undefined;
    });
    expect(seen).toEqual(expect.arrayContaining(ids));
  }, 4 * 60_000);

  test("replacing the broker container, as a change of the devices does, keeps its data volume: the new one becomes healthy, and the bridge and the simulated devices reconnect on their own", async () => {
    const old = running.get("broker");
    if (!old || !running.get("bridge")) throw new Error("the broker or the bridge did not start");
    // deleteBeforeReplace: the old container goes first, then the new one takes its name and volumes
    await withDeadline("docker stop broker", 30_000, () => old.stop({ t: 10 }));
    await old.remove();
    running.delete("broker");
    const replacedAt = BigInt(Date.now()) * 1_000_000n;
    const broker = await start("broker");
    const seconds = await untilHealthy("broker", broker);
    console.log(`replacement broker healthy after ${seconds.toFixed(1)} s`);
    const device = simulatedIds()[0];
    const site = envOf("mqtt-simulator").SIM_SITE;
    const ts = BigInt(Date.now()) * 1_000_000n + 321n;
    expect((await publish(device, `devices/${site}/${device}/readings`, reading(ts, 21))).exitCode).toBe(0);
    await eventually("the bridge to deliver a reading published to the new broker", 60_000, async () => ((await sinkLines()).some((l) => l.endsWith(` ${ts}`)) ? true : undefined), 1000);
    const bridgeLog = await logs(running.get("bridge")!);
    console.log(`bridge log around the replacement:\n${(bridgeLog.stdout + bridgeLog.stderr).trimEnd().split("\n").slice(-8).join("\n")}`);
    if (running.get("mqtt-simulator")) {
      const ids = simulatedIds();
      await eventually(`readings of ${ids.join(", ")} made after the replacement`, 60_000, async () => {
        const after = new Set(
          (await sinkLines())
            .filter((l) => l.startsWith(`${DEFAULT_MEASUREMENT},`) && BigInt(l.slice(l.lastIndexOf(" ") + 1)) > replacedAt)
            .map((l) => /device=([^, ]+)/.exec(l)?.[1]),
        );
        return ids.every((id) => after.has(id)) ? true : undefined;
      }, 1000);
    }
  }, 4 * 60_000);

  test("the broker's data volume is writable by uid 1883: on `docker stop` mosquitto saves its persistence file there, owned by 1883", async () => {
    const broker = running.get("broker");
    if (!broker) throw new Error("the broker did not start");
    await withDeadline("docker stop broker", 30_000, () => broker.stop({ t: 10 }));
    const state = (await broker.inspect()).State;
    const out = await logs(broker);
    const dataVolume = (declared("broker").inputs.mounts as Array<{ type: string; source: string; target: string }>).find((m) => m.target === "/mosquitto/data");
    if (!dataVolume) throw new Error("the broker mounts no volume at /mosquitto/data");
    const files = await volumeContents(deployment, dataVolume.source);
    console.log(`broker stopped with exit ${state.ExitCode}; data volume: ${JSON.stringify(Object.fromEntries(Object.entries(files).map(([p, f]) => [p, `${f.type} ${f.owner} ${f.mode} ${f.size}`])))}`);
    // Debian's mosquitto 2.0.11 block-buffers stdout (line-buffered from 2.0.16 on, ChangeLog "Use line
    // buffered mode for stdout. Closes #2354"), so its log is whole only once it has exited.
    const log = out.stdout + out.stderr;
    console.log(`broker log, last lines:\n${log.trimEnd().split("\n").slice(-6).join("\n")}`);
    expect({
      exitCode: state.ExitCode,
      // persistence_location ends with a slash, and mosquitto appends "/mosquitto.db" to it
      saved: /Saving in-memory database to \/mosquitto\/data\/+mosquitto\.db\./.test(log),
      // the bridge and a device were who their certificates say (use_identity_as_username)
      bridge: /New client connected from \S+ as bridge \(.*u'bridge'\)/.test(log),
      device: new RegExp(`New client connected from \\S+ as ${simulatedIds()[0]}-test \\(.*u'${simulatedIds()[0]}'\\)`).test(log),
    }).toEqual({ exitCode: 0, saved: true, bridge: true, device: true });
    expect({ root: files[""]?.owner, db: files["mosquitto.db"] && { owner: files["mosquitto.db"].owner, nonEmpty: files["mosquitto.db"].size > 0 } }).toEqual({
      root: "1883:1883",
      db: { owner: "1883:1883", nonEmpty: true },
    });
  }, 2 * 60_000);
});
