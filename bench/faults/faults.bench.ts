// npm run bench:faults: the data path's fault scenarios (test/influxdb/support/faults.ts) against the
// real influxd and the real simulator, run longer than the InfluxDB tier runs them and with the
// program's own simulator settings (its 5-minute buffer, its 10 s request timeout): a crash with an
// outage of 30 s, a full disk held for 30 s, influxd stopped for 30 s. Writes
// bench/results/faults.json and the generated section of docs/RELIABILITY.md.
// BENCH_RENDER=1: no measuring, the section again from the saved results.
// Run it under `flock /tmp/bench.lock` where other benchmarks share the machine.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { join } from "node:path";
import { writeSection } from "../influxdb/doc-sections";
import { crashScenario, fullDiskScenario, slowScenario, smallFilesystemSkipReason, type Figures } from "../../test/influxdb/support/faults";
import { ROOT, tierStatus } from "../../test/influxdb/support/tier";
import { renderSection, renderTable, type FaultsReport } from "./report";

const RESULTS = join(ROOT, "bench", "results", "faults.json");
const DOC = join(ROOT, "docs", "RELIABILITY.md");
const SECTION = "faults";

const PLANS: FaultsReport["plans"] = {
  crash: { steadyMs: 20_000, faultMs: 30_000 },
  "full disk": { steadyMs: 20_000, faultMs: 30_000, sizeMiB: 128 },
  // a buffer of 5 s of readings, shorter than the full disk: what the simulator reports when it cannot bridge the outage
  "full disk, 5 s buffer": { steadyMs: 20_000, faultMs: 30_000, sizeMiB: 128, simulator: { SIM_BUFFER_LINES: "1500" } },
  "slow database": { steadyMs: 20_000, faultMs: 30_000 },
};

const RENDER_ONLY = process.env.BENCH_RENDER === "1";

(RENDER_ONLY ? test : test.skip)("render the last results again", () => {
  const report: FaultsReport = JSON.parse(readFileSync(RESULTS, "utf8"));
  writeSection(DOC, SECTION, renderSection(report));
});

(RENDER_ONLY ? test.skip : test)("fault scenarios on the real influxd", async () => {
  const tier = tierStatus();
  if (tier.skip) throw new Error(`cannot run: ${tier.skip}`);
  const noFs = smallFilesystemSkipReason();
  if (noFs) throw new Error(`cannot run the full-disk scenario: ${noFs}`);
  const started = Date.now();
  const runs: Figures[] = [];
  const plans = { ...PLANS };
  const log = (f: Figures) => process.stderr.write(`bench:faults ${f.scenario}: ${JSON.stringify(f)}\n`);

  runs.push({ ...(await crashScenario(plans.crash)).figures, plan: "crash" });
  log(runs[runs.length - 1]);
  for (const name of ["full disk", "full disk, 5 s buffer"]) {
    const plan = plans[name];
    const result = await fullDiskScenario({ ...plan, sizeMiB: plan.sizeMiB ?? 128 });
    if (result.lost.length || result.changed.length) throw new Error(`full disk (${name}): ${result.lost.length} acknowledged points lost, ${result.changed.length} changed`);
    plans[name] = { ...plan, filesystem: result.filesystem };
    runs.push({ ...result.figures, plan: name });
    log(result.figures);
  }
  runs.push({ ...(await slowScenario(plans["slow database"])).figures, plan: "slow database" });
  log(runs[runs.length - 1]);

  for (const r of runs) if (r.generated !== r.written + r.dropped) throw new Error(`${r.scenario}: the counters do not add up`);

  const report: FaultsReport = {
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), kernel: release() },
    versions: { influxd: tier.influxdVersion ?? "unknown", node: process.version },
    durationSeconds: Math.round((Date.now() - started) / 1000),
    plans,
    runs,
  };
  mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(report, null, 2)}\n`);
  writeSection(DOC, SECTION, renderSection(report));
  process.stderr.write(`${renderTable(report)}\n`);
});
