// InfluxDB tier: npm run backup / restore's own code (tools/influx-backup.ts: the same `influx
// backup` and `influx restore --full` scripts, manifest and checks the tools run in the container)
// against the real influxd and influx CLI. A fleet written by the real simulator is backed up, the
// data wiped the way a rebuilt stack loses it (a fresh data directory and a NEW first setup, with
// the project's scoped-tokens script, so new consumer tokens), restored, and checked: every point
// back by device and field, and the tokens the consumers then hold work. Each refusal leaves the
// target exactly as it was (data, authorizations, the consumers' token files).
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { BackupError, CONSUMERS, makeBackup, MANIFEST, restoreBackup, sha256, summarise, listAuths, type Consumers, type Manifest, type Target } from "../../tools/influx-backup";
import { localShell, localTarget, type LocalShell } from "./support/backup";
import { influx } from "./support/first-setup";
import { fluxQuery, writeLines } from "./support/http";
import { runToExit, simulatorEnv } from "./support/simulator";
import { serverTest, startStack, type Stack } from "./support/stack";
import { influxTier } from "./support/tier";

const FLEET = { SIM_DEVICES: "4", SIM_INTERVAL_MS: "10000", SIM_BACKFILL: "1h", SIM_EXIT_AFTER_BACKFILL: "true", SIM_FAULT_DROPOUT_RATE: "0" };
/** The bridge writes its devices' readings into the same bucket (a device of its own here). */
const BRIDGE_DEVICE = "mqtt-probe";

influxTier("InfluxDB tier: npm run backup and restore on the real influxd", () => {
  const work = mkdtempSync(join(tmpdir(), "backup-restore-"));
  let original: Stack | undefined;
  let rebuilt: Stack | undefined;
  let current: Stack | undefined;
  const s = () => current!;
  let backupDir: string;
  /** a backup of the rebuilt stack after its restore (its consumers' tokens are the ones they hold) */
  let again: string;
  let manifest: Manifest;
  let shellA: LocalShell;
  /** the fleet as Grafana's token reads it from the original, by device and field */
  let fleetCounts: Map<string, number>;

  const handoffToken = (stack: Stack, consumer: string) => readFileSync(stack.server.path(`/etc/iot/handoff/${consumer}/token`), "utf8");
  const countsAsGrafana = async (stack: Stack) => {
    const r = await fluxQuery(stack.server, stack.grafanaToken(), stack.datasource.organization, `from(bucket: ${JSON.stringify(stack.setup.bucket)}) |> range(start: 0) |> group(columns: ["_measurement", "device", "_field"]) |> count()`);
    if (r.error) throw new Error(`Grafana's token cannot read: ${r.error}`);
    return new Map(r.tables.flatMap((t) => t.rows.map((row) => [`${row._measurement}|${row.device ?? ""}|${row._field}`, Number(row._value)] as [string, number])));
  };
  const noConsumers = (): Consumers & { calls: string[] } => {
    const calls: string[] = [];
    return { calls, stop: async () => void calls.push("stop"), start: async () => void calls.push("start") };
  };

  beforeAll(async () => {
    original = current = await startStack();
    const run = await runToExit(simulatorEnv(original, FLEET), 60_000);
    if (run.code !== 0) throw new Error(`the simulator exited with ${run.code}: ${original.server.redact(run.sim.output().slice(-2000))}`);
    const bridge = handoffToken(original, "bridge");
    original.server.addSecret(bridge);
    const now = Date.now();
    const lines = [0, 1, 2].map((i) => `sensor_readings,device=${BRIDGE_DEVICE},site=probe temperature_c=${20 + i} ${now - i * 1000}`).join("\n");
    const wrote = await writeLines(original.server, bridge, original.setup.org, original.setup.bucket, lines);
    if (wrote.status !== 204) throw new Error(`the bridge's token could not write: ${wrote.status} ${wrote.body}`);
    fleetCounts = await countsAsGrafana(original);
    shellA = localShell(original);
    backupDir = join(work, "backup");
    manifest = (await makeBackup(localTarget(original, shellA), backupDir)).manifest;
  }, 120_000);

  afterAll(async () => {
    await original?.stop();
    await rebuilt?.stop();
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  serverTest("the backup is a new folder (0700) of files (0600) that influx backup wrote, and the manifest that describes them", () => current, async () => {
    expect(statSync(backupDir).mode & 0o777).toBe(0o700);
    const names = readdirSync(backupDir).sort();
    expect(names).toEqual([...manifest.files.map((f) => f.name), MANIFEST].sort());
    for (const name of names) expect([name, statSync(join(backupDir, name)).mode & 0o777]).toEqual([name, 0o600]);
    // influx backup's own layout: its manifest, the KV store (bolt), the SQL store, one archive per shard
    expect(names.some((n) => /\.bolt\.gz$/.test(n))).toBe(true);
    expect(names.some((n) => /\.sqlite\.gz$/.test(n))).toBe(true);
    expect(names.some((n) => /\.tar\.gz$/.test(n))).toBe(true);
    for (const f of manifest.files) {
      const content = readFileSync(join(backupDir, f.name));
      expect([f.name, content.length, sha256(content)]).toEqual([f.name, f.size, f.sha256]);
    }
    // nothing left behind in InfluxDB's backups volume
    expect(readdirSync(s().server.path("/var/lib/influxdb2-backups"))).toEqual([]);
  });

  serverTest("the manifest: stack, InfluxDB version, org and buckets with ids, time range, the count by device and field", () => current, async () => {
    const stack = s();
    const influxdVersion = execFileSync(join(__dirname, "..", "..", ".cache", "upstream", "bin", "influxd"), ["version"], { encoding: "utf8" });
    expect(influxdVersion).toContain(`InfluxDB v${manifest.influxdb.version} `);
    expect(manifest).toMatchObject({ stack: "dev", influxdb: { major: 2 }, org: { name: stack.setup.org, id: stack.setup.ids.org }, bucket: stack.setup.bucket });
    expect(manifest.buckets).toContainEqual(expect.objectContaining({ name: stack.setup.bucket, id: stack.setup.ids.bucket, orgID: stack.setup.ids.org }));
    const byKey = new Map(manifest.data.bySeries.map((c) => [`${c.measurement}|${c.device}|${c.field}`, c.count]));
    expect(byKey).toEqual(fleetCounts);
    expect(manifest.data.bySeries.some((c) => c.device === BRIDGE_DEVICE)).toBe(true);
    expect(new Set(manifest.data.bySeries.map((c) => c.device)).size).toBeGreaterThanOrEqual(5);
    expect(Date.parse(manifest.data.last!) - Date.parse(manifest.data.first!)).toBeGreaterThan(50 * 60_000);
    expect(manifest.operatorTokenSha256).toBe(sha256(stack.setup.operatorToken!));
    for (const c of CONSUMERS) expect(manifest.consumerTokensSha256[c]).toBe(sha256(handoffToken(stack, c)));
  });

  serverTest("the operator token is never in argv, an environment, the manifest, or influx backup's files", () => current, async () => {
    const token = s().setup.operatorToken!;
    expect(shellA.runs.length).toBeGreaterThan(5);
    for (const run of shellA.runs) {
      expect(run.argv.join(" ")).not.toContain(token);
      expect(Object.values(run.env).join(" ")).not.toContain(token);
    }
    // it travels on stdin only, to the scripts that call influx
    expect(shellA.runs.filter((r) => r.stdin.includes(token)).length).toBeGreaterThan(0);
    expect(readFileSync(join(backupDir, MANIFEST), "utf8")).not.toContain(token);
    // InfluxDB 2.9 keeps token hashes: the KV snapshot holds no token in plain text (gunzipped)
    for (const f of manifest.files.filter((file) => /\.(bolt|sqlite)\.gz$/.test(file.name))) {
      const plain = gunzipSync(readFileSync(join(backupDir, f.name)));
      for (const secret of [token, ...CONSUMERS.map((c) => handoffToken(s(), c))]) expect([f.name, plain.includes(Buffer.from(secret))]).toEqual([f.name, false]);
    }
  });

  serverTest(
    "wiped and rebuilt (new data directory, new first setup, new consumer tokens), restored: every point back, and the tokens the consumers then hold work",
    () => current,
    async () => {
      const before = { simulator: handoffToken(original!, "simulator"), grafana: handoffToken(original!, "grafana"), bridge: handoffToken(original!, "bridge") };
      await original!.stop();
      rebuilt = current = await startStack(original!.decl);
      const fresh = Object.fromEntries(CONSUMERS.map((c) => [c, handoffToken(rebuilt!, c)]));
      for (const c of CONSUMERS) expect(fresh[c]).not.toBe(before[c]); // a new first setup made new tokens
      expect((await summarise(localShell(rebuilt), localTarget(rebuilt, localShell(rebuilt)).paths, rebuilt.setup.operatorToken!, rebuilt.setup.org, rebuilt.setup.bucket)).total).toBe(0);

      const consumers = noConsumers();
      const shell = localShell(rebuilt);
      const lines: string[] = [];
      const result = await restoreBackup(localTarget(rebuilt, shell), backupDir, { force: false, consumers, log: (l) => lines.push(l) });
      expect(consumers.calls).toEqual(["stop", "start"]);
      expect(result.tokensReissued).toBe(true);

      // every point back, by device and field, as Grafana's (new) token reads it
      expect(await countsAsGrafana(rebuilt)).toEqual(fleetCounts);
      expect(result.data.bySeries).toEqual(manifest.data.bySeries);
      expect([result.data.first, result.data.last]).toEqual([manifest.data.first, manifest.data.last]);
      // the bucket came back with its id, which the scoped tokens name
      expect(await bucketId(rebuilt)).toBe(original!.setup.ids.bucket);

      const held = Object.fromEntries(CONSUMERS.map((c) => [c, handoffToken(rebuilt!, c)]));
      for (const c of CONSUMERS) {
        rebuilt.server.addSecret(held[c]);
        expect(held[c]).not.toBe(fresh[c]);
        expect(held[c]).toMatch(/^[A-Za-z0-9_-]{86}==$/);
        expect(statSync(rebuilt.server.path(`/etc/iot/handoff/${c}/token`)).mode & 0o777).toBe(0o444);
      }
      const at = Date.now();
      for (const writer of ["simulator", "bridge"]) {
        const r = await writeLines(rebuilt.server, held[writer], rebuilt.setup.org, rebuilt.setup.bucket, `restore_probe,device=${writer} value=1 ${at}`);
        expect([writer, r.status]).toEqual([writer, 204]);
      }
      const read = await fluxQuery(rebuilt.server, held.grafana, rebuilt.setup.org, `from(bucket: ${JSON.stringify(rebuilt.setup.bucket)}) |> range(start: -1h) |> filter(fn: (r) => r._measurement == "restore_probe") |> count()`);
      expect(read.error).toBeUndefined();
      expect(read.tables.flatMap((t) => t.rows.map((r) => [r.device, r._value])).sort()).toEqual([["bridge", "1"], ["simulator", "1"]]);
      // the backup's scoped authorizations (whose values no volume holds now) are gone; three new ones remain
      const scoped = (await listAuths(shell, localTarget(rebuilt, shell).paths, rebuilt.setup.operatorToken!)).filter((a) => CONSUMERS.some((c) => a.description.startsWith(`${c}: `)));
      expect(scoped.map((a) => a.description.split(":")[0]).sort()).toEqual([...CONSUMERS].sort());
      // the consumers' old tokens, from the wiped stack and from the rebuilt one's first setup, no longer work
      for (const old of [before.simulator, fresh.simulator]) {
        expect((await writeLines(rebuilt.server, old, rebuilt.setup.org, rebuilt.setup.bucket, `restore_probe,device=old value=1 ${at}`)).status).toBe(401);
      }
      expect(lines.join("\n")).not.toContain(rebuilt.setup.operatorToken!);
      for (const run of shell.runs) expect(run.argv.join(" ") + Object.values(run.env).join(" ")).not.toContain(rebuilt.setup.operatorToken!);
    },
    180_000,
  );

  serverTest("restored into the stack it came from (--force): the consumers keep their tokens", () => current, async () => {
    const stack = s();
    const shell = localShell(stack);
    const target = localTarget(stack, shell);
    again = join(work, "again");
    await makeBackup(target, again);
    const held = Object.fromEntries(CONSUMERS.map((c) => [c, handoffToken(stack, c)]));
    const later = Date.now();
    expect((await writeLines(stack.server, held.simulator, stack.setup.org, stack.setup.bucket, `after_backup,device=late value=1 ${later}`)).status).toBe(204);
    const result = await restoreBackup(target, again, { force: true, consumers: noConsumers() });
    expect(result.tokensReissued).toBe(false);
    for (const c of CONSUMERS) expect(handoffToken(stack, c)).toBe(held[c]);
    expect((await writeLines(stack.server, held.bridge, stack.setup.org, stack.setup.bucket, `restore_probe,device=kept value=2 ${later}`)).status).toBe(204);
    // the point written after the backup is gone: a full restore replaces the data
    const late = await fluxQuery(stack.server, held.grafana, stack.setup.org, `from(bucket: ${JSON.stringify(stack.setup.bucket)}) |> range(start: -1h) |> filter(fn: (r) => r._measurement == "after_backup")`);
    expect([late.error, late.rowCount]).toEqual([undefined, 0]);
  }, 120_000);

  // --- refusals: one line, nothing changed -------------------------------------------------------

  /** Everything a restore could change: the data by series, the authorizations, the consumers' token files, the backups volume. */
  const snapshot = async (stack: Stack) => {
    const shell = localShell(stack);
    const target = localTarget(stack, shell);
    return {
      data: await summarise(shell, target.paths, target.operatorToken, target.org, target.bucket),
      auths: (await listAuths(shell, target.paths, target.operatorToken)).map((a) => `${a.id} ${a.description}`).sort(),
      tokens: CONSUMERS.map((c) => sha256(handoffToken(stack, c))),
      staged: readdirSync(stack.server.path("/var/lib/influxdb2-backups")),
    };
  };

  /** A copy of the backup, changed by `damage`. */
  const damaged = (name: string, damage: (dir: string) => void) => {
    const dir = join(work, name);
    cpSync(backupDir, dir, { recursive: true });
    damage(dir);
    return dir;
  };
  const editManifest = (dir: string, edit: (m: any) => void) => {
    const m = JSON.parse(readFileSync(join(dir, MANIFEST), "utf8"));
    edit(m);
    writeFileSync(join(dir, MANIFEST), JSON.stringify(m));
  };

  const refusals: Array<[string, () => string, boolean, RegExp]> = [
    ["no manifest", () => damaged("no-manifest", (d) => rmSync(join(d, MANIFEST))), true, /manifest\.json is missing/],
    ["a file missing", () => damaged("missing", (d) => rmSync(join(d, manifest.files.find((f) => f.name.endsWith(".tar.gz"))!.name))), true, /\.tar\.gz is missing \(listed in the manifest\)/],
    [
      "a flipped byte",
      () =>
        damaged("flipped", (d) => {
          const path = join(d, manifest.files.find((f) => f.name.endsWith(".bolt.gz"))!.name);
          const bytes = readFileSync(path);
          bytes[Math.floor(bytes.length / 2)] ^= 0x01;
          writeFileSync(path, bytes);
        }),
      true,
      /\.bolt\.gz has SHA-256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}: the file is damaged/,
    ],
    ["an extra file", () => damaged("extra", (d) => writeFileSync(join(d, "notes.txt"), "x")), true, /notes\.txt is not in the manifest/],
    ["another InfluxDB major version", () => damaged("v3", (d) => editManifest(d, (m) => ((m.influxdb.version = "3.0.0"), (m.influxdb.major = 3)))), true, /the backup is of InfluxDB 3\.0\.0, the stack runs 2\.\d+\.\d+: a backup restores only into the same major version/],
    ["another operator token (a stack rebuilt with new credentials), without --force", () => damaged("operator", (d) => editManifest(d, (m) => (m.operatorTokenSha256 = sha256("another operator token")))), false, /^the backup was made with another operator token than stack dev's \(fingerprint [0-9a-f]{12}…, the stack's [0-9a-f]{12}…\): the stack was rebuilt with new credentials; add --force/],
    ["a target that holds data, without --force", () => backupDir, false, /bucket \S+ of stack dev already holds data: a full restore replaces all of it; add --force/],
  ];

  for (const [name, folder, force, message] of refusals) {
    serverTest(`refused: ${name}; one line, and nothing changed`, () => current, async () => {
      const stack = s();
      const dir = folder();
      const before = await snapshot(stack);
      expect(before.data.total).toBeGreaterThan(0);
      const consumers = noConsumers();
      const error = await restoreBackup(localTarget(stack, localShell(stack)), dir, { force, consumers }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error).toBeInstanceOf(BackupError);
      expect(error!.message).toMatch(message);
      expect(error!.message).not.toContain("\n");
      expect(consumers.calls).toEqual([]);
      expect(await snapshot(stack)).toEqual(before);
    });
  }

  serverTest("the bucket deleted by mistake: restored without --force, the consumers keep their tokens and see the data again", () => current, async () => {
    const stack = s();
    const shell = localShell(stack);
    const deleted = await influx(stack.setup, ["bucket", "delete", "--name", stack.setup.bucket, "--org", stack.setup.org]);
    expect(deleted.status).toBe(0);
    const held = Object.fromEntries(CONSUMERS.map((c) => [c, handoffToken(stack, c)]));
    const result = await restoreBackup(localTarget(stack, shell), again, { force: false, consumers: noConsumers() });
    expect(result.tokensReissued).toBe(false);
    for (const c of CONSUMERS) expect(handoffToken(stack, c)).toBe(held[c]);
    const expected = JSON.parse(readFileSync(join(again, MANIFEST), "utf8")) as Manifest;
    const byKey = new Map(expected.data.bySeries.map((c) => [`${c.measurement}|${c.device}|${c.field}`, c.count]));
    expect(await countsAsGrafana(stack)).toEqual(byKey);
    expect((await writeLines(stack.server, held.simulator, stack.setup.org, stack.setup.bucket, `restore_probe,device=after-delete value=1 ${Date.now()}`)).status).toBe(204);
  }, 120_000);

  serverTest(
    "rebuilt with new credentials, --force: the bucket alone restored under the stack's own operator token, every point back, the consumers' new tokens work",
    () => current,
    async () => {
      const stack = s();
      // the stack's operator token is now another one than the backup was made with
      const created = await influx(stack.setup, ["auth", "create", "--operator", "--description", "rebuilt stack's operator", "--json"]);
      expect(created.status).toBe(0);
      const newOperator = JSON.parse(created.stdout).token as string;
      stack.server.addSecret(newOperator);
      const shell = localShell(stack);
      const target = { ...localTarget(stack, shell), operatorToken: newOperator };
      const lines: string[] = [];
      const result = await restoreBackup(target, backupDir, { force: true, consumers: noConsumers(), log: (l) => lines.push(l) });
      expect(lines.join("\n")).toContain("restored bucket sensors alone under stack dev's credentials");
      expect(result.tokensReissued).toBe(true);
      expect(await countsAsGrafana(stack)).toEqual(fleetCounts);
      expect(result.data.bySeries).toEqual(manifest.data.bySeries);
      // the stack's credentials still hold: its operator token reads, the consumers' new tokens write
      expect((await summarise(shell, target.paths, newOperator, stack.setup.org, stack.setup.bucket)).total).toBe(manifest.data.total);
      for (const writer of ["simulator", "bridge"]) {
        const token = handoffToken(stack, writer);
        stack.server.addSecret(token);
        expect([writer, (await writeLines(stack.server, token, stack.setup.org, stack.setup.bucket, `restore_probe,device=${writer}-bucket value=1 ${Date.now()}`)).status]).toEqual([writer, 204]);
      }
      expect(await bucketId(stack)).not.toBe(original!.setup.ids.bucket); // a per-bucket restore makes a new bucket
      for (const run of shell.runs) expect(run.argv.join(" ") + Object.values(run.env).join(" ")).not.toContain(newOperator);
    },
    120_000,
  );

  serverTest("a backup never overwrites: --out that exists is refused before anything runs", () => current, async () => {
    const shell = localShell(s());
    await expect(makeBackup(localTarget(s(), shell), backupDir)).rejects.toThrow(/already exists: give a new folder/);
    expect(shell.runs).toEqual([]);
    expect(existsSync(join(backupDir, MANIFEST))).toBe(true);
  });
});

async function bucketId(stack: Stack): Promise<string> {
  const shell = localShell(stack);
  const target: Target = localTarget(stack, shell);
  const { listBuckets } = await import("../../tools/influx-backup");
  return (await listBuckets(shell, target.paths, target.operatorToken, target.org)).find((b) => b.name === target.bucket)!.id;
}
