// What npm run backup and npm run restore run, apart from how they reach InfluxDB.
//
// Every step that touches InfluxDB is a POSIX sh script run next to influxd with `sh -c SCRIPT sh
// ARGS...`: in the stack, inside the InfluxDB container through `docker exec -i` (tools/backup.ts,
// tools/restore.ts); in the InfluxDB tier, as a local process next to the real influxd
// (test/influxdb/backup-restore.test.ts). The scripts, the manifest and every check are the same
// in both: only the Shell (how a script is run) and the Paths (where things are) differ.
//
// The operator token only ever travels on a script's standard input. The script reads it into a
// shell variable and passes it as INFLUX_TOKEN to the one `influx` process that needs it (a
// command-prefix assignment, which the shell exports to that command alone): never in argv, never
// in `docker exec -e`, never in the container's configured environment, never in a file.
import { createHash } from "node:crypto";
import { spawn } from "node:child_process";
import { chmodSync, closeSync, existsSync, fsyncSync, lstatSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A refusal or failure the operator can act on: printed as one line, exit status 1. */
export class BackupError extends Error {}

// --- how a script runs ---------------------------------------------------------------------------

export interface ShellResult {
  status: number | null;
  stdout: Buffer;
  stderr: string;
  /** set when the runner itself could not start (e.g. docker missing) */
  error?: string;
}

/** What a script reads: bytes, or a file streamed (a backup's files can be large: never held in memory). */
export type Input = Buffer | string | { fromFile: string };

/**
 * Runs `sh -c script sh ...args` where InfluxDB is, with `stdin` on its standard input; its
 * standard output collected, or streamed into a new file (mode 0600) when `stdoutFile` is given.
 */
export interface Shell {
  run(script: string, args: string[], stdin?: Input, timeoutMs?: number, stdoutFile?: string): Promise<ShellResult>;
}

/** Spawns a command, feeds stdin, collects stdout as bytes (or streams it into stdoutFile); never throws. */
export function spawnCollect(command: string, args: string[], stdin: Input | undefined, env: NodeJS.ProcessEnv, timeoutMs: number, stdoutFile?: string): Promise<ShellResult> {
  return new Promise((resolve) => {
    const inFd = typeof stdin === "object" && !Buffer.isBuffer(stdin) ? openSync(stdin.fromFile, "r") : undefined;
    const outFd = stdoutFile !== undefined ? openSync(stdoutFile, "wx", 0o600) : undefined;
    const child = spawn(command, args, { env, stdio: [inFd ?? "pipe", outFd ?? "pipe", "pipe"] });
    if (inFd !== undefined) closeSync(inFd);
    if (outFd !== undefined) closeSync(outFd);
    const out: Buffer[] = [];
    let stderr = "";
    let error: string | undefined;
    const timer = setTimeout(() => {
      error = `${command}: still running after ${timeoutMs} ms, stopped`;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stdout?.on("data", (c: Buffer) => out.push(c));
    child.stderr?.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.on("error", (e) => (error = `${command}: ${e.message}`));
    // a script that exits before reading all of stdin closes the pipe: not an error of ours
    child.stdin?.on("error", () => undefined);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ status: error ? null : code, stdout: Buffer.concat(out), stderr, error });
    });
    if (inFd === undefined) child.stdin?.end((stdin as Buffer | string | undefined) ?? "");
  });
}

/** `docker exec -i CONTAINER sh -c ...`: runs as the container's user (influxdb, 1000), with the container's environment. */
export function dockerShell(container: string, env: NodeJS.ProcessEnv = process.env): Shell {
  return {
    run: (script, args, stdin, timeoutMs = 60 * 60_000, stdoutFile) => spawnCollect("docker", ["exec", "-i", container, "sh", "-c", script, "sh", ...args], stdin, env, timeoutMs, stdoutFile),
  };
}

// --- where things are ----------------------------------------------------------------------------

export interface Paths {
  /** the InfluxDB API as seen from where the scripts run */
  host: string;
  /** the CA certificate to verify it with (SSL_CERT_FILE, which Go's crypto/x509 reads on Linux); none for plain HTTP */
  caFile?: string;
  /** a writable folder of InfluxDB's own: the backups volume */
  backupRoot: string;
  /** the consumers' token volumes, one folder per consumer (components/influxdb.ts HANDOFF_DIR) */
  handoffDir: string;
  /** the project's scoped-tokens script as staged for first setup (components/assets/influxdb-scoped-tokens.sh) */
  scopedTokensScript: string;
}

/** Inside the stack's InfluxDB container (components/influxdb.ts). */
export function containerPaths(tls: boolean): Paths {
  return {
    host: `${tls ? "https" : "http"}://localhost:8086`,
    caFile: tls ? "/etc/iot/influxdb/tls/ca.pem" : undefined,
    backupRoot: BACKUPS_MOUNT,
    handoffDir: "/etc/iot/handoff",
    scopedTokensScript: "/docker-entrypoint-initdb.d/10-scoped-tokens.sh",
  };
}

/** Where components/influxdb.ts mounts the backups volume. */
export const BACKUPS_MOUNT = "/var/lib/influxdb2-backups";

/** The consumers holding a scoped token, and the description prefix the scoped-tokens script gives theirs. */
export const CONSUMERS = ["simulator", "grafana", "bridge"] as const;
export type Consumer = (typeof CONSUMERS)[number];

// --- the scripts (what runs) ---------------------------------------------------------------------

/**
 * Reads the token from stdin into $token (a last line without a newline counts) and defines
 * `with_token CMD...`, which runs one command with INFLUX_TOKEN, INFLUX_HOST and SSL_CERT_FILE set
 * for it alone. $1 host, $2 CA file ("" for none); the script's own arguments start at $3.
 */
const PREAMBLE = `set -eu
umask 077
token=
IFS= read -r token || [ -n "$token" ]
[ -n "$token" ] || { echo "no token on stdin" >&2; exit 64; }
host=$1 ca=$2
shift 2
with_token() {
  if [ -n "$ca" ]; then INFLUX_TOKEN=$token INFLUX_HOST=$host SSL_CERT_FILE=$ca "$@"; else INFLUX_TOKEN=$token INFLUX_HOST=$host "$@"; fi
}
`;

export interface Script {
  script: string;
  args: string[];
}

const withPaths = (paths: Paths, body: string, args: string[]): Script => ({ script: PREAMBLE + body, args: [paths.host, paths.caFile ?? "", ...args] });

/** `influx backup` into a new folder; prints "<size> <name>" per file it wrote. */
export function backupScript(paths: Paths, folder: string): Script {
  return withPaths(
    paths,
    `dir=$1
[ ! -e "$dir" ] || { echo "$dir already exists" >&2; exit 65; }
with_token influx backup "$dir" >&2
cd "$dir"
for f in *; do [ -f "$f" ] && printf '%s %s\\n' "$(wc -c < "$f" | tr -d ' ')" "$f"; done
`,
    [`${paths.backupRoot}/${folder}`],
  );
}

/** `influx restore --full` from a folder; its log goes to stderr. */
export function restoreScript(paths: Paths, folder: string): Script {
  return withPaths(paths, `with_token influx restore --full "$1" >&2\n`, [`${paths.backupRoot}/${folder}`]);
}

/**
 * The stack's bucket alone, from a backup made under other credentials: the (empty or --force'd)
 * bucket of that name is deleted, then `influx restore --bucket` makes it anew in the org of the
 * same name. $3 org, $4 bucket.
 */
export function bucketRestoreScript(paths: Paths, folder: string, org: string, bucket: string): Script {
  return withPaths(
    paths,
    `dir=$1 org=$2 bucket=$3
if with_token influx bucket list --org "$org" --name "$bucket" --hide-headers >/dev/null 2>&1; then
  with_token influx bucket delete --org "$org" --name "$bucket" >/dev/null
fi
with_token influx restore "$dir" --org "$org" --bucket "$bucket" >&2
`,
    [`${paths.backupRoot}/${folder}`, org, bucket],
  );
}

/** A Flux query, answered as annotated CSV (`influx query --raw`). */
export function queryScript(paths: Paths, org: string, flux: string): Script {
  return withPaths(paths, `with_token influx query --org "$1" --raw "$2"\n`, [org, flux]);
}

/** The org's buckets as JSON. */
export function bucketsScript(paths: Paths, org: string): Script {
  return withPaths(paths, `with_token influx bucket list --org "$1" --json\n`, [org]);
}

/** Every authorization as JSON (InfluxDB 2.9 lists them without their token values). */
export function authListScript(paths: Paths): Script {
  return withPaths(paths, `with_token influx auth list --json\n`, []);
}

/**
 * The consumers' scoped tokens made anew for the restored bucket and handed to their token
 * volumes, by the same script first setup runs (so the same descriptions and permissions):
 * the backup's own scoped authorizations, whose values no file of this stack holds, are deleted
 * first. $3 org id, $4 bucket id, $5 bucket name, then the ids to delete.
 */
export function reissueTokensScript(paths: Paths, orgId: string, bucketId: string, bucket: string, deleteIds: string[]): Script {
  return withPaths(
    paths,
    `org_id=$1 bucket_id=$2 bucket=$3
shift 3
for id in "$@"; do with_token influx auth delete --id "$id" >/dev/null; done
with_token env HANDOFF_DIR="${paths.handoffDir}" DOCKER_INFLUXDB_INIT_ORG_ID="$org_id" DOCKER_INFLUXDB_INIT_BUCKET_ID="$bucket_id" DOCKER_INFLUXDB_INIT_BUCKET="$bucket" "${paths.scopedTokensScript}" >&2
`,
    [orgId, bucketId, bucket, ...deleteIds],
  );
}

/** `influxd version`'s first line (no token needed). */
export const VERSION_SCRIPT: Script = { script: "influxd version | head -n 1\n", args: [] };

/** SHA-256 of each consumer's token file, "-" for a missing one: which tokens the consumers hold, without reading them out. */
export function consumerFingerprintsScript(paths: Paths): Script {
  return {
    script: `for c in "$@"; do f="${paths.handoffDir}/$c/token"; if [ -f "$f" ]; then printf '%s %s\\n' "$c" "$(sha256sum < "$f" | cut -d' ' -f1)"; else printf '%s -\\n' "$c"; fi; done\n`,
    args: [...CONSUMERS],
  };
}

/** Prints a file of the backups volume to stdout. */
export function readFileScript(paths: Paths, folder: string, name: string): Script {
  return { script: `cat "$1"\n`, args: [`${paths.backupRoot}/${folder}/${name}`] };
}

/** Writes stdin to a file of the backups volume (0600, owned by whoever runs it: influxd's user in the stack). */
export function writeFileScript(paths: Paths, folder: string, name: string): Script {
  return { script: `set -eu\numask 077\nmkdir -p "$1"\ncat > "$1/$2"\n`, args: [`${paths.backupRoot}/${folder}`, name] };
}

/** Removes a folder of the backups volume. */
export function removeFolderScript(paths: Paths, folder: string): Script {
  return { script: `rm -rf -- "$1"\n`, args: [`${paths.backupRoot}/${folder}`] };
}

/** Runs a script, with the token on stdin when given; a failure becomes one line naming the step. */
export async function runStep(shell: Shell, step: string, s: Script, token?: string, input?: Input, timeoutMs?: number, stdoutFile?: string): Promise<Buffer> {
  const r = await shell.run(s.script, s.args, token !== undefined ? `${token}\n` : input, timeoutMs, stdoutFile);
  if (r.status !== 0) {
    const lines = r.stderr.split("\n").map((l) => l.trim()).filter(Boolean);
    const reason = r.error ?? lines.filter((l) => /error/i.test(l)).pop() ?? lines.pop() ?? `exit status ${r.status}`;
    throw new BackupError(`${step} failed: ${redact(reason, token)}`);
  }
  return r.stdout;
}

function redact(text: string, token?: string): string {
  return token && token.length >= 8 ? text.split(token).join("<redacted>") : text;
}

// --- reading InfluxDB ----------------------------------------------------------------------------

/** Flux's time bounds: every point InfluxDB can hold. */
const ALL_TIME = "range(start: 1970-01-01T00:00:00Z, stop: 2262-04-11T00:00:00Z)";

const fluxString = (s: string) => JSON.stringify(s);

/** Points per measurement, device tag and field, over all time. */
export function countFlux(bucket: string): string {
  return `from(bucket: ${fluxString(bucket)}) |> ${ALL_TIME} |> group(columns: ["_measurement", "device", "_field"]) |> count()`;
}

/** The first and last point's time, per series (each series comes out of storage in time order). */
export function boundFlux(bucket: string, selector: "first" | "last"): string {
  return `from(bucket: ${fluxString(bucket)}) |> ${ALL_TIME} |> ${selector}() |> keep(columns: ["_time"]) |> group()`;
}

/** Whether the bucket holds any point: one row per series at most, stopped at the first. */
export function anyPointFlux(bucket: string): string {
  return `from(bucket: ${fluxString(bucket)}) |> ${ALL_TIME} |> limit(n: 1) |> keep(columns: ["_time"]) |> group() |> limit(n: 1)`;
}

/** Annotated CSV (`influx query --raw`) to rows by column name; annotation rows and repeated headers skipped. */
export function parseAnnotatedCsv(csv: string): Array<Record<string, string>> {
  const rows: Array<Record<string, string>> = [];
  let header: string[] | undefined;
  for (const line of csv.split(/\r?\n/)) {
    if (line === "") {
      header = undefined;
      continue;
    }
    const cells = splitCsvLine(line);
    if (cells[0]?.startsWith("#")) continue;
    if (!header) {
      header = cells;
      continue;
    }
    if (cells.join(",") === header.join(",")) continue;
    rows.push(Object.fromEntries(header.map((name, i) => [name, cells[i] ?? ""])));
  }
  return rows;
}

function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted && ch === '"' && line[i + 1] === '"') {
      cell += '"';
      i++;
    } else if (ch === '"') {
      quoted = !quoted;
    } else if (ch === "," && !quoted) {
      cells.push(cell);
      cell = "";
    } else {
      cell += ch;
    }
  }
  cells.push(cell);
  return cells;
}

export interface SeriesCount {
  measurement: string;
  /** the device tag ("" for points without one) */
  device: string;
  field: string;
  count: number;
}

export interface DataSummary {
  total: number;
  bySeries: SeriesCount[];
  /** RFC 3339; null for an empty bucket */
  first: string | null;
  last: string | null;
}

const seriesKey = (s: Pick<SeriesCount, "measurement" | "device" | "field">) => `${s.measurement}|${s.device}|${s.field}`;

export async function summarise(shell: Shell, paths: Paths, token: string, org: string, bucket: string): Promise<DataSummary> {
  const query = async (flux: string) => parseAnnotatedCsv((await runStep(shell, "influx query", queryScript(paths, org, flux), token)).toString("utf8"));
  const bySeries = (await query(countFlux(bucket)))
    .map((r) => ({ measurement: r._measurement, device: r.device ?? "", field: r._field, count: Number(r._value) }))
    .sort((a, b) => seriesKey(a).localeCompare(seriesKey(b)));
  const times = async (selector: "first" | "last") => (await query(boundFlux(bucket, selector))).map((r) => r._time).filter(Boolean).sort();
  const firsts = await times("first");
  const lasts = await times("last");
  return { total: bySeries.reduce((n, s) => n + s.count, 0), bySeries, first: firsts[0] ?? null, last: lasts[lasts.length - 1] ?? null };
}

export async function holdsData(shell: Shell, paths: Paths, token: string, org: string, bucket: string): Promise<boolean> {
  const out = await runStep(shell, "influx query", queryScript(paths, org, anyPointFlux(bucket)), token);
  return parseAnnotatedCsv(out.toString("utf8")).length > 0;
}

/** "InfluxDB v2.9.1 (git: …) build_date: …" → "2.9.1" */
export function parseVersion(line: string): string {
  const version = /InfluxDB\s+v?(\d+\.\d+\.\d+\S*)/.exec(line)?.[1];
  if (!version) throw new BackupError(`cannot read InfluxDB's version from 'influxd version': ${line.trim().slice(0, 120)}`);
  return version;
}

export const major = (version: string) => Number(version.split(".")[0]);

export async function influxdVersion(shell: Shell): Promise<string> {
  return parseVersion((await runStep(shell, "influxd version", VERSION_SCRIPT)).toString("utf8"));
}

export interface BucketInfo {
  name: string;
  id: string;
  orgID: string;
  retentionSeconds: number;
}

export async function listBuckets(shell: Shell, paths: Paths, token: string, org: string): Promise<BucketInfo[]> {
  const json = JSON.parse((await runStep(shell, "influx bucket list", bucketsScript(paths, org), token)).toString("utf8")) as Array<Record<string, any>>;
  return json.map((b) => ({ name: b.name, id: b.id, orgID: b.orgID, retentionSeconds: Number(b.retentionRules?.[0]?.everySeconds ?? 0) }));
}

export interface AuthInfo {
  id: string;
  description: string;
  permissions: string[];
}

export async function listAuths(shell: Shell, paths: Paths, token: string): Promise<AuthInfo[]> {
  const json = JSON.parse((await runStep(shell, "influx auth list", authListScript(paths), token)).toString("utf8")) as Array<Record<string, any>>;
  return json.map((a) => ({ id: a.id, description: a.description ?? "", permissions: a.permissions ?? [] }));
}

export async function consumerFingerprints(shell: Shell, paths: Paths): Promise<Record<Consumer, string | null>> {
  const out = (await runStep(shell, "reading the consumers' token fingerprints", consumerFingerprintsScript(paths))).toString("utf8");
  const result = Object.fromEntries(CONSUMERS.map((c) => [c, null])) as Record<Consumer, string | null>;
  for (const line of out.split("\n")) {
    const [consumer, digest] = line.trim().split(" ");
    if ((CONSUMERS as readonly string[]).includes(consumer) && /^[0-9a-f]{64}$/.test(digest ?? "")) result[consumer as Consumer] = digest;
  }
  return result;
}

// --- the manifest --------------------------------------------------------------------------------

export const MANIFEST = "manifest.json";
export const MANIFEST_FORMAT = "secure-iot-influxdb-backup/1";

export interface BackupFile {
  name: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  stack: string;
  createdAt: string;
  influxdb: { version: string; major: number };
  org: { name: string; id: string };
  /** the stack's bucket, the one the consumers' tokens are for */
  bucket: string;
  buckets: BucketInfo[];
  /** the stack bucket's data at backup time */
  data: DataSummary;
  files: BackupFile[];
  /** SHA-256 (hex) of the operator token the backup was made with: a fingerprint, not the token */
  operatorTokenSha256: string;
  /** SHA-256 of each consumer's token file when the backup was made (null: none) */
  consumerTokensSha256: Record<Consumer, string | null>;
}

export const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

/** Size and SHA-256 of a file, read in chunks. */
export function fileDigest(path: string): BackupFile {
  const hash = createHash("sha256");
  const chunk = Buffer.alloc(1 << 20);
  const fd = openSync(path, "r");
  let size = 0;
  try {
    for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0; size += n) hash.update(chunk.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return { name: path.split("/").pop()!, size, sha256: hash.digest("hex") };
}

/** Reads and checks manifest.json's shape: one line for what is wrong. */
export function readManifest(dir: string): Manifest {
  const path = join(dir, MANIFEST);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new BackupError(`--from ${dir}: no such folder`);
  if (!existsSync(path)) throw new BackupError(`${path} is missing: not a backup made by npm run backup`);
  let m: any;
  try {
    m = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new BackupError(`${path} is not readable JSON: ${(error as Error).message}`);
  }
  const bad = (what: string) => new BackupError(`${path}: ${what}`);
  if (m?.format !== MANIFEST_FORMAT) throw bad(`format is ${JSON.stringify(m?.format)}, expected ${MANIFEST_FORMAT}`);
  if (typeof m.influxdb?.version !== "string" || !Number.isInteger(m.influxdb?.major)) throw bad("influxdb.version/major missing");
  if (typeof m.org?.name !== "string" || typeof m.bucket !== "string") throw bad("org or bucket missing");
  if (!Array.isArray(m.files) || m.files.some((f: any) => typeof f?.name !== "string" || !Number.isInteger(f?.size) || !/^[0-9a-f]{64}$/.test(f?.sha256 ?? "") || f.name.includes("/") || f.name === MANIFEST)) {
    throw bad("files must list { name, size, sha256 } of plain file names");
  }
  if (!/^[0-9a-f]{64}$/.test(m.operatorTokenSha256 ?? "")) throw bad("operatorTokenSha256 missing");
  if (!Array.isArray(m.data?.bySeries)) throw bad("data.bySeries missing");
  return m as Manifest;
}

/** Every file the manifest lists is there with its size and digest, and nothing else is. */
export function verifyFiles(dir: string, manifest: Manifest): void {
  const listed = new Set(manifest.files.map((f) => f.name));
  for (const name of readdirSync(dir).sort()) {
    if (name !== MANIFEST && !listed.has(name)) throw new BackupError(`${join(dir, name)} is not in the manifest: refusing a folder that holds other files`);
  }
  for (const f of manifest.files) {
    const path = join(dir, f.name);
    if (!existsSync(path)) throw new BackupError(`${path} is missing (listed in the manifest)`);
    if (!lstatSync(path).isFile()) throw new BackupError(`${path} is not a regular file`);
    const actual = fileDigest(path);
    if (actual.size !== f.size) throw new BackupError(`${path} has ${actual.size} bytes, the manifest says ${f.size}`);
    if (actual.sha256 !== f.sha256) throw new BackupError(`${path} has SHA-256 ${actual.sha256}, the manifest says ${f.sha256}: the file is damaged or was changed`);
  }
}

/** Point counts that differ from the manifest's, one entry per series ("" when equal). */
export function compareCounts(expected: SeriesCount[], actual: SeriesCount[]): string[] {
  const want = new Map(expected.map((s) => [seriesKey(s), s.count]));
  const got = new Map(actual.map((s) => [seriesKey(s), s.count]));
  const diffs: string[] = [];
  for (const key of new Set([...want.keys(), ...got.keys()])) {
    if (want.get(key) !== got.get(key)) diffs.push(`${key.replace(/\|/g, " ")}: ${got.get(key) ?? 0} points, the backup had ${want.get(key) ?? 0}`);
  }
  return diffs.sort();
}

export function timestampName(stack: string, now: Date): string {
  return `${stack}-${now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}`;
}

/** Makes sure a written file's bytes reach the disk before the manifest vouches for them. */
export function syncFile(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

// --- the two operations, wherever InfluxDB is ----------------------------------------------------

export interface Target {
  shell: Shell;
  paths: Paths;
  /** the operator (all-access) token: only ever passed on a script's stdin */
  operatorToken: string;
  stack: string;
  org: string;
  bucket: string;
}

export interface BackupResult {
  dir: string;
  manifest: Manifest;
}

/**
 * Backs the target up into `outDir`, a new folder (0700, files 0600). The files are fetched one by
 * one through the Shell into a private folder next to outDir, checked against the sizes influx
 * backup wrote, and renamed into place only when the manifest is written; the copy in the backups
 * volume is removed either way.
 */
export async function makeBackup(t: Target, outDir: string, now = new Date()): Promise<BackupResult> {
  if (existsSync(outDir)) throw new BackupError(`--out ${outDir} already exists: give a new folder (a backup never overwrites another)`);
  const parent = join(outDir, "..");
  if (!existsSync(parent)) throw new BackupError(`--out ${outDir}: the folder ${parent} does not exist`);
  const version = await influxdVersion(t.shell);
  const buckets = await listBuckets(t.shell, t.paths, t.operatorToken, t.org);
  const stackBucket = buckets.find((b) => b.name === t.bucket);
  if (!stackBucket) throw new BackupError(`InfluxDB has no bucket ${t.bucket} in org ${t.org}: is this stack's InfluxDB set up?`);
  // Counted before the backup starts: points only arrive, so every series has at least these in it.
  const data = await summarise(t.shell, t.paths, t.operatorToken, t.org, t.bucket);
  const consumerTokensSha256 = await consumerFingerprints(t.shell, t.paths);

  const folder = timestampName(t.stack, now);
  const staging = mkdtempSync(join(parent, ".backup-partial-"));
  chmodSync(staging, 0o700);
  try {
    let listing: string;
    try {
      listing = (await runStep(t.shell, "influx backup", backupScript(t.paths, folder), t.operatorToken)).toString("utf8");
      const files: BackupFile[] = [];
      for (const line of listing.split("\n").filter(Boolean)) {
        const [sizeText, ...nameParts] = line.split(" ");
        const name = nameParts.join(" ");
        if (!/^[A-Za-z0-9._-]+$/.test(name) || name === MANIFEST) throw new BackupError(`influx backup wrote an unexpected file name: ${JSON.stringify(name)}`);
        const path = join(staging, name);
        await runStep(t.shell, `copying ${name} out of InfluxDB`, readFileScript(t.paths, folder, name), undefined, undefined, undefined, path);
        syncFile(path);
        const copied = fileDigest(path);
        if (copied.size !== Number(sizeText)) throw new BackupError(`copying ${name} out of InfluxDB: got ${copied.size} bytes of ${sizeText}`);
        files.push(copied);
      }
      if (files.length === 0) throw new BackupError("influx backup wrote no files");
      const manifest: Manifest = {
        format: MANIFEST_FORMAT,
        stack: t.stack,
        createdAt: now.toISOString(),
        influxdb: { version, major: major(version) },
        org: { name: t.org, id: stackBucket.orgID },
        bucket: t.bucket,
        buckets,
        data,
        files,
        operatorTokenSha256: sha256(t.operatorToken),
        consumerTokensSha256,
      };
      writeFileSync(join(staging, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600, flag: "wx" });
      syncFile(join(staging, MANIFEST));
      renameSync(staging, outDir);
      return { dir: outDir, manifest };
    } finally {
      await t.shell.run(removeFolderScript(t.paths, folder).script, removeFolderScript(t.paths, folder).args);
    }
  } finally {
    if (existsSync(staging)) rmSync(staging, { recursive: true, force: true });
  }
}

export interface Consumers {
  /** stops the token consumers (nothing writes while the data is replaced) */
  stop(): Promise<void>;
  /** starts them again, so that they read their (possibly new) token */
  start(): Promise<void>;
}

export interface RestoreResult {
  manifest: Manifest;
  data: DataSummary;
  /** whether the consumers got new tokens (a rebuilt stack) or kept theirs (the stack the backup came from) */
  tokensReissued: boolean;
}

/**
 * Restores a backup made by makeBackup into the target, checking first and changing nothing on a
 * refusal: the manifest; every file's presence, size and digest (and no other file); InfluxDB's
 * major version; the operator token's fingerprint; an empty bucket unless `force`.
 *
 * Why a FULL restore (`influx restore --full`), not a per-bucket one: the consumers' scoped tokens
 * are bound to the bucket's ID (write:orgs/<org>/buckets/<id>). A per-bucket restore refuses an
 * existing bucket name and creates a new bucket with a new ID, which none of the stack's tokens can
 * read or write: the dashboards would stay empty and the simulator's writes would go elsewhere. A
 * full restore brings the bucket back with its ID and the authorizations with it: into the stack
 * the backup came from, the consumers' tokens are the backup's and keep working; into a rebuilt
 * stack (a new first setup, new scoped tokens that the restored database does not know), the
 * consumers' tokens are made anew for the restored bucket by the project's scoped-tokens script
 * and handed to their token volumes (InfluxDB 2.9 keeps only hashes of tokens, so the backup's
 * own scoped tokens cannot be handed over: no copy of their values exists).
 * The operator token is restored too, so a full restore needs the stack to hold the backup's (the
 * same Pulumi state): influx restore keeps authenticating its later requests with the token it
 * started with when the server returns no plaintext token after the KV step (influx-cli
 * clients/restore/restore.go, fullRestore), so with another one the real influxd answers the SQL
 * step 401 and is left half-restored (seen on the InfluxDB tier). A stack rebuilt with new
 * credentials (npm run down, then up; or a lost Pulumi state) is therefore refused unless --force,
 * which restores the BUCKET alone under the stack's own credentials: its empty bucket is deleted,
 * `influx restore --bucket` makes it anew from the backup (a new ID), and the consumers get new
 * tokens for that ID. Only the bucket's data comes back then, not the backup's users or tokens.
 */
export async function restoreBackup(t: Target, from: string, options: { force: boolean; consumers: Consumers; now?: Date; log?: (line: string) => void }): Promise<RestoreResult> {
  const log = options.log ?? (() => undefined);
  const manifest = readManifest(from);
  verifyFiles(from, manifest);
  const running = await influxdVersion(t.shell);
  if (major(running) !== manifest.influxdb.major) {
    throw new BackupError(`the backup is of InfluxDB ${manifest.influxdb.version}, the stack runs ${running}: a backup restores only into the same major version (${manifest.influxdb.major}.x)`);
  }
  if (manifest.org.name !== t.org || manifest.bucket !== t.bucket) {
    throw new BackupError(`the backup holds org ${manifest.org.name}, bucket ${manifest.bucket}; stack ${t.stack} uses org ${t.org}, bucket ${t.bucket}: the consumers would not find the data`);
  }
  const sameOperator = manifest.operatorTokenSha256 === sha256(t.operatorToken);
  if (!sameOperator && !options.force) {
    throw new BackupError(
      `the backup was made with another operator token than stack ${t.stack}'s (fingerprint ${manifest.operatorTokenSha256.slice(0, 12)}…, the stack's ${sha256(t.operatorToken).slice(0, 12)}…): the stack was rebuilt with new credentials; add --force to restore the bucket's data alone under the stack's own (the consumers get new tokens)`,
    );
  }
  // A bucket deleted by mistake is a reason to restore, not a refusal: it holds no data.
  const bucketThere = (await listBuckets(t.shell, t.paths, t.operatorToken, t.org)).some((b) => b.name === t.bucket);
  if (sameOperator && bucketThere && (await holdsData(t.shell, t.paths, t.operatorToken, t.org, t.bucket)) && !options.force) {
    throw new BackupError(`bucket ${t.bucket} of stack ${t.stack} already holds data: a full restore replaces all of it; add --force to replace it`);
  }

  log(`checked ${from}: ${manifest.files.length} files, InfluxDB ${manifest.influxdb.version}, ${manifest.data.total} points of ${manifest.stack} made ${manifest.createdAt}`);
  await options.consumers.stop();
  try {
    return await replaceData(t, from, manifest, sameOperator ? "full" : "bucket", options.consumers, options.now ?? new Date(), log);
  } catch (error) {
    // The consumers stay stopped: started against a half-restored database they would write into it.
    const reason = error instanceof BackupError ? error.message : String((error as Error)?.message ?? error);
    throw new BackupError(`${reason} (the simulator, Grafana and the bridge were stopped for the restore and stay stopped: fix the cause and run the restore again, or start them with npm run up)`);
  }
}

async function replaceData(t: Target, from: string, manifest: Manifest, mode: "full" | "bucket", consumers: Consumers, now: Date, log: (line: string) => void): Promise<RestoreResult> {
  const folder = `restore-${timestampName(t.stack, now)}`;
  try {
    for (const f of manifest.files) {
      await runStep(t.shell, `copying ${f.name} into InfluxDB`, writeFileScript(t.paths, folder, f.name), undefined, { fromFile: join(from, f.name) });
    }
    if (mode === "full") {
      await runStep(t.shell, "influx restore --full", restoreScript(t.paths, folder), t.operatorToken);
    } else {
      await runStep(t.shell, "influx restore --bucket", bucketRestoreScript(t.paths, folder, t.org, t.bucket), t.operatorToken);
      log(`restored bucket ${t.bucket} alone under stack ${t.stack}'s credentials (the backup's operator token differs)`);
    }
  } finally {
    const rm = removeFolderScript(t.paths, folder);
    await t.shell.run(rm.script, rm.args);
  }
  const data = await summarise(t.shell, t.paths, t.operatorToken, t.org, t.bucket);
  const missing = compareCounts(manifest.data.bySeries, data.bySeries).filter((line) => {
    const m = /: (\d+) points, the backup had (\d+)$/.exec(line);
    return !m || Number(m[1]) < Number(m[2]);
  });
  if (missing.length > 0) throw new BackupError(`restored, but ${missing.length} series have fewer points than the backup counted, e.g. ${missing[0]}`);
  log(`restored ${data.total} points (${data.bySeries.length} series, ${data.first ?? "-"} to ${data.last ?? "-"}); every series has at least the backup's count`);

  const held = await consumerFingerprints(t.shell, t.paths);
  // After a bucket-only restore the bucket has a new ID, which no token held so far names.
  const tokensReissued = mode === "bucket" || CONSUMERS.some((c) => held[c] === null || held[c] !== manifest.consumerTokensSha256?.[c]);
  if (tokensReissued) {
    const bucket = (await listBuckets(t.shell, t.paths, t.operatorToken, t.org)).find((b) => b.name === t.bucket);
    if (!bucket) throw new BackupError(`restored, but bucket ${t.bucket} is not there`);
    const stale = (await listAuths(t.shell, t.paths, t.operatorToken)).filter((a) => CONSUMERS.some((c) => a.description.startsWith(`${c}: `))).map((a) => a.id);
    await runStep(t.shell, "handing the consumers new tokens", reissueTokensScript(t.paths, bucket.orgID, bucket.id, t.bucket, stale), t.operatorToken);
    log(`the consumers' tokens were not the backup's (a rebuilt stack): made new ones for bucket ${t.bucket} and handed them to ${CONSUMERS.join(", ")}`);
  } else {
    log(`the consumers hold the backup's tokens: kept`);
  }
  await consumers.start();
  return { manifest, data, tokensReissued };
}
