// InfluxDB tier: the project's own token step (components/assets/influxdb-scoped-tokens.sh, staged by
// the program into /docker-entrypoint-initdb.d) run by the entrypoint's run-parts with the real
// influx CLI against the real server, and what the tokens it hands over can and cannot do.
// (Versions and what of the image is not covered: see first-setup.test.ts and support/first-setup.ts.)
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./support/tier";
import { influx, runCommand, USER_SCRIPT_DIR } from "./support/first-setup";
import { fluxQuery, httpsRequest, writeLines } from "./support/http";
import { serverTest, startStack, type Stack } from "./support/stack";
import { influxTier } from "./support/tier";

const SCRIPT = join(ROOT, "components", "assets", "influxdb-scoped-tokens.sh");
/** Probe points go to a measurement of their own, never mixed with the simulator's. */
const PROBE = "influxdb_tier_probe";

influxTier("InfluxDB tier: the scoped tokens made at first setup, on the real server", () => {
  let stack: Stack | undefined;
  const s = () => stack!;
  let other: { name: string; id: string };

  beforeAll(async () => {
    stack = await startStack();
    // another bucket in the same org, made with the operator's CLI config
    const created = await influx(stack.setup, ["bucket", "create", "--name", "influxdb-tier-other", "--org-id", stack.setup.ids.org, "--json"]);
    if (created.status !== 0) throw new Error(`influx bucket create failed: ${stack.server.redact(created.stderr)}`);
    other = { name: "influxdb-tier-other", id: JSON.parse(created.stdout).id };
  }, 90_000);

  afterAll(async () => {
    await stack?.stop();
  }, 30_000);

  serverTest("the init script the program stages is the project's, executable, and run-parts ran it", () => stack, async () => {
    const staged = s().decl.stagedAt(s().decl.influxdb, `${USER_SCRIPT_DIR}/10-scoped-tokens.sh`);
    expect(staged?.content).toBe(readFileSync(SCRIPT, "utf8"));
    expect(staged?.permissions).toBe("0555");
    expect(statSync(s().server.path(`${USER_SCRIPT_DIR}/10-scoped-tokens.sh`)).mode & 0o777).toBe(0o555);
    // run-parts --report prints the name of each script it runs, then the script prints its summary
    expect(s().setup.scriptsOutput).toContain("10-scoped-tokens.sh");
    expect(s().setup.scriptsOutput).toMatch(/scoped-tokens: created write-only tokens \(simulator, bridge\) and a read-only token \(grafana\) for bucket /);
  });

  serverTest("each consumer finds its token where it reads it, through its own mount of its token volume", () => stack, async () => {
    const sim = s().simulatorToken();
    const graf = s().grafanaToken();
    for (const [file, token] of [
      [s().simulatorPath(s().decl.simulator.env.INFLUX_TOKEN_FILE), sim],
      [s().grafanaPath(s().datasource.tokenFile), graf],
    ]) {
      expect(statSync(file).mode & 0o777).toBe(0o444);
      const raw = readFileSync(file, "utf8");
      expect(raw).toBe(token); // no trailing newline
      expect(token).toMatch(/^[A-Za-z0-9_-]{86}==$/); // 64 random bytes, base64url (InfluxDB 2's token format)
    }
    expect(new Set([sim, graf, s().setup.operatorToken]).size).toBe(3);
    // the script's own output never shows a token
    expect(s().setup.scriptsOutput).not.toContain(sim);
    expect(s().setup.scriptsOutput).not.toContain(graf);
  });

  serverTest("the server holds exactly the three authorizations the script meant, each for the one bucket", () => stack, async () => {
    const { setup } = s();
    const list = JSON.parse((await influx(setup, ["auth", "list", "--json"])).stdout) as Array<{ description: string; status: string; userID: string; permissions: string[]; token: string }>;
    const scoped = list.filter((a) => !a.permissions.includes("write:/authorizations"));
    const resource = `orgs/${setup.ids.org}/buckets/${setup.ids.bucket}`;
    expect(scoped.map((a) => [a.description, a.status, a.userID, a.permissions]).sort()).toEqual(
      [
        [`bridge: write-only ${setup.bucket}`, "active", setup.ids.user, [`write:${resource}`]],
        [`grafana: read-only ${setup.bucket}`, "active", setup.ids.user, [`read:${resource}`]],
        [`simulator: write-only ${setup.bucket}`, "active", setup.ids.user, [`write:${resource}`]],
      ].sort(),
    );
    // InfluxDB 2.9 stores tokens hashed (influxd --use-hashed-tokens, on by default): a listing shows
    // none, so a token that is lost cannot be read back from the server
    expect(list.map((a) => a.token)).toEqual(list.map(() => ""));
  });

  serverTest("the script's parsing of `influx auth create --json` matches the real CLI's output", () => stack, async () => {
    const { setup } = s();
    const out = await influx(setup, ["auth", "create", "--org-id", setup.ids.org, "--description", "influxdb tier: parse check", "--read-bucket", setup.ids.bucket, "--json"]);
    expect(out.status).toBe(0);
    const parsed = JSON.parse(out.stdout);
    s().server.addSecret(parsed.token);
    expect(Object.keys(parsed)).toEqual(expect.arrayContaining(["id", "description", "token", "status", "userName", "userID", "permissions"]));
    // the real CLI indents with tabs (the unit test's stand-in prints two spaces): the script's
    // regex allows any whitespace around the colon, so both parse
    expect(out.stdout).toMatch(/^\t"token": "/m);
    const regex = /if \[\[ \$json =~ (.+) \]\]; then/.exec(readFileSync(SCRIPT, "utf8"))?.[1];
    expect(regex).toBeDefined();
    const viaScript = await runCommand("bash", ["-c", `json=$(cat "$1"); if [[ $json =~ ${regex} ]]; then printf '%s' "\${BASH_REMATCH[1]}"; else exit 1; fi`, "parse", writeTemp(s(), out.stdout)], { PATH: process.env.PATH ?? "" });
    expect(viaScript.status).toBe(0);
    expect(viaScript.stdout).toBe(parsed.token);
    await influx(setup, ["auth", "delete", "--id", parsed.id, "--json"]);
  });

  serverTest("the simulator's token writes the bucket, and nothing else: it cannot read it, nor write another bucket", () => stack, async () => {
    const { setup, server } = s();
    const token = s().simulatorToken();
    const now = Date.now();
    expect((await writeLines(server, token, setup.org, setup.bucket, `${PROBE},device=probe value=1 ${now}`)).status).toBe(204);
    const read = await fluxQuery(server, token, setup.org, `from(bucket: ${JSON.stringify(setup.bucket)}) |> range(start: -1h)`);
    expect([read.status, read.error]).toEqual([404, `failed to initialize execute state: could not find bucket ${JSON.stringify(setup.bucket)}`]);
    const elsewhere = await writeLines(server, token, setup.org, other.name, `${PROBE},device=probe value=1 ${now}`);
    expect([elsewhere.status, JSON.parse(elsewhere.body).message]).toEqual([403, "insufficient permissions for write"]);
    const createAuth = await httpsRequest(server, { method: "POST", path: "/api/v2/authorizations", token, headers: { "content-type": "application/json" }, body: JSON.stringify({ orgID: setup.ids.org, permissions: [{ action: "read", resource: { type: "buckets", orgID: setup.ids.org } }] }) });
    expect([createAuth.status, JSON.parse(createAuth.body).message]).toEqual([401, `write:orgs/${setup.ids.org}/authorizations is unauthorized`]);
  });

  serverTest("Grafana's token reads the bucket (and sees what the simulator's wrote), and cannot write it or read another bucket", () => stack, async () => {
    const { setup, server, datasource } = s();
    const token = s().grafanaToken();
    const writer = s().simulatorToken();
    const at = Date.now();
    expect((await writeLines(server, writer, setup.org, setup.bucket, `${PROBE},device=probe-read value=42 ${at}`)).status).toBe(204);
    // Grafana queries with the org name from its datasource provisioning
    expect(datasource.organization).toBe(setup.org);
    const read = await fluxQuery(server, token, datasource.organization, `from(bucket: ${JSON.stringify(setup.bucket)}) |> range(start: -1h) |> filter(fn: (r) => r._measurement == "${PROBE}" and r.device == "probe-read")`);
    expect(read.error).toBeUndefined();
    expect(read.tables.flatMap((t) => t.rows.map((r) => [r._field, r._value, Date.parse(r._time)]))).toEqual([["value", "42", at]]);
    const write = await writeLines(server, token, setup.org, setup.bucket, `${PROBE},device=probe value=1 ${at}`);
    expect([write.status, JSON.parse(write.body).message]).toEqual([403, "insufficient permissions for write"]);
    const elsewhere = await fluxQuery(server, token, setup.org, `from(bucket: ${JSON.stringify(other.name)}) |> range(start: -1h)`);
    expect(elsewhere.status).toBe(404);
  });

  serverTest("Grafana's datasource health check (`buckets()`) passes with its token and sees only the stack's bucket", () => stack, async () => {
    // pkg/tsdb/influxdb/healthcheck.go, CheckFluxHealth: `buckets()`; healthy when the first frame has values
    const res = await fluxQuery(s().server, s().grafanaToken(), s().datasource.organization, "buckets()");
    expect(res.error).toBeUndefined();
    expect(res.tables.flatMap((t) => t.rows.map((r) => r.name))).toEqual([s().setup.bucket]);
  });
});

function writeTemp(stack: Stack, content: string): string {
  const file = join(stack.server.dir, `tmp-${Date.now()}-${Math.random().toString(16).slice(2)}`);
  writeFileSync(file, content, { mode: 0o600 });
  return file;
}
