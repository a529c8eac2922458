import { lookup as systemLookup, promises as dnsPromises, type LookupAddress, type LookupOptions } from "node:dns";
import { isIP } from "node:net";

/**
 * Host-name resolution for every connection the simulator makes, with c-ares (dns.Resolver) on
 * the event loop instead of getaddrinfo in libuv's thread pool.
 *
 * Why: Node's exit waits for the thread pool's threads, so a getaddrinfo that hangs holds
 * process.exit() until the lookup gives up. On the stack's internal network that happens when
 * InfluxDB's container is down: Docker's embedded DNS no longer knows the name and forwards the
 * query to resolvers the internal network cannot reach. On the real engine the simulator then
 * logged its summary within its shutdown deadline and still outlived Docker's stop timeout
 * (exit 137). A c-ares query in flight does not hold the exit.
 *
 * IP literals and "localhost" (answered from /etc/hosts, which c-ares's resolve does not read) go
 * through the system resolver, which answers them without asking a DNS server.
 */
export function createLookup(options: { timeoutMs: number; servers?: string[] }) {
  const resolver = new dnsPromises.Resolver({ timeout: options.timeoutMs, tries: 2 });
  if (options.servers) resolver.setServers(options.servers);

  const resolveAll = async (hostname: string, family: number | undefined): Promise<LookupAddress[]> => {
    const found: LookupAddress[] = [];
    let lastError: unknown;
    for (const [wanted, resolve] of [
      [4, (h: string) => resolver.resolve4(h)],
      [6, (h: string) => resolver.resolve6(h)],
    ] as const) {
      if (family && family !== wanted) continue;
      try {
        for (const address of await resolve(hostname)) found.push({ address, family: wanted });
      } catch (error) {
        lastError = error;
      }
      if (found.length > 0) break;
    }
    if (found.length === 0) throw lastError ?? Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" });
    return found;
  };

  // The signature net.connect expects of a `lookup` option, with and without `all`.
  return function lookup(
    hostname: string,
    opts: LookupOptions,
    callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void {
    if (isIP(hostname) !== 0 || hostname === "localhost") {
      systemLookup(hostname, opts as never, callback as never);
      return;
    }
    resolveAll(hostname, opts.family === 4 || opts.family === 6 ? opts.family : undefined).then(
      (addresses) => (opts.all ? callback(null, addresses) : callback(null, addresses[0].address, addresses[0].family)),
      (error: NodeJS.ErrnoException) => callback(error, opts.all ? [] : "", undefined),
    );
  };
}
