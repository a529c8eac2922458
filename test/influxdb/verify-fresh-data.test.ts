// InfluxDB tier (test/influxdb/support): npm run verify's fresh-data queries, exactly as verify sends
// them through Grafana's datasource, run against the real InfluxDB with Grafana's read token on data
// the real simulator wrote (the dev stack's devices, two minutes of readings up to now). Grafana
// itself cannot run here, so its conversion of the Flux tables into data frames is stood for by
// the plain one it makes for tables without _measurement (a field per column, times in epoch ms).
import { checkFreshData, freshDataQuery, freshnessWindowMs } from "../../tools/verify";
import { fluxQuery, type FluxTable } from "./support/http";
import { runToExit, simulatorConfig, simulatorEnv } from "./support/simulator";
import { serverTest, startStack, type Stack } from "./support/stack";
import { influxTier } from "./support/tier";

/** Flux tables as data frames: one field per column, dateTime columns as times in epoch milliseconds. */
function frames(tables: FluxTable[]) {
  return tables.map((t) => {
    const columns = Object.keys(t.datatypes).filter((c) => c !== "" && c !== "result" && c !== "table");
    return {
      schema: { fields: columns.map((c) => ({ name: c, type: t.datatypes[c].startsWith("dateTime") ? "time" : t.datatypes[c] === "string" ? "string" : "number" })) },
      data: { values: columns.map((c) => t.rows.map((r) => (t.datatypes[c].startsWith("dateTime") ? Date.parse(r[c]) : t.datatypes[c] === "string" ? r[c] : Number(r[c])))) },
    };
  });
}

influxTier("InfluxDB tier: npm run verify's fresh-data queries on the real InfluxDB", () => {
  let stack: Stack | undefined;
  const s = () => stack!;
  let devices: number;
  let intervalMs: number;

  beforeAll(async () => {
    stack = await startStack();
    const env = simulatorEnv(stack, { SIM_BACKFILL: "2m", SIM_EXIT_AFTER_BACKFILL: "true" });
    ({ devices, intervalMs } = simulatorConfig(env));
    const { code, sim } = await runToExit(env, 90_000);
    if (code !== 0) throw new Error(`the simulator exited ${code}:\n${sim.output().slice(-3000)}`);
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
  });

  async function ask(bucket: string, now: Date, edit: (flux: string) => string = (flux) => flux) {
    const body = freshDataQuery(bucket, freshnessWindowMs(intervalMs), now) as { queries: Array<{ refId: string; query: string }> };
    const results: Record<string, unknown> = {};
    for (const q of body.queries) {
      const answer = await fluxQuery(s().server, s().grafanaToken(), s().datasource.organization, edit(q.query));
      if (answer.error) throw new Error(`${q.refId}: ${answer.error}\n${q.query}`);
      results[q.refId] = { status: 200, frames: frames(answer.tables) };
    }
    return { status: 200, body: JSON.stringify({ results }) };
  }

  serverTest("every device the simulator ran is counted, and the newest reading is recent: pass", s, async () => {
    const now = new Date();
    const result = checkFreshData(await ask(s().datasource.defaultBucket, now), devices, freshnessWindowMs(intervalMs), now);
    expect(result).toMatchObject({ status: "pass", summary: expect.stringMatching(new RegExp(`^all ${devices} devices wrote in the last 120 s \\(newest reading \\d+ s old\\)`)) });
  });

  serverTest("more devices configured than wrote: fail, with the count the server returned", s, async () => {
    const now = new Date();
    expect(checkFreshData(await ask(s().datasource.defaultBucket, now), devices + 3, freshnessWindowMs(intervalMs), now).summary).toMatch(
      new RegExp(`^${devices} of ${devices + 3} devices wrote in the last 120 s`),
    );
  });

  serverTest("no reading in the window (the server answers the same queries with no table at all): fail", s, async () => {
    const now = new Date();
    const nothing = await ask(s().datasource.defaultBucket, now, (flux) => flux.replace('r._field == "temperature_c"', 'r._field == "no_such_field"'));
    expect(JSON.parse(nothing.body).results.devices.frames).toEqual([]);
    expect(checkFreshData(nothing, devices, freshnessWindowMs(intervalMs), now)).toMatchObject({ status: "fail", summary: "no reading in the last 120 s" });
  });
});
