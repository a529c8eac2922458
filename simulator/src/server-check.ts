import { request as httpsRequest } from "node:https";
import { createLookup } from "./lookup";
import { request as httpRequest } from "node:http";
import type { Logger } from "pino";
import type { SimulatorConfig } from "./config";
import { isTlsTrustError } from "./errors";

/** The server's certificate is not trusted: retrying cannot fix it, so the process stops. */
export class TlsTrustError extends Error {
  constructor(url: URL, cause: Error & { code?: string }, caConfigured: boolean) {
    super(
      `TLS certificate of ${url.origin} is not trusted (${cause.code}: ${cause.message}); ` +
        (caConfigured
          ? "check that INFLUX_CA_FILE holds the CA that signed the server certificate and that the URL host is in its SANs"
          : "set INFLUX_CA_FILE to the CA that signed the server certificate"),
    );
    this.name = "TlsTrustError";
  }
}

let sharedLookup: ReturnType<typeof createLookup> | undefined;
/** Names resolved off the thread pool, so that no lookup can hold the exit (lookup.ts). */
function probeLookup(config: SimulatorConfig) {
  return (sharedLookup ??= createLookup({ timeoutMs: config.requestTimeoutMs }));
}

function probe(config: SimulatorConfig, signal?: AbortSignal): Promise<number> {
  const url = new URL("/health", config.influxUrl);
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      // `signal` aborts the request at once, in the handshake or while waiting for the answer
      { method: "GET", timeout: config.requestTimeoutMs, ca: config.caPem, rejectUnauthorized: true, signal, lookup: probeLookup(config) },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Waits until the server answers GET /health, for at most the startup timeout. A certificate the
 * configured CA does not vouch for fails at once (nothing else is sent); an unreachable server
 * only delays the start, because the write path buffers and retries anyway. When `signal` aborts
 * (SIGTERM), the request under way is aborted and the wait ends at once.
 */
export async function checkServer(config: SimulatorConfig, log: Logger, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + config.startupTimeoutMs;
  let delay = 250;
  while (!signal?.aborted) {
    try {
      const status = await probe(config, signal);
      if (status >= 200 && status < 300) {
        log.info({ url: config.influxUrl.origin }, "server reachable");
        return;
      }
      log.warn({ status }, "server not ready yet");
    } catch (error) {
      if (signal?.aborted) break;
      if (isTlsTrustError(error)) throw new TlsTrustError(config.influxUrl, error as Error & { code?: string }, !!config.caPem);
      log.warn({ err: { message: (error as Error).message, code: (error as NodeJS.ErrnoException).code } }, "server not reachable yet");
    }
    if (Date.now() + delay > deadline) {
      log.warn({ url: config.influxUrl.origin }, "server still not ready; starting anyway, writes will be retried");
      return;
    }
    await sleep(delay, signal);
    delay = Math.min(delay * 2, 5000);
  }
  log.info({ url: config.influxUrl.origin }, "startup check abandoned: stopping");
}

/** Waits `ms`, or less if `signal` aborts meanwhile. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
