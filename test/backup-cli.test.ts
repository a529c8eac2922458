// npm run backup and npm run restore (scripts/backup.sh, restore.sh, then tools/dist/tools/backup.js,
// restore.js) run for real against stand-ins: `pulumi` prints the stack's operator token (written
// into its body, so no environment carries it), `docker` logs every call with its environment and
// runs `docker exec -i … sh -c SCRIPT` as a local process in a stand-in container (its paths under a
// sandbox folder, its environment the one components/influxdb.ts configures), where `influx` and
// `influxd` are stand-ins that log what they get. The real influx CLI and influxd run the same
// scripts in test/influxdb/backup-restore.test.ts; this file is about the commands around them.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./support/harness";

const TOKEN = "OPERATOR-TOKEN-0123456789abcdefghijklmnopqrstuvwxyz";
const TOOLS = ["bash", "node", "dirname", "mkdir", "chmod", "head", "base64", "tr", "cat", "sort", "grep", "sh", "env", "rm", "wc", "cut", "sha256sum", "printf", "ls"];
const whereIs = (tool: string) => execFileSync("bash", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim();

beforeAll(() => {
  execFileSync("npm", ["run", "--silent", "build:tools"], { cwd: ROOT, stdio: "pipe" });
}, 120_000);

const boxes: string[] = [];
afterAll(() => boxes.forEach((b) => rmSync(b, { recursive: true, force: true })));

/** The stand-in container's `influx`: canned answers in the real CLI's formats, every call logged with whether it got the token. */
const INFLUX = `#!/bin/bash
tok=no; [ "\${INFLUX_TOKEN:-}" = "${TOKEN}" ] && tok=yes
echo "influx $* | token=$tok host=\${INFLUX_HOST:-} ssl=\${SSL_CERT_FILE:-}" >> "$BOX/influx-calls"
case "$1" in
  backup) mkdir -p "$2"; printf 'bolt' > "$2/20261206T000000Z.bolt.gz"; printf 'sql' > "$2/20261206T000000Z.sqlite.gz"; printf 'shard-data' > "$2/20261206T000000Z.s1.tar.gz"; printf '{}' > "$2/20261206T000000Z.manifest" ;;
  bucket) echo '[{"id":"b0b0b0b0b0b0b0b0","orgID":"0a0a0a0a0a0a0a0a","name":"sensors","retentionRules":[{"type":"expire","everySeconds":2592000}]}]' ;;
  auth) echo '[]' ;;
  restore) ls "$3" > "$BOX/restored-files" ;;
  query)
    case "$*" in
      *"count()"*) printf '#datatype,string,long,string,string,string,long\\n#group,false,false,true,true,true,false\\n#default,_result,,,,,\\n,result,table,_measurement,device,_field,_value\\n,,0,sensor_readings,dev-1,temperature_c,360\\n,,1,sensor_readings,dev-2,temperature_c,360\\n\\n' ;;
      *"limit(n: 1)"*) if [ -f "$BOX/has-data" ]; then printf ',result,table,_time\\n,_result,0,2026-12-06T00:00:00Z\\n\\n'; fi ;;
      *"first()"*) printf ',result,table,_time\\n,_result,0,2026-12-05T23:00:00Z\\n\\n' ;;
      *"last()"*) printf ',result,table,_time\\n,_result,0,2026-12-06T00:00:00Z\\n\\n' ;;
    esac ;;
esac
`;

/** The stand-in `docker`: logs argv and environment, runs exec in the stand-in container. */
const DOCKER = `#!/bin/bash
{ echo "docker $*"; env; echo "----"; } >> "$BOX/docker-calls"
[ "$1" != -H ] || shift 2
case "$1" in
  version) echo 1.43 ;;
  inspect) echo true ;;
  stop|start) echo "$2" ;;
  exec)
    shift; [ "$1" = -i ] || { echo "no -i" >&2; exit 99; }; shift; shift  # -i, the container
    args=()
    for a in "$@"; do a=\${a//\\/var\\/lib\\/influxdb2-backups/$BOX/c/backups}; a=\${a//\\/etc\\/iot/$BOX/c/etc/iot}; a=\${a//\\/docker-entrypoint-initdb.d/$BOX/c/initdb}; args+=("$a"); done
    exec env -i PATH="$BOX/c/bin:$BASE_PATH" BOX="$BOX" DOCKER_INFLUXDB_INIT_ORG=iot DOCKER_INFLUXDB_INIT_BUCKET=sensors INFLUXD_TLS_CERT=/etc/iot/influxdb/tls/server.crt "\${args[@]}" ;;
  *) exit 1 ;;
esac
`;

function sandbox() {
  const box = mkdtempSync(join(tmpdir(), "backup-cli-"));
  boxes.push(box);
  const bin = join(box, "bin");
  const cbin = join(box, "c", "bin");
  mkdirSync(bin, { recursive: true });
  mkdirSync(cbin, { recursive: true });
  mkdirSync(join(box, "c", "backups"));
  for (const tool of TOOLS) symlinkSync(whereIs(tool), join(bin, tool));
  for (const consumer of ["simulator", "grafana", "bridge"]) {
    mkdirSync(join(box, "c", "etc", "iot", "handoff", consumer), { recursive: true });
    writeFileSync(join(box, "c", "etc", "iot", "handoff", consumer, "token"), `${consumer}-token`);
  }
  const write = (path: string, body: string) => (writeFileSync(path, body), chmodSync(path, 0o755));
  write(join(bin, "pulumi"), `#!/bin/bash\necho "pulumi $*" >> "$BOX/pulumi-calls"\n[ -f "$BOX/pulumi-fails" ] && { echo "error: no stack named 'dev' found" >&2; exit 255; }\ncase "$*" in\n  "stack output influxdbOperatorToken --show-secrets --json --stack dev") printf '"%s"\\n' "${TOKEN}" ;;\n  "config get docker:host"*) exit 1 ;;\n  *) exit 1 ;;\nesac\n`);
  write(join(bin, "docker"), DOCKER);
  write(join(cbin, "influx"), INFLUX);
  write(join(cbin, "influxd"), `#!/bin/sh\necho "InfluxDB v2.9.1 (git: d4fa1941fd) build_date: 2026-12-06T13:28:02Z"\n`);
  const env = { PATH: bin, HOME: box, BOX: box, BASE_PATH: bin, PULUMI_CONFIG_PASSPHRASE: "test", INIT_CWD: box };
  const run = (script: string, args: string[]) => {
    const r = spawnSync("bash", [join(ROOT, "scripts", script), ...args], { env, encoding: "utf8", timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const log = (name: string) => (existsSync(join(box, name)) ? readFileSync(join(box, name), "utf8") : "");
  return { box, run, log };
}

describe("npm run backup", () => {
  test("writes a new 0700 folder of 0600 files and the manifest; the token reaches influx on stdin only", () => {
    const s = sandbox();
    const r = s.run("backup.sh", ["--out", "my-backup"]);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
    const dir = join(s.box, "my-backup"); // relative to the folder npm was started in (INIT_CWD)
    expect(r.stdout).toContain(`backup of stack dev (InfluxDB 2.9.1, org iot, bucket sensors) in ${dir}`);
    expect(r.stdout).toContain("720 points in 2 series");
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dir).sort()).toEqual(["20261206T000000Z.bolt.gz", "20261206T000000Z.manifest", "20261206T000000Z.s1.tar.gz", "20261206T000000Z.sqlite.gz", "manifest.json"]);
    for (const f of readdirSync(dir)) expect([f, statSync(join(dir, f)).mode & 0o777]).toEqual([f, 0o600]);
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    expect(manifest).toMatchObject({ stack: "dev", influxdb: { version: "2.9.1", major: 2 }, org: { name: "iot", id: "0a0a0a0a0a0a0a0a" }, bucket: "sensors" });
    expect(manifest.data).toMatchObject({ total: 720, first: "2026-12-05T23:00:00Z", last: "2026-12-06T00:00:00Z" });
    expect(manifest.files).toContainEqual({ name: "20261206T000000Z.s1.tar.gz", size: 10, sha256: createHash("sha256").update("shard-data").digest("hex") });
    expect(manifest.operatorTokenSha256).toMatch(/^[0-9a-f]{64}$/);
    // the copy in the container's backups volume is gone
    expect(readdirSync(join(s.box, "c", "backups"))).toEqual([]);
    // influx backup ran against the container's own API, verified with the stack CA, with the token
    expect(s.log("influx-calls")).toMatch(/^influx backup \S+\/c\/backups\/dev-\d{8}T\d{6}Z \| token=yes host=https:\/\/localhost:8086 ssl=\S+\/c\/etc\/iot\/influxdb\/tls\/ca\.pem$/m);
    // never in docker's argv or environment, nor in what was printed, nor in the manifest
    const docker = s.log("docker-calls");
    expect(docker).toMatch(/^docker exec -i iot-dev-influxdb sh -c /m);
    expect(docker).not.toContain(TOKEN);
    expect(docker).not.toMatch(/^docker exec .* -e /m);
    expect(r.stdout + r.stderr).not.toContain(TOKEN);
    expect(readFileSync(join(dir, "manifest.json"), "utf8")).not.toContain(TOKEN);
  });

  test("a folder that exists is refused in one line, before InfluxDB is asked anything", () => {
    const s = sandbox();
    mkdirSync(join(s.box, "taken"));
    const r = s.run("backup.sh", ["--out", "taken"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`error: --out ${join(s.box, "taken")} already exists: give a new folder (a backup never overwrites another)\n`);
    expect(s.log("influx-calls")).toBe("");
  });

  test("arguments and stack: usage (exit 2) and unknown stacks before anything runs", () => {
    const s = sandbox();
    expect(s.run("backup.sh", ["--out"])).toMatchObject({ status: 2, stderr: expect.stringMatching(/^error: --out needs a folder/) });
    expect(s.run("backup.sh", ["--bogus"])).toMatchObject({ status: 2, stderr: expect.stringMatching(/^error: unknown argument '--bogus'\nusage: npm run backup/) });
    expect(s.run("backup.sh", ["--stack", "nosuch"])).toMatchObject({ status: 2, stderr: expect.stringMatching(/^error: unknown stack 'nosuch'/) });
    expect(s.log("docker-calls")).toBe("");
  });
});

describe("npm run restore", () => {
  function backedUp() {
    const s = sandbox();
    expect(s.run("backup.sh", ["--out", "b"]).status).toBe(0);
    return { ...s, dir: join(s.box, "b") };
  }

  test("a stack that holds data: refused without --force, one line, nothing stopped or restored", () => {
    const s = backedUp();
    writeFileSync(join(s.box, "has-data"), "");
    const calls = s.log("docker-calls");
    const r = s.run("restore.sh", ["--from", "b"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("error: bucket sensors of stack dev already holds data: a full restore replaces all of it; add --force to replace it\n");
    const after = s.log("docker-calls").slice(calls.length);
    expect(after).not.toMatch(/^docker (stop|start) /m);
    expect(s.log("influx-calls")).not.toMatch(/^influx restore/m);
  });

  test("a damaged file: refused in one line naming it", () => {
    const s = backedUp();
    const bad = join(s.box, "bad");
    cpSync(s.dir, bad, { recursive: true });
    writeFileSync(join(bad, "20261206T000000Z.sqlite.gz"), "sqX");
    const r = s.run("restore.sh", ["--from", bad]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: \S+\/bad\/20261206T000000Z\.sqlite\.gz has SHA-256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}: the file is damaged or was changed\n$/);
  });

  test("--force: the consumers stopped, the files staged in the backups volume, influx restore --full with the token, counts checked, consumers started, the staging removed", () => {
    const s = backedUp();
    writeFileSync(join(s.box, "has-data"), "");
    const before = s.log("docker-calls").length;
    const r = s.run("restore.sh", ["--from", "b", "--force"]);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
    const docker = s.log("docker-calls").slice(before);
    const order = docker.split("\n").filter((l) => /^docker (stop|start) /.test(l));
    expect(order).toEqual(["docker stop iot-dev-simulator", "docker stop iot-dev-grafana", "docker stop iot-dev-bridge", "docker start iot-dev-simulator", "docker start iot-dev-grafana", "docker start iot-dev-bridge"]);
    expect(s.log("influx-calls")).toMatch(/^influx restore --full \S+\/c\/backups\/restore-dev-\d{8}T\d{6}Z \| token=yes host=https:\/\/localhost:8086/m);
    expect(s.log("restored-files").trim().split("\n")).toEqual(["20261206T000000Z.bolt.gz", "20261206T000000Z.manifest", "20261206T000000Z.s1.tar.gz", "20261206T000000Z.sqlite.gz"]);
    expect(readdirSync(join(s.box, "c", "backups"))).toEqual([]);
    expect(r.stdout).toContain("the consumers hold the backup's tokens: kept");
    expect(r.stdout).toContain("restored stack dev from");
    expect(docker).not.toContain(TOKEN);
    expect(r.stdout).not.toContain(TOKEN);
  });

  test("--from is required; a stack Pulumi cannot read is one line with Pulumi's reason", () => {
    const s = sandbox();
    expect(s.run("restore.sh", [])).toMatchObject({ status: 2, stderr: expect.stringMatching(/^error: --from needs the folder npm run backup wrote\nusage: npm run restore/) });
    writeFileSync(join(s.box, "pulumi-fails"), "");
    const r = s.run("restore.sh", ["--from", "x"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("error: cannot read the operator token of stack dev (has it been deployed with npm run up -- --stack dev?): no stack named 'dev' found\n");
    expect(s.log("docker-calls")).not.toMatch(/^docker exec/m);
  });
});
