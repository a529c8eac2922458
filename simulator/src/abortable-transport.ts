import type { ChunkCombiner, CommunicationObserver, ResponseStartedFn, SendOptions, Transport } from "@influxdata/influxdb-client";

/**
 * The client's own HTTP transport with what its WriteApi lacks for a bounded shutdown: requests can
 * be aborted, and the writer can tell when every request has reported its outcome.
 *
 * Each request gets its own AbortSignal through the transport's SendOptions.signal, which the
 * client hands to http.request (aborting destroys the request's socket) and turns into an error for
 * the caller, so the WriteApi's writeFailed hook receives the lines of each aborted request. One
 * signal per request rather than one for all: the client adds an abort listener per request and
 * never removes it, so a shared signal would keep every request's lines alive.
 */
export class AbortableTransport implements Transport {
  readonly chunkCombiner: ChunkCombiner;
  private readonly underway = new Set<AbortController>();
  private abortedAll = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly inner: Transport) {
    this.chunkCombiner = inner.chunkCombiner;
  }

  /** Requests sent and not yet ended (answered, failed or aborted). */
  get openRequests(): number {
    return this.underway.size;
  }

  get aborted(): boolean {
    return this.abortedAll;
  }

  /** Aborts every request under way, and every one sent from now on. */
  abort(): void {
    this.abortedAll = true;
    for (const controller of [...this.underway]) controller.abort();
  }

  /** Resolves once no request is under way, or at `deadline` (epoch ms), whichever comes first. */
  whenIdle(deadline: number): Promise<void> {
    if (this.underway.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  send(path: string, body: string, options: SendOptions, callbacks?: Partial<CommunicationObserver<Uint8Array>>): void {
    const controller = new AbortController();
    if (this.abortedAll) controller.abort();
    this.underway.add(controller);
    const end = () => {
      if (!this.underway.delete(controller) || this.underway.size > 0) return;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const waiter of waiters) waiter();
    };
    // The caller's callbacks run first, then the request counts as ended: once none is under way,
    // every outcome has been reported.
    this.inner.send(path, body, { ...options, signal: controller.signal }, {
      ...callbacks,
      error: (error: Error) => {
        try {
          callbacks?.error?.(error);
        } finally {
          end();
        }
      },
      complete: () => {
        try {
          callbacks?.complete?.();
        } finally {
          end();
        }
      },
    });
  }

  // Not used by the WriteApi (it only calls send); delegated unchanged.
  request(path: string, body: unknown, options: SendOptions, responseStarted?: ResponseStartedFn): Promise<unknown> {
    return this.inner.request(path, body, options, responseStarted);
  }

  iterate(path: string, body: unknown, options: SendOptions): AsyncIterableIterator<Uint8Array> {
    return this.inner.iterate(path, body, options);
  }
}
