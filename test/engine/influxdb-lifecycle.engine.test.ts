// InfluxDB as the program declares it (dev stack), from the REAL influxd and influx in a local image
// shaped like the official influxdb:2.9.1 (test/engine/influxdb-image.sh), with the real simulator
// container writing to it: first setup by the image's entrypoint with the program's scoped-tokens
// script; the container replaced by one from a second image (another image id, same volumes and
// settings: what a new digest in components/images.ts makes `pulumi up` do) and back while the
// simulator writes; then `npm run backup` and `npm run restore` run end to end (scripts/backup.sh
// and restore.sh, a stand-in `pulumi` that answers the stack's outputs, the REAL docker CLI) against
// the running container, across a wipe of the data volume and a new first setup.
//
// The containers the tools address carry their deployed names (iot-dev-influxdb, iot-dev-simulator:
// tools/influx-backup-stack.ts finds them by name), so this file refuses to run on an engine where
// such a container already exists and is not its own. Only the certificates differ from the
// program's: the mocks' are fake, so InfluxDB's server certificate and key and every copy of the
// stack CA get real ones made here (same paths, owners, modes), as mqtt.engine.test.ts does.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { DEFAULT_MEASUREMENT, METRICS_MEASUREMENT } from "../../simulator/src/schema";
import { createTestCa, type TestCa } from "../../simulator/test/support/pki";
import { authListScript, containerPaths, dockerShell, parseAnnotatedCsv, queryScript, runStep, type Shell } from "../../tools/influx-backup";
import { ROOT, Scope, client, engine, engineSuite, eventually, logs, withDeadline } from "./support/engine";
import { prepare, type Deployment } from "./support/deploy";
import { volumeContents } from "./support/staging";
import { declaredStack, imageAliases, imageResource, serviceOf, type DeclaredStack } from "./support/stack";
import { goDuration, type Translation } from "./support/translate";

const STACK = "dev";
const deployedName = (component: string) => `iot-${STACK}-${component}`;

interface Summary {
  msg: string;
  points_generated: number;
  points_written: number;
  points_dropped: number;
  [key: string]: unknown;
}

interface Replacement {
  from: string;
  to: string;
  fromImageId: string;
  toImageId: string;
  /** the provider's stop timeout (destroy_grace_seconds, 0 when the program sets none) and the old container's exit code */
  graceSeconds: number;
  oldExitCode: number;
  /** docker stop + rm of the old container, as the provider's delete does */
  removeSeconds: number;
  /** from the old container's stop to the new one's healthy */
  outageSeconds: number;
  /** from the old container's stop to the first reading the simulator wrote after it */
  writesResumedSeconds: number;
  /** the simulator's points_written in its first metrics line after the replacement, and the readings stored up to that line */
  simulatorWritten: number;
  readingsStored: number;
}

engineSuite("InfluxDB from the real influxd, as the program declares it: first setup, upgrade and rollback under the simulator, backup and restore", () => {
  let docker: Docker;
  let scope: Scope;
  let stack: DeclaredStack;
  let deployment: Deployment;
  let ca: TestCa;
  let operatorToken = "";
  let influx: Docker.Container | undefined;
  let simulator: Docker.Container | undefined;
  let shell: Shell;
  const firstImage = process.env.ENGINE_INFLUXDB_IMAGE ?? "";
  const nextImage = process.env.ENGINE_INFLUXDB_IMAGE_NEXT ?? "";
  const paths = containerPaths(true);
  const dockerEnv = () => ({ ...process.env, DOCKER_HOST: engine!.dockerHost });
  const declared = (service: "influxdb" | "simulator") => stack.service(service);
  const envOf = (service: "influxdb" | "simulator") =>
    Object.fromEntries(((declared(service).inputs.envs as string[]) ?? []).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
  const org = () => envOf("influxdb").DOCKER_INFLUXDB_INIT_ORG;
  const bucket = () => envOf("influxdb").DOCKER_INFLUXDB_INIT_BUCKET;
  const mountOf = (service: "influxdb" | "simulator", target: string) => {
    const m = (declared(service).inputs.mounts as Array<{ source: string; target: string }>).find((x) => x.target === target);
    if (!m) throw new Error(`${service} mounts nothing at ${target}`);
    return m.source;
  };
  const figures: Record<string, unknown> = {};

  beforeAll(async () => {
    if (!firstImage || !nextImage) throw new Error("ENGINE_INFLUXDB_IMAGE(_NEXT) is not set: run the tier with test/engine/run.sh, which builds them (test/engine/influxdb-image.sh)");
    docker = client();
    for (const name of [deployedName("influxdb"), deployedName("simulator")]) {
      const existing = await docker.listContainers({ all: true, filters: JSON.stringify({ name: [`^/${name}$`] }) });
      if (existing.length > 0) throw new Error(`a container named ${name} exists on this engine (a deployed stack?): this test needs the name for npm run backup/restore; remove it or use the tier's private engine`);
    }
    scope = new Scope(docker);
    stack = await declaredStack(STACK);
    deployment = await prepare(scope, stack, { simulatorImage: true });
    if (!deployment.simulatorBuild?.ok) throw new Error("the simulator image did not build (simulator-image.engine.test.ts says why)");
    // The real InfluxDB image wherever the program names InfluxDB's, loaders included (they copy
    // the image's directories, owned by 1000, into the new volumes).
    const remote = imageResource(stack, String(declared("influxdb").inputs.image));
    for (const alias of imageAliases(remote)) deployment.images.set(alias, firstImage);

    ca = await createTestCa("engine tier InfluxDB test CA");
    const alias = new URL(envOf("simulator").INFLUX_URL).hostname;
    const server = await ca.issue({ dns: [alias, "localhost"], ips: ["127.0.0.1"] });
    for (const loader of stack.loaders) {
      const service = serviceOf(stack, loader.inputs.name);
      await deployment.create(loader, (t) => {
        t.uploads = t.uploads.map((u) => {
          const content = u.content ?? "";
          let real = content;
          if (service === "influxdb" && u.file.endsWith("/tls/server.crt")) real = server.certPem;
          else if (service === "influxdb" && u.file.endsWith("/tls/server.key")) real = server.keyPem;
          else if (stack.caCertPem && content === stack.caCertPem) real = ca.certPem;
          if (service === "influxdb" && u.file.endsWith("/secrets/operator-token")) operatorToken = content;
          return { ...u, content: real };
        });
      });
    }
    if (operatorToken.length < 16) throw new Error(`the staged operator token is ${operatorToken.length} characters; the tools need 16 or more`);
    shell = dockerShell(deployedName("influxdb"), dockerEnv());
  }, 10 * 60_000);

  afterAll(async () => {
    console.log(`figures: ${JSON.stringify(figures, null, 2)}`);
    await scope?.cleanup();
  });

  /** Creates InfluxDB from its declaration under its deployed name, from `image`, and starts it. */
  async function createInflux(image: string): Promise<Docker.Container> {
    const c = await deployment.create(declared("influxdb"), (t: Translation) => {
      t.create.name = deployedName("influxdb");
      t.create.Image = image;
    });
    await c.start();
    influx = c;
    return c;
  }

  /** The deleteBeforeReplace delete of the Docker provider (kreuzwerker resourceDockerContainerDelete): stop with destroy_grace_seconds (0: not set by the program), then remove, forced. */
  async function providerDelete(c: Docker.Container): Promise<{ graceSeconds: number; exitCode: number; oomKilled: boolean }> {
    const grace = (declared("influxdb").inputs.destroyGraceSeconds as number | undefined) ?? 0;
    await withDeadline("docker stop", (grace + 30) * 1000, () => c.stop({ t: grace }).catch((e: Error) => (/not running|304/.test(e.message) ? undefined : Promise.reject(e))));
    const state = (await c.inspect()).State;
    await c.remove({ force: true });
    // 137 (SIGKILL) with no grace: influxd gets no time to close its files; what it acknowledged must survive anyway.
    return { graceSeconds: grace, exitCode: state.ExitCode, oomKilled: state.OOMKilled };
  }

  async function untilHealthy(service: "influxdb" | "simulator", c: Docker.Container): Promise<number> {
    const h = declared(service).inputs.healthcheck;
    const ms = (goDuration(h.startPeriod ?? "0s") + goDuration(h.interval ?? "30s") * ((h.retries ?? 3) + 1)) / 1e6;
    const started = Date.now();
    try {
      await eventually(`${service} to become healthy`, ms, async () => {
        const state = (await c.inspect()).State;
        if (!state.Running) throw new Error(`${service} is not running (exit code ${state.ExitCode})`);
        return state.Health?.Status === "healthy" ? true : undefined;
      }, 250);
    } catch (error) {
      const out = await logs(c);
      throw new Error(`${(error as Error).message}\nlogs:\n${(out.stdout + out.stderr).slice(-4000)}`);
    }
    return (Date.now() - started) / 1000;
  }

  /** `docker ...` with the real CLI on the tier's engine; stdin optional. */
  function dockerCli(args: string[], input?: string) {
    const r = spawnSync("docker", args, { env: dockerEnv(), input, encoding: "utf8", timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  async function query(flux: string): Promise<Array<Record<string, string>>> {
    return parseAnnotatedCsv((await runStep(shell, "influx query", queryScript(paths, org(), flux), operatorToken, undefined, 60_000)).toString("utf8"));
  }

  const ALL = "range(start: 1970-01-01T00:00:00Z, stop: 2262-04-11T00:00:00Z)";
  /** Points by measurement, device and field with a time before `stop` (all when not given). */
  async function countsBefore(stop?: string): Promise<Record<string, number>> {
    const range = stop ? `range(start: 1970-01-01T00:00:00Z, stop: ${stop})` : ALL;
    const rows = await query(`from(bucket: ${JSON.stringify(bucket())}) |> ${range} |> group(columns: ["_measurement", "device", "_field"]) |> count()`);
    return Object.fromEntries(rows.map((r) => [`${r._measurement}|${r.device ?? ""}|${r._field}`, Number(r._value)]).sort());
  }
  /** Readings (points of the readings measurement): per device, the count of its most frequent field. */
  function readings(counts: Record<string, number>): number {
    const byDevice = new Map<string, number>();
    for (const [key, n] of Object.entries(counts)) {
      const [m, device] = key.split("|");
      if (m === DEFAULT_MEASUREMENT) byDevice.set(device, Math.max(byDevice.get(device) ?? 0, n));
    }
    return [...byDevice.values()].reduce((a, b) => a + b, 0);
  }
  /** The time of the newest reading, in ms (0 for none). */
  async function newestReadingMs(): Promise<number> {
    const rows = await query(`from(bucket: ${JSON.stringify(bucket())}) |> range(start: -1h) |> filter(fn: (r) => r._measurement == ${JSON.stringify(DEFAULT_MEASUREMENT)}) |> last() |> keep(columns: ["_time"]) |> group() |> max(column: "_time")`);
    return rows[0]?._time ? Date.parse(rows[0]._time) : 0;
  }
  /** The simulator's own points_written, as it last reported it to InfluxDB (its metrics measurement). */
  async function reportedPointsWritten(): Promise<number> {
    const rows = await query(`from(bucket: ${JSON.stringify(bucket())}) |> range(start: -1h) |> filter(fn: (r) => r._measurement == ${JSON.stringify(METRICS_MEASUREMENT)} and r._field == "points_written") |> group() |> max()`);
    return rows[0] ? Number(rows[0]._value) : 0;
  }

  /** docker stop: the exit code and every summary line the container printed (one per run: the restore restarts it). */
  /**
   * The simulator's last metrics line (written to InfluxDB like its readings): its time and its
   * points_written and points_dropped counters then.
   */
  async function lastMetrics(): Promise<{ timeMs: number; time: string; written: number; dropped: number }> {
    const rows = await query(`from(bucket: ${JSON.stringify(bucket())}) |> range(start: -1h) |> filter(fn: (r) => r._measurement == ${JSON.stringify(METRICS_MEASUREMENT)} and (r._field == "points_written" or r._field == "points_dropped")) |> last()`);
    const field = (name: string) => rows.find((r) => r._field === name);
    const w = field("points_written");
    const d = field("points_dropped");
    if (!w || !d || w._time !== d._time) throw new Error(`no complete metrics line: ${JSON.stringify(rows)}`);
    return { timeMs: Date.parse(w._time), time: w._time, written: Number(w._value), dropped: Number(d._value) };
  }

  async function stopSimulator(): Promise<{ exitCode: number; summaries: Summary[]; log: string }> {
    const c = simulator!;
    const timeout = (declared("simulator").inputs.stopTimeout as number | undefined) ?? 10;
    await withDeadline("docker stop simulator", (timeout + 15) * 1000, () => c.stop({ t: timeout }));
    const state = (await c.inspect()).State;
    const out = (await logs(c)).stdout;
    const summaries = out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Summary).filter((l) => l.msg === "simulator stopped");
    return { exitCode: state.ExitCode, summaries, log: out };
  }

  test("first setup runs for real in the image's entrypoint: InfluxDB becomes healthy by its declared health check (curl over HTTPS with the stack CA) and each consumer's token volume holds its token", async () => {
    const c = await createInflux(firstImage);
    const seconds = await untilHealthy("influxdb", c);
    figures.firstSetupHealthySeconds = seconds;
    const out = await logs(c);
    const log = out.stdout + out.stderr;
    console.log(`InfluxDB healthy after ${seconds.toFixed(1)} s; entrypoint and setup:\n${log.split("\n").filter((l) => /system": "docker"|scoped-tokens|Setup|User\s+Organization/.test(l) || /^\S+\s+\S+\s+\S+$/.test(l)).slice(0, 20).join("\n")}`);
    expect(log).toMatch(/scoped-tokens: created write-only tokens \(simulator, bridge\) and a read-only token \(grafana\)/);
    for (const consumer of ["simulator", "grafana", "bridge"]) {
      const files = await volumeContents(deployment, mountOf("influxdb", `/etc/iot/handoff/${consumer}`));
      expect({ consumer, owner: files.token?.owner, mode: files.token?.mode, length: (files.token?.content ?? "").length > 20 }).toEqual({ consumer, owner: "1000:1000", mode: "0444", length: true });
    }
    const auths = JSON.parse((await runStep(shell, "influx auth list", authListScript(paths), operatorToken)).toString("utf8")) as Array<{ description: string }>;
    expect(auths.map((a) => a.description.split(":")[0]).filter((d) => ["simulator", "grafana", "bridge"].includes(d)).sort()).toEqual(["bridge", "grafana", "simulator"]);
  }, 4 * 60_000);

  test("what npm run backup relies on, in the real container: docker exec -i runs as 1000 with the container's environment; the backups volume is owned by 1000 and writable while the root is read-only; the image has sha256sum, wc, cut and tr; influx verifies https://localhost:8086 with the stack CA only through SSL_CERT_FILE", async () => {
    const name = deployedName("influxdb");
    const probe = dockerCli([
      "exec", "-i", name, "sh", "-c",
      'read -r line; echo "stdin=$line uid=$(id -u) gid=$(id -g) org=$DOCKER_INFLUXDB_INIT_ORG tls=$INFLUXD_TLS_CERT"; ' +
        'echo "backups=$(stat -c %u:%g:%a /var/lib/influxdb2-backups)"; ' +
        'if touch /var/lib/influxdb2-backups/.probe 2>/dev/null && rm /var/lib/influxdb2-backups/.probe; then echo backupsWrite=ok; else echo backupsWrite=refused; fi; ' +
        'if touch /.probe 2>/dev/null; then echo rootWrite=ok; else echo rootWrite=refused; fi; ' +
        'for t in sha256sum wc cut tr; do command -v $t >/dev/null || echo missing=$t; done',
    ], "hello\n");
    console.log(`docker exec -i probe: ${JSON.stringify(probe)}`);
    expect(probe.status).toBe(0);
    expect(probe.stdout).toContain(`stdin=hello uid=1000 gid=1000 org=${org()} tls=/etc/iot/influxdb/tls/server.crt`);
    expect(probe.stdout).toMatch(/^backups=1000:1000:\d+$/m);
    expect(probe.stdout).toContain("backupsWrite=ok");
    expect(probe.stdout).toContain("rootWrite=refused");
    expect(probe.stdout).not.toContain("missing=");
    // docker cp (PUT /containers/{id}/archive) into the backups volume of the read-only container:
    // allowed (moby refuses only paths on the read-only root), the file owned by root unless -a.
    const local = join(mkdtempSync(join(tmpdir(), "engine-cp-")), "cp-probe");
    writeFileSync(local, "probe\n");
    const cpIn = dockerCli(["cp", local, `${name}:/var/lib/influxdb2-backups/cp-probe`]);
    const cpRoot = dockerCli(["cp", local, `${name}:/cp-probe`]);
    const cpOwner = dockerCli(["exec", name, "sh", "-c", "stat -c %u:%g /var/lib/influxdb2-backups/cp-probe && rm /var/lib/influxdb2-backups/cp-probe"]);
    rmSync(join(local, ".."), { recursive: true, force: true });
    console.log(`docker cp into the backups volume: exit ${cpIn.status} ${cpIn.stderr.trim()}; owner ${cpOwner.stdout.trim()} ${cpOwner.stderr.trim()}; onto the read-only root: exit ${cpRoot.status} ${cpRoot.stderr.trim()}`);
    expect({ intoVolume: cpIn.status, ontoRoot: cpRoot.status === 0 ? "allowed" : "refused" }).toEqual({ intoVolume: 0, ontoRoot: "refused" });
    // Without the stack CA the Go CLI refuses the server's certificate; with SSL_CERT_FILE it accepts it.
    const without = dockerCli(["exec", name, "influx", "ping", "--host", "https://localhost:8086"]);
    const withCa = dockerCli(["exec", "-e", "SSL_CERT_FILE=/etc/iot/influxdb/tls/ca.pem", name, "influx", "ping", "--host", "https://localhost:8086"]);
    console.log(`influx ping without SSL_CERT_FILE: exit ${without.status}: ${(without.stdout + without.stderr).trim()}\nwith SSL_CERT_FILE=ca.pem: exit ${withCa.status}: ${(withCa.stdout + withCa.stderr).trim()}`);
    expect({ status: without.status, error: /certificate signed by unknown authority|x509/.test(without.stderr + without.stdout) }).toEqual({ status: 1, error: true });
    expect({ status: withCa.status, out: withCa.stdout.trim() }).toEqual({ status: 0, out: "OK" });
  }, 2 * 60_000);

  test("the simulator container, as declared, becomes healthy and its readings reach the real InfluxDB", async () => {
    simulator = await deployment.create(declared("simulator"), (t) => {
      t.create.name = deployedName("simulator");
    });
    await simulator.start();
    const seconds = await untilHealthy("simulator", simulator);
    console.log(`simulator healthy after ${seconds.toFixed(1)} s`);
    const devices = Number(envOf("simulator").SIM_DEVICES);
    await eventually(`readings of ${devices} devices and a points_written report`, 90_000, async () => {
      const counts = await countsBefore();
      const seen = new Set(Object.keys(counts).filter((k) => k.startsWith(`${DEFAULT_MEASUREMENT}|`)).map((k) => k.split("|")[1]));
      return seen.size === devices && (await reportedPointsWritten()) > 0 ? true : undefined;
    }, 2000);
  }, 4 * 60_000);

  /** Replaces InfluxDB by one from `image` while the simulator writes; checks the data and that writes resume. */
  async function replaceWhileWriting(image: string): Promise<Replacement> {
    const old = influx!;
    const currentImage = (await old.inspect()).Config.Image;
    const fromImageId = (await old.inspect()).Image;
    // Points older than the cutoff were all acknowledged before the replacement: the simulator
    // flushes every second and its requests time out after 10 s. Counted twice: stable.
    const cutoff = new Date(Date.now() - 20_000).toISOString();
    const before = await countsBefore(cutoff);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await countsBefore(cutoff)).toEqual(before);
    const reportedBefore = await reportedPointsWritten();
    const newestBefore = await newestReadingMs();

    const stoppedAt = Date.now();
    const deleted = await providerDelete(old);
    const removeSeconds = (Date.now() - stoppedAt) / 1000;
    const c = await createInflux(image);
    await untilHealthy("influxdb", c);
    const outageSeconds = (Date.now() - stoppedAt) / 1000;
    const toImageId = (await c.inspect()).Image;

    // Writes resume by themselves: a reading newer than the replacement arrives, and the simulator's
    // own points_written (its metrics, written to InfluxDB too) goes on rising.
    const resumedAt = await eventually("a reading written after the replacement", 120_000, async () => ((await newestReadingMs()) > stoppedAt ? Date.now() : undefined), 500);
    await eventually("the simulator's points_written to rise past its value before the replacement", 120_000, async () => ((await reportedPointsWritten()) > reportedBefore ? true : undefined), 2000);
    expect(await countsBefore(cutoff)).toEqual(before);
    // Nothing InfluxDB acknowledged was lost with the old container (the provider's delete kills it
    // at once, see providerDelete), and the simulator dropped nothing: by the simulator's first
    // metrics line made after the new container was healthy, every reading it had counted as
    // written is in the bucket (readings confirmed before that line are older than it).
    const healthyAt = Date.now();
    const m = await eventually("a metrics line of the simulator made after the replacement", 60_000, async () => {
      const last = await lastMetrics();
      return last.timeMs > healthyAt ? last : undefined;
    }, 2000);
    const stored = readings(await countsBefore(new Date(m.timeMs + 1).toISOString()));
    expect({ dropped: m.dropped, everyWrittenReadingStored: stored >= m.written }).toEqual({ dropped: 0, everyWrittenReadingStored: true });
    expect(newestBefore).toBeGreaterThan(0);
    return { from: currentImage, to: image, graceSeconds: deleted.graceSeconds, oldExitCode: deleted.exitCode, fromImageId, toImageId, removeSeconds, outageSeconds, writesResumedSeconds: (resumedAt - stoppedAt) / 1000, simulatorWritten: m.written, readingsStored: stored };
  }

  test("upgrade and rollback: replaced by a container from another image (new image id, same volumes and settings) while the simulator writes, and back; the data stays, writes resume without a restart of the simulator, and its counters add up", async () => {
    if (!simulator) throw new Error("the simulator did not start (see above)");
    const simStartedAt = (await simulator.inspect()).State.StartedAt;
    const upgrade = await replaceWhileWriting(nextImage);
    console.log(`upgrade: ${JSON.stringify(upgrade)}`);
    expect(upgrade.toImageId).not.toBe(upgrade.fromImageId);
    const rollback = await replaceWhileWriting(firstImage);
    console.log(`rollback: ${JSON.stringify(rollback)}`);
    expect(rollback.toImageId).toBe(upgrade.fromImageId);
    figures.upgrade = upgrade;
    figures.rollback = rollback;
    // the same simulator process throughout
    const state = (await simulator.inspect()).State;
    expect({ running: state.Running, startedAt: state.StartedAt, restarts: (await simulator.inspect()).RestartCount }).toEqual({ running: true, startedAt: simStartedAt, restarts: 0 });
    const simLog = (await logs(simulator)).stdout.split("\n").filter((l) => /"level":(40|50)/.test(l) || /warn|error/i.test(l));
    figures.simulatorWarningsDuringReplacements = simLog.length;
    console.log(`simulator warnings and errors around the replacements (${simLog.length}):\n${simLog.slice(0, 12).join("\n")}`);
  }, 8 * 60_000);

  test("npm run backup and npm run restore end to end on the real container (stand-in pulumi, real docker CLI): backup, wipe with a new first setup, restore; every point back by device and field, the consumers' tokens work again", async () => {
    if (!simulator || !influx) throw new Error("the simulator or InfluxDB did not start (see above)");
    const box = mkdtempSync(join(tmpdir(), "engine-backup-"));
    try {
      const bin = join(box, "bin");
      mkdirSync(bin);
      // The stand-in pulumi reads the token from a 0600 file of the box: it never sits in an environment or argv.
      writeFileSync(join(box, "operator-token.json"), JSON.stringify(operatorToken), { mode: 0o600 });
      writeFileSync(
        join(bin, "pulumi"),
        `#!/bin/bash\necho "pulumi $*" >> "${box}/pulumi-calls"\ncase "$*" in\n  "stack output influxdbOperatorToken --show-secrets --json --stack ${STACK}") cat "${box}/operator-token.json"; echo ;;\n  *) exit 1 ;;\nesac\n`,
      );
      chmodSync(join(bin, "pulumi"), 0o755);
      const env = { ...dockerEnv(), PATH: `${bin}:${process.env.PATH}`, HOME: box, PULUMI_CONFIG_PASSPHRASE: "engine-tier" };
      const npm = (args: string[]) => {
        const started = Date.now();
        // Started from the box, as an operator starts it from any folder: npm sets INIT_CWD to it, and --out is taken from there.
        const r = spawnSync("npm", ["--prefix", ROOT, "run", "--silent", ...args], { cwd: box, env, encoding: "utf8", timeout: 10 * 60_000 });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (Date.now() - started) / 1000 };
      };

      const cutoff = new Date(Date.now() - 20_000).toISOString();
      const backup = npm(["backup", "--", "--stack", STACK, "--out", "b1"]);
      console.log(`npm run backup (${backup.seconds.toFixed(1)} s): exit ${backup.status}\n${backup.stdout}${backup.stderr}`);
      expect({ status: backup.status, stderr: backup.stderr }).toEqual({ status: 0, stderr: "" });
      const dir = join(box, "b1");
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      for (const f of readdirSync(dir)) expect([f, statSync(join(dir, f)).mode & 0o777]).toEqual([f, 0o600]);
      const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
      expect(manifest.influxdb).toEqual({ version: expect.stringMatching(/^2\.9\.1/), major: 2 });
      expect(backup.stdout + backup.stderr).not.toContain(operatorToken);
      const before = await countsBefore(cutoff);
      expect(readings(before)).toBeGreaterThan(0);
      figures.backup = { seconds: backup.seconds, files: manifest.files.length, bytes: manifest.files.reduce((n: number, f: { size: number }) => n + f.size, 0), points: manifest.data.total };

      // The wipe: the container and its data volume gone, both made anew: a new first setup.
      const dataVolume = scope.name(mountOf("influxdb", "/var/lib/influxdb2"));
      const volumeInfo = await docker.getVolume(dataVolume).inspect();
      await providerDelete(influx);
      await docker.getVolume(dataVolume).remove();
      await docker.createVolume({ Name: dataVolume, Driver: volumeInfo.Driver, Labels: volumeInfo.Labels ?? {} });
      const fresh = await createInflux(firstImage);
      await untilHealthy("influxdb", fresh);
      expect(readings(await countsBefore())).toBe(0);

      const restore = npm(["restore", "--", "--stack", STACK, "--from", "b1"]);
      console.log(`npm run restore (${restore.seconds.toFixed(1)} s): exit ${restore.status}\n${restore.stdout}${restore.stderr}`);
      expect({ status: restore.status, stderr: restore.stderr }).toEqual({ status: 0, stderr: "" });
      expect(restore.stdout + restore.stderr).not.toContain(operatorToken);
      figures.restore = { seconds: restore.seconds };
      const sinceWipe = (await logs(simulator)).stdout.split("\n").filter((l) => /"level":(40|50)/.test(l));
      console.log(`simulator warnings and errors, whole run so far (${sinceWipe.length}), the last ones:\n${sinceWipe.slice(-6).join("\n")}`);
      expect(await countsBefore(cutoff)).toEqual(before);

      // The consumers' tokens as their volumes now hold them: the simulator (restarted by the
      // restore) writes again; Grafana's reads and may not write; the bridge's writes.
      const restoredAt = Date.now();
      await eventually("a reading the simulator wrote after the restore", 120_000, async () => ((await newestReadingMs()) > restoredAt ? true : undefined), 1000);
      const tokenOf = async (consumer: string) => (await volumeContents(deployment, mountOf("influxdb", `/etc/iot/handoff/${consumer}`))).token?.content ?? "";
      const api = (token: string, method: string, path: string, body: string, contentType: string) =>
        dockerCli(
          ["exec", "-i", deployedName("influxdb"), "sh", "-c",
            `read -r t; curl -sS -o /dev/null -w '%{http_code}' --cacert /etc/iot/influxdb/tls/ca.pem -X ${method} -H "Authorization: Token $t" -H 'Content-Type: ${contentType}' --data-binary "$1" "https://localhost:8086${path}"`,
            "sh", body],
          `${token}\n`,
        ).stdout;
      const q = `/api/v2/query?org=${encodeURIComponent(org())}`;
      const w = `/api/v2/write?org=${encodeURIComponent(org())}&bucket=${encodeURIComponent(bucket())}&precision=ns`;
      const flux = `from(bucket: ${JSON.stringify(bucket())}) |> range(start: -1h) |> limit(n: 1)`;
      const probeLine = `${DEFAULT_MEASUREMENT},device=restore-probe,site=engine temperature_c=1 ${Date.now()}000000`;
      const grafana = await tokenOf("grafana");
      const bridge = await tokenOf("bridge");
      const codes = {
        grafanaReads: api(grafana, "POST", q, flux, "application/vnd.flux"),
        grafanaWrites: api(grafana, "POST", w, probeLine, "text/plain"),
        bridgeWrites: api(bridge, "POST", w, probeLine, "text/plain"),
      };
      console.log(`tokens after the restore: ${JSON.stringify(codes)}`);
      expect(codes).toEqual({ grafanaReads: "200", grafanaWrites: "403", bridgeWrites: "204" });
    } finally {
      rmSync(box, { recursive: true, force: true });
    }
  }, 12 * 60_000);

  test("the simulator's counters add up at the end of each of its runs (before the restore stopped it, and after): `docker stop` prints generated = written + dropped", async () => {
    if (!simulator) throw new Error("the simulator did not start");
    const stopped = await stopSimulator();
    const runs = stopped.summaries.map((s) => ({ generated: s.points_generated, written: s.points_written, dropped: s.points_dropped }));
    console.log(`simulator stopped, exit ${stopped.exitCode}; its runs: ${JSON.stringify(runs)}`);
    figures.simulatorRuns = runs;
    if (runs.length === 0) throw new Error(`no "simulator stopped" line:\n${stopped.log.slice(-3000)}`);
    expect(stopped.exitCode).toBe(0);
    for (const r of runs) expect({ ...r, addsUp: r.written + r.dropped === r.generated }).toEqual({ ...r, addsUp: true });
  }, 2 * 60_000);
});
