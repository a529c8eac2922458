// Host names are resolved off libuv's thread pool (src/lookup.ts), because Node's exit waits for
// the pool: on the real engine a lookup hanging on Docker's DNS (InfluxDB's container down) kept
// the simulator alive past Docker's stop timeout after it had logged its summary.
import { spawn } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execFileSync } from "node:child_process";
import { createLookup } from "../src/lookup";

/** A DNS server on loopback that answers every A query with 127.0.0.1 (RFC 1035 message format). */
function startDnsServer(): Promise<{ socket: Socket; port: number }> {
  const socket = createSocket("udp4");
  socket.on("message", (query, peer) => {
    let end = 12;
    while (query[end] !== 0) end += query[end] + 1;
    const question = query.subarray(12, end + 5);
    const header = Buffer.from([query[0], query[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
    socket.send(Buffer.concat([header, question, answer]), peer.port, peer.address);
  });
  return new Promise((done) => socket.bind(0, "127.0.0.1", () => done({ socket, port: socket.address().port })));
}

/** A UDP port that never answers. */
function silentPort(): Promise<{ socket: Socket; port: number }> {
  const socket = createSocket("udp4");
  return new Promise((done) => socket.bind(0, "127.0.0.1", () => done({ socket, port: socket.address().port })));
}

function lookupOnce(lookup: ReturnType<typeof createLookup>, host: string, all = false): Promise<unknown> {
  return new Promise((done, fail) => lookup(host, { all }, (error, address, family) => (error ? fail(error) : done(all ? address : { address, family }))));
}

/** Runs `script` in a fresh node, returns how long it took to exit (killed after `deadlineMs`). */
function timeToExit(script: string, deadlineMs: number): Promise<{ ms: number; killed: boolean }> {
  const started = Date.now();
  const child = spawn(process.execPath, ["-e", script], { stdio: "inherit" });
  const timer = setTimeout(() => child.kill("SIGKILL"), deadlineMs);
  return new Promise((done) =>
    child.on("exit", (_code, signal) => {
      clearTimeout(timer);
      done({ ms: Date.now() - started, killed: signal === "SIGKILL" });
    }),
  );
}

test("names are resolved with the configured DNS server; localhost and IP literals without one", async () => {
  const dns = await startDnsServer();
  try {
    const lookup = createLookup({ timeoutMs: 2000, servers: [`127.0.0.1:${dns.port}`] });
    expect(await lookupOnce(lookup, "influxdb")).toEqual({ address: "127.0.0.1", family: 4 });
    expect(await lookupOnce(lookup, "influxdb", true)).toEqual([{ address: "127.0.0.1", family: 4 }]);
    expect(await lookupOnce(lookup, "127.0.0.1")).toEqual({ address: "127.0.0.1", family: 4 });
    expect(((await lookupOnce(lookup, "localhost")) as { address: string }).address).toMatch(/^(127\.0\.0\.1|::1)$/);
  } finally {
    dns.socket.close();
  }
});

test("a lookup that gets no answer fails after its timeout instead of hanging", async () => {
  const silent = await silentPort();
  try {
    const lookup = createLookup({ timeoutMs: 200, servers: [`127.0.0.1:${silent.port}`] });
    await expect(lookupOnce(lookup, "influxdb")).rejects.toMatchObject({ code: expect.stringMatching(/ETIMEOUT|ECONNREFUSED|ENOTFOUND/) });
  } finally {
    silent.socket.close();
  }
});

test("a lookup in flight does not hold process.exit, where work in the thread pool does", async () => {
  const silent = await silentPort();
  const fifo = join(mkdtempSync(join(tmpdir(), "lookup-")), "fifo");
  execFileSync("mkfifo", [fifo]);
  const lookupModule = JSON.stringify(resolve(__dirname, "../dist/lookup.js"));
  try {
    // our lookup waiting on a DNS server that never answers, with a 30 s timeout
    const ours = await timeToExit(
      `const { createLookup } = require(${lookupModule});
       createLookup({ timeoutMs: 30000, servers: ["127.0.0.1:${silent.port}"] })("influxdb", {}, () => {});
       setTimeout(() => process.exit(0), 200);`,
      5000,
    );
    // the mechanism: a thread-pool task that does not return (reading a FIFO nobody writes) holds the exit
    const pool = await timeToExit(`require("fs").readFile(${JSON.stringify(fifo)}, () => {}); setTimeout(() => process.exit(0), 200);`, 3000);
    expect(ours.killed).toBe(false);
    expect(pool.killed).toBe(true);
  } finally {
    silent.socket.close();
  }
}, 20_000);
