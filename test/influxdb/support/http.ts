// HTTPS to the test server, verified against the test CA, and InfluxDB's two data APIs the stack
// uses: line-protocol writes (the simulator) and Flux queries answered as annotated CSV (Grafana).
import { request } from "node:https";
import { readFileSync } from "node:fs";
import { connect, type SecureVersion } from "node:tls";

export interface Endpoint {
  port: number;
  caFile: string;
}

export interface Response {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface RequestOptions {
  method: string;
  path: string;
  token?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
  /** the name the certificate is checked against (default localhost) */
  servername?: string;
}

export function httpsRequest(endpoint: Endpoint, o: RequestOptions): Promise<Response> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.token !== undefined) headers.authorization = `Token ${o.token}`;
    const req = request(
      {
        host: "127.0.0.1",
        port: endpoint.port,
        servername: o.servername ?? "localhost",
        method: o.method,
        path: o.path,
        headers,
        ca: readFileSync(endpoint.caFile),
        timeout: o.timeoutMs ?? 30_000,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), headers: res.headers }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${o.method} ${o.path}: no answer within ${o.timeoutMs ?? 30_000} ms`)));
    req.on("error", reject);
    req.end(o.body);
  });
}

/** POST /api/v2/write with the org and bucket by name, as the simulator's client sends them. */
export function writeLines(endpoint: Endpoint, token: string, org: string, bucket: string, lines: string, precision = "ms"): Promise<Response> {
  const query = new URLSearchParams({ org, bucket, precision });
  return httpsRequest(endpoint, {
    method: "POST",
    path: `/api/v2/write?${query}`,
    token,
    headers: { "content-type": "text/plain; charset=utf-8" },
    body: lines,
  });
}

export interface FluxTable {
  /** column name → Flux datatype (the #datatype annotation) */
  datatypes: Record<string, string>;
  rows: Array<Record<string, string>>;
}

export interface FluxResult {
  status: number;
  /** the server's error message (an HTTP error, or an error table in the CSV) */
  error?: string;
  tables: FluxTable[];
  /** data rows over all tables */
  rowCount: number;
  raw: string;
}

/**
 * POST /api/v2/query?org=<name> with the annotations Grafana's client asks for
 * (influxdb-client-go's QueryAPI.Query, used by Grafana's pkg/tsdb/influxdb/flux/flux.go).
 */
export async function fluxQuery(endpoint: Endpoint, token: string, org: string, flux: string, timeoutMs = 60_000): Promise<FluxResult> {
  const res = await httpsRequest(endpoint, {
    method: "POST",
    path: `/api/v2/query?${new URLSearchParams({ org })}`,
    token,
    headers: { "content-type": "application/json", accept: "application/csv" },
    body: JSON.stringify({ query: flux, type: "flux", dialect: { header: true, delimiter: ",", annotations: ["datatype", "group", "default"] } }),
    timeoutMs,
  });
  if (res.status !== 200) {
    let message = res.body;
    try {
      message = JSON.parse(res.body).message ?? res.body;
    } catch {
      // not JSON: keep the body
    }
    return { status: res.status, error: message, tables: [], rowCount: 0, raw: res.body };
  }
  const tables = parseAnnotatedCsv(res.body);
  const errorTable = tables.find((t) => "error" in t.datatypes && "reference" in t.datatypes);
  const error = errorTable?.rows[0]?.error;
  return { status: res.status, error, tables: errorTable ? [] : tables, rowCount: errorTable ? 0 : tables.reduce((n, t) => n + t.rows.length, 0), raw: res.body };
}

/** Splits CSV text into records (RFC 4180: quoted fields may hold commas, quotes and newlines). */
export function csvRecords(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ",") {
      record.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      record.push(field);
      records.push(record);
      record = [];
      field = "";
    } else {
      field += c;
    }
  }
  if (field !== "" || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records;
}

/**
 * Annotated CSV (InfluxDB's Flux response): tables separated by empty lines, each with its
 * #datatype/#group/#default annotations, a header row and data rows. The first column of every
 * row is the annotation column, empty in header and data rows.
 */
export function parseAnnotatedCsv(text: string): FluxTable[] {
  const tables: FluxTable[] = [];
  let datatypes: string[] | undefined;
  let header: string[] | undefined;
  let current: FluxTable | undefined;
  for (const record of csvRecords(text)) {
    if (record.length === 1 && record[0] === "") {
      datatypes = undefined;
      header = undefined;
      current = undefined;
      continue;
    }
    if (record[0] === "#datatype") {
      datatypes = record;
      header = undefined;
      continue;
    }
    if (record[0].startsWith("#")) continue;
    if (!header) {
      header = record;
      current = { datatypes: Object.fromEntries(header.map((name, i) => [name, datatypes?.[i] ?? "string"]).filter(([name]) => name !== "")), rows: [] };
      tables.push(current);
      continue;
    }
    // A header repeated without a blank line starts a new table (several tables share a schema).
    if (record.join(",") === header.join(",")) continue;
    current!.rows.push(Object.fromEntries(header.map((name, i) => [name, record[i] ?? ""]).filter(([name]) => name !== "")));
  }
  return tables;
}

export interface Handshake {
  ok: boolean;
  protocol?: string;
  cipher?: string;
  error?: string;
}

/** A TLS handshake with the given limits, verified against the test CA; says what was agreed or why not. */
export function tlsHandshake(endpoint: Endpoint, o: { servername?: string; minVersion?: SecureVersion; maxVersion?: SecureVersion; ciphers?: string }): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = connect({
      host: "127.0.0.1",
      port: endpoint.port,
      servername: o.servername ?? "localhost",
      ca: readFileSync(endpoint.caFile),
      minVersion: o.minVersion,
      maxVersion: o.maxVersion,
      ciphers: o.ciphers,
    });
    const timer = setTimeout(() => socket.destroy(new Error("no handshake within 10 s")), 10_000);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      resolve({ ok: socket.authorized, protocol: socket.getProtocol() ?? undefined, cipher: socket.getCipher()?.standardName, error: socket.authorized ? undefined : String(socket.authorizationError) });
      socket.end();
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      resolve({ ok: false, error: error.message });
    });
  });
}
