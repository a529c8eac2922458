// SIGTERM in every state stops the process within SIM_SHUTDOWN_TIMEOUT_MS (Docker kills it 10 s
// after the signal): during the startup probe against a server that refuses, or accepts and stays
// silent; with writes in flight to a server that stopped answering. Requests time out only after
// 60 s here, so only an abort of what is in flight can pass.
import { SilentServer } from "./support/fake-influx";
import { connectionEnv, startTlsServer, type TlsServer } from "./support/fixtures";
import { baseEnv, isSummary, signalAndWaitForExit, startSimulator, type LogLine, type RunningSimulator } from "./support/run-simulator";

const SHUTDOWN_TIMEOUT_MS = 2000;
/** time for the process to exit once its shutdown is done, and for the test to see it */
const MARGIN_MS = 1000;

const shutdownEnv = {
  SIM_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
  SIM_REQUEST_TIMEOUT_MS: "60000",
  SIM_STARTUP_TIMEOUT_MS: "60000",
};

/** The summary is logged, it adds up, and every dropped point is in a logged drop. */
async function expectCleanStop(sim: RunningSimulator): Promise<LogLine> {
  const { code, elapsedMs } = await signalAndWaitForExit(sim, SHUTDOWN_TIMEOUT_MS + MARGIN_MS);
  expect({ code, withinDeadline: elapsedMs < SHUTDOWN_TIMEOUT_MS + MARGIN_MS }).toEqual({ code: 0, withinDeadline: true });
  const summary = await sim.waitForLog(isSummary, 1000, "summary");
  expect(sim.logs[sim.logs.length - 1]).toBe(summary); // the last line, nothing after it or lost before it
  const generated = summary.points_generated as number;
  expect((summary.points_written as number) + (summary.points_dropped as number)).toBe(generated);
  const logged = sim.logs.filter((l) => l.msg === "points dropped").reduce((sum, l) => sum + (l.points as number), 0);
  expect(logged).toBe(summary.points_dropped);
  return summary;
}

describe("SIGTERM during the startup probe", () => {
  test("server refusing connections: exit 0 within the shutdown timeout, with the summary", async () => {
    const { server, caFile } = await startTlsServer();
    await server.refuseConnections();
    const sim = startSimulator(baseEnv({ ...connectionEnv(server, caFile), ...shutdownEnv }));
    try {
      // two refusals: the probe is in its backoff between attempts
      const refusals = () => sim.logs.filter((l) => l.msg === "server not reachable yet").length;
      await sim.waitForLog(() => refusals() >= 2, 10_000, "a second refused probe");
      const summary = await expectCleanStop(sim);
      expect(summary).toMatchObject({ points_generated: 0, points_written: 0, points_dropped: 0 });
    } finally {
      sim.process.kill("SIGKILL");
    }
  });

  test("server accepting connections and never answering the TLS handshake: the probe is aborted", async () => {
    const silent = new SilentServer();
    await silent.start();
    const sim = startSimulator(
      baseEnv({ INFLUX_URL: silent.url, INFLUX_ORG: "iot", INFLUX_BUCKET: "sensors", INFLUX_TOKEN: "unused-token", ...shutdownEnv }),
    );
    try {
      await withDeadline(silent.connected, 10_000, "the probe's connection");
      const summary = await expectCleanStop(sim);
      expect(summary).toMatchObject({ points_generated: 0, points_written: 0, points_dropped: 0 });
      expect(sim.logs.some((l) => l.msg === "server reachable")).toBe(false);
    } finally {
      sim.process.kill("SIGKILL");
      await silent.stop();
    }
  });

  test("server completing TLS and never answering GET /health: the probe is aborted", async () => {
    const { server, caFile } = await startTlsServer();
    server.hang = "everything";
    const sim = startSimulator(baseEnv({ ...connectionEnv(server, caFile), ...shutdownEnv }));
    try {
      await server.waitFor(() => server.heldRequests >= 1, 10_000, "the probe's request");
      const summary = await expectCleanStop(sim);
      expect(summary).toMatchObject({ points_generated: 0, points_written: 0, points_dropped: 0 });
    } finally {
      sim.process.kill("SIGKILL");
      await server.stop();
    }
  });
});

describe("SIGTERM with writes in flight to a server that stopped answering", () => {
  let tls: TlsServer;
  beforeEach(async () => {
    tls = await startTlsServer();
  });
  afterEach(async () => {
    await tls.server.stop().catch(() => undefined);
  });

  test.each<{ state: string; extraEnv: Record<string, string>; heldLines: number }>([
    { state: "writes in flight", extraEnv: {}, heldLines: 100 },
    // the fleet waits for capacity: nothing more is generated until writes complete
    { state: "the fleet blocked on the in-flight cap", extraEnv: { SIM_MAX_INFLIGHT_LINES: "300" }, heldLines: 300 },
  ])("$state: requests aborted, their points counted as dropped, exit 0 within the shutdown timeout", async ({ extraEnv, heldLines }) => {
    const { server, caFile } = tls;
    const sim = startSimulator(baseEnv({ ...connectionEnv(server, caFile), SIM_DEVICES: "50", SIM_INTERVAL_MS: "100", ...shutdownEnv, ...extraEnv }));
    try {
      await server.waitFor(() => server.points.size >= 200, 20_000, "first points");
      server.hang = "writes";
      await server.waitFor(() => server.heldLines >= heldLines, 20_000, `${heldLines} points in unanswered writes`);

      const summary = await expectCleanStop(sim);
      // nothing was lost between the fleet and the client: what was not written is exactly what the
      // aborted requests carried
      expect(summary.points_written).toBe(server.points.size);
      expect(summary.points_dropped).toBe(server.heldLines);
      const drops = sim.logs.filter((l) => l.msg === "points dropped");
      expect(drops.length).toBeGreaterThan(0);
      for (const drop of drops) expect(drop.reason).toMatch(/shutdown/);
      const aborted = drops.filter((l) => /aborted/.test(l.reason as string)).reduce((sum, l) => sum + (l.points as number), 0);
      expect(aborted).toBe(server.heldLines);
    } finally {
      sim.process.kill("SIGKILL");
    }
  });
});

function withDeadline<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
}
