// A test double of InfluxDB 2's write endpoint on a real HTTP(S) socket: POST /api/v2/write with
// token check, org/bucket/precision check, gzip and strict line-protocol parsing, plus GET /health.
// Its behaviour can be switched mid-run (status codes, Retry-After, refusing connections, accepting
// requests and never answering them).
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from "node:net";
import { gunzipSync } from "node:zlib";
import { METRICS_MEASUREMENT } from "../../src/schema";
import { parseLine, pointKey, type ParsedPoint } from "./line-protocol";

export interface FakeInfluxOptions {
  token: string;
  org: string;
  bucket: string;
  tls?: { certPem: string; keyPem: string };
  /** artificial delay before each write response */
  latencyMs?: number;
}

export type Failure = { status: number; retryAfterSeconds?: number };

/** Requests read in full and then held open without an answer: writes only, or /health too. */
export type Hang = "writes" | "everything";

export class FakeInflux {
  /** the readings; the simulator's own metrics lines are kept apart, so tests count readings as before */
  readonly points = new Map<string, ParsedPoint>();
  /** the simulator's metrics lines (measurement METRICS_MEASUREMENT) */
  readonly metrics = new Map<string, ParsedPoint>();
  /** every accepted reading including duplicates (retries that had in fact landed) */
  acceptedLines = 0;
  writeRequests = 0;
  gzipRequests = 0;
  rejectedAuth = 0;
  badRequests: string[] = [];
  /** any HTTP request at all, including /health: proves whether anything arrived in clear */
  httpRequests = 0;
  precisions = new Set<string>();
  failure?: Failure;
  hang?: Hang;
  /** requests held without an answer, and the readings (and metrics lines) their bodies carried */
  heldRequests = 0;
  heldLines = 0;
  heldMetricsLines = 0;
  private server!: Server;
  private sockets = new Set<Socket>();
  private port = 0;
  private readonly changeListeners = new Set<() => void>();

  constructor(private readonly options: FakeInfluxOptions) {}

  get url(): string {
    return `${this.options.tls ? "https" : "http"}://localhost:${this.port}`;
  }

  async start(port = 0): Promise<void> {
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    this.server = this.options.tls
      ? createHttpsServer({ cert: this.options.tls.certPem, key: this.options.tls.keyPem }, handler)
      : createHttpServer(handler);
    this.server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, "127.0.0.1", () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Stops listening and cuts open connections: clients now get ECONNREFUSED. */
  async refuseConnections(): Promise<void> {
    await this.stop();
  }

  /** Listens again on the same port. */
  async acceptConnections(): Promise<void> {
    await this.start(this.port);
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Resolves when `condition` holds, checking after every request; rejects after `timeoutMs`. */
  waitFor(condition: () => boolean, timeoutMs: number, what = "condition"): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const listener = () => {
        if (condition()) {
          clearTimeout(timer);
          this.changeListeners.delete(listener);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        this.changeListeners.delete(listener);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (points=${this.points.size})`));
      }, timeoutMs);
      this.changeListeners.add(listener);
    });
  }

  private notify(): void {
    for (const listener of [...this.changeListeners]) listener();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.httpRequests++;
    const url = new URL(req.url ?? "/", "http://fake");
    const body = await readBody(req);
    try {
      const isWrite = req.method === "POST" && url.pathname === "/api/v2/write";
      if (this.hang === "everything" || (this.hang === "writes" && isWrite)) {
        this.heldRequests++;
        if (isWrite) {
          const held = countLines(req.headers["content-encoding"] === "gzip" ? gunzipSync(body) : body);
          this.heldLines += held.readings;
          this.heldMetricsLines += held.metrics;
        }
        return; // never answered: the socket stays open until the client gives up or the server stops
      }
      if (req.method === "GET" && url.pathname === "/health") {
        respond(res, 200, { name: "influxdb", status: "pass" });
        return;
      }
      if (req.method !== "POST" || url.pathname !== "/api/v2/write") {
        respond(res, 404, { code: "not found" });
        return;
      }
      this.writeRequests++;
      if (this.options.latencyMs) await new Promise((resolve) => setTimeout(resolve, this.options.latencyMs));
      if (this.failure) {
        const headers: Record<string, string> = {};
        if (this.failure.retryAfterSeconds !== undefined) headers["retry-after"] = String(this.failure.retryAfterSeconds);
        respond(res, this.failure.status, { code: "unavailable", message: "injected failure" }, headers);
        return;
      }
      if (req.headers.authorization !== `Token ${this.options.token}`) {
        this.rejectedAuth++;
        respond(res, 401, { code: "unauthorized", message: "unauthorized access" });
        return;
      }
      if (url.searchParams.get("org") !== this.options.org || url.searchParams.get("bucket") !== this.options.bucket) {
        respond(res, 404, { code: "not found", message: "bucket not found" });
        return;
      }
      const precision = url.searchParams.get("precision") ?? "ns";
      this.precisions.add(precision);
      let text: string;
      if (req.headers["content-encoding"] === "gzip") {
        this.gzipRequests++;
        text = gunzipSync(body).toString("utf8");
      } else {
        text = body.toString("utf8");
      }
      const parsed: ParsedPoint[] = [];
      for (const line of text.split("\n")) {
        if (line === "") continue;
        try {
          parsed.push(parseLine(line));
        } catch (error) {
          this.badRequests.push((error as Error).message);
          respond(res, 400, { code: "invalid", message: (error as Error).message });
          return;
        }
      }
      for (const point of parsed) {
        if (point.measurement === METRICS_MEASUREMENT) this.metrics.set(pointKey(point), point);
        else {
          this.points.set(pointKey(point), point);
          this.acceptedLines++;
        }
      }
      res.writeHead(204).end();
    } finally {
      this.notify();
    }
  }
}

function countLines(body: Buffer): { readings: number; metrics: number } {
  const lines = body
    .toString("utf8")
    .split("\n")
    .filter((line) => line !== "");
  const metrics = lines.filter((line) => line.startsWith(`${METRICS_MEASUREMENT},`)).length;
  return { readings: lines.length - metrics, metrics };
}

/**
 * A TCP server that accepts connections and never sends a byte: a TLS client waits for the
 * handshake, a plain HTTP client for the response, until it gives up.
 */
export class SilentServer {
  connections = 0;
  private readonly server: TcpServer;
  private readonly sockets = new Set<Socket>();
  private onConnection?: () => void;
  /** resolves at the first connection */
  readonly connected: Promise<void> = new Promise((resolve) => (this.onConnection = resolve));

  constructor() {
    this.server = createTcpServer((socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on("error", () => undefined);
      socket.on("close", () => this.sockets.delete(socket));
      this.onConnection?.();
    });
  }

  get url(): string {
    return `https://localhost:${(this.server.address() as AddressInfo).port}`;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function respond(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
}
