// The benchmark's sink: a minimal InfluxDB write endpoint in its own process. It answers 204,
// gunzips, counts lines, and (when asked) records each line's lag: arrival time minus the
// timestamp the line carries, i.e. minus the time the reading was scheduled.
// Control: GET /stats, POST /reset, POST /mode?status=503&latencyMs=200&lag=1.
import { createServer, type IncomingMessage } from "node:http";
import { createHistogram } from "node:perf_hooks";
import { gunzipSync } from "node:zlib";

let lines = 0;
let requests = 0;
let bodyBytes = 0;
let failures = 0;
let lag = createHistogram();
let trackLag = false;
let failStatus = 0;
let latencyMs = 0;
let firstArrival = 0;
let lastArrival = 0;

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** Counts the lines of a body and, when tracking lag, parses each line's trailing millisecond timestamp. */
function absorb(body: Buffer, now: number): number {
  let count = 0;
  let start = 0;
  const end = body.length;
  while (start < end) {
    let newline = body.indexOf(10, start);
    if (newline < 0) newline = end;
    if (newline > start) {
      count++;
      if (trackLag) {
        let ts = 0;
        let scale = 1;
        for (let i = newline - 1; i >= start && body[i] !== 32; i--) {
          ts += (body[i] - 48) * scale;
          scale *= 10;
        }
        lag.record(Math.max(1, now - ts));
      }
    }
    start = newline + 1;
  }
  return count;
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? "/", "http://sink");
  const body = await readBody(req);
  if (url.pathname === "/api/v2/write") {
    if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));
    requests++;
    if (failStatus) {
      failures++;
      res.writeHead(failStatus, { "content-type": "application/json" }).end('{"code":"unavailable"}');
      return;
    }
    const now = Date.now();
    const text = req.headers["content-encoding"] === "gzip" ? gunzipSync(body) : body;
    bodyBytes += body.length;
    lines += absorb(text, now);
    if (!firstArrival) firstArrival = now;
    lastArrival = now;
    res.writeHead(204).end();
  } else if (url.pathname === "/health") {
    res.writeHead(200, { "content-type": "application/json" }).end('{"status":"pass"}');
  } else if (url.pathname === "/stats") {
    const cpu = process.cpuUsage();
    res.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({
        lines,
        requests,
        failures,
        bodyBytes,
        firstArrival,
        lastArrival,
        lagP50Ms: lag.count ? lag.percentile(50) : null,
        lagP99Ms: lag.count ? lag.percentile(99) : null,
        lagSamples: lag.count,
        sinkCpuMs: (cpu.user + cpu.system) / 1000,
      }),
    );
  } else if (url.pathname === "/reset") {
    lines = requests = bodyBytes = failures = firstArrival = lastArrival = 0;
    lag = createHistogram();
    res.writeHead(204).end();
  } else if (url.pathname === "/mode") {
    failStatus = Number(url.searchParams.get("status") ?? 0);
    latencyMs = Number(url.searchParams.get("latencyMs") ?? 0);
    trackLag = url.searchParams.get("lag") === "1";
    res.writeHead(204).end();
  } else {
    res.writeHead(404).end();
  }
});
server.keepAliveTimeout = 120_000;
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: (server.address() as { port: number }).port }) + "\n");
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
