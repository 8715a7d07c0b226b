import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { AbortedError, type Logger } from '@netmachine/core';

/** How a link reports its NATS connection. */
export type LinkEvent =
  | { type: 'nats:connected'; server: string }
  | { type: 'nats:disconnected'; server: string }
  | { type: 'nats:reconnected'; server: string }
  | { type: 'nats:error'; error: Error }
  | { type: 'nats:slow-consumer'; subject: string; pending: number };

export interface LinkOptions {
  /** NATS servers (`nats://host:port`); ignored when `connection` is given. */
  servers?: readonly string[];
  /** A connection the caller owns: the link uses it and never closes it. */
  connection?: NatsConnection;
  /** Extra client options: credentials, TLS, ping interval. Reconnection is always on. */
  natsOptions?: Partial<NodeConnectionOptions>;
  /** First and longest delay between reconnect attempts (exponential backoff with jitter). */
  minReconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
}

export interface LinkHooks {
  /** A new connection: set up subscriptions (NATS renews them itself across reconnects). */
  onConnection(connection: NatsConnection): void;
  /** Up again after an outage (also right after `onConnection`). */
  onUp(): void;
  onDown(): void;
  onEvent(event: LinkEvent): void;
}

/**
 * Keeps one NATS connection alive for as long as it runs: the first connection is retried with
 * backoff (a node may start before its NATS server), reconnection never gives up, and a
 * connection that closes anyway is replaced. Nothing here throws at the caller.
 */
export class NatsLink {
  private current: NatsConnection | undefined;
  private up = false;
  private stopped = false;
  private readonly abort = new AbortController();
  private waiters: (() => void)[] = [];
  private attempts = 0;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly options: LinkOptions,
    private readonly hooks: LinkHooks,
    private readonly logger: Logger,
    private readonly clientName: string,
  ) {}

  get connection(): NatsConnection | undefined {
    return this.current;
  }

  get isUp(): boolean {
    return this.up;
  }

  start(): void {
    if (this.loop) return;
    this.loop = this.run().catch((error) => this.logger.error({ err: error }, 'NATS link loop failed'));
  }

  /** Resolves when connected; rejects with AbortedError on `signal` or when the link stops. */
  whenUp(signal?: AbortSignal): Promise<void> {
    if (this.up) return Promise.resolve();
    if (this.stopped) return Promise.reject(new AbortedError('NATS link stopped'));
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.waiters = this.waiters.filter((w) => w !== wake);
        reject(new AbortedError(signal?.reason ?? 'NATS link stopped'));
      };
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        this.abort.signal.removeEventListener('abort', onAbort);
        resolve();
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.abort.signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(wake);
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    const wasUp = this.up;
    this.setUp(false);
    const connection = this.current;
    if (connection && !this.options.connection && !connection.isClosed()) {
      // Drain delivers what is already in flight both ways, then closes. It needs the server:
      // without one (or if it takes too long) the connection is simply closed.
      if (wasUp) await withTimeout(connection.drain(), DRAIN_TIMEOUT_MS).catch(() => {});
      if (!connection.isClosed()) await connection.close().catch(() => {});
    }
    // A connect attempt in progress is not cancellable; the loop drops its result.
    if (this.loop) await withTimeout(this.loop, DRAIN_TIMEOUT_MS).catch(() => {});
  }

  private setUp(up: boolean): void {
    if (this.up === up) return;
    this.up = up;
    if (up) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
      this.hooks.onUp();
    } else {
      this.hooks.onDown();
    }
  }

  private nextDelay(): number {
    const min = this.options.minReconnectDelayMs ?? 100;
    const max = this.options.maxReconnectDelayMs ?? 5000;
    const base = Math.min(max, min * 2 ** Math.min(this.attempts++, 16));
    return base / 2 + Math.random() * (base / 2);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const connection = await this.open();
      if (connection === undefined) return;
      if (this.stopped) {
        // Connected just as the link stopped: nobody will use this connection.
        if (!this.options.connection) await connection.close().catch(() => {});
        return;
      }
      this.current = connection;
      this.attempts = 0;
      this.hooks.onConnection(connection);
      this.hooks.onEvent({ type: 'nats:connected', server: connection.getServer() });
      this.setUp(true);
      await Promise.all([this.watch(connection), connection.closed()]);
      this.setUp(false);
      if (this.options.connection) return; // not ours to replace
    }
  }

  /** Connects, retrying with backoff until it works or the link stops. */
  private async open(): Promise<NatsConnection | undefined> {
    if (this.options.connection) return this.options.connection;
    while (!this.stopped) {
      try {
        return await connect({
          name: this.clientName,
          ...this.options.natsOptions,
          servers: [...(this.options.servers ?? [])],
          reconnect: true,
          maxReconnectAttempts: -1,
          reconnectDelayHandler: () => this.nextDelay(),
        });
      } catch (error) {
        // Loud once, then quiet: an outage must not flood the log.
        if (this.attempts === 0)
          this.logger.warn({ err: error }, 'NATS connect failed; retrying with backoff');
        else this.logger.debug({ err: error }, 'NATS connect failed; retrying');
        await sleep(this.nextDelay(), this.abort.signal);
      }
    }
    return undefined;
  }

  private async watch(connection: NatsConnection): Promise<void> {
    for await (const status of connection.status()) {
      switch (status.type) {
        case 'disconnect':
          this.logger.warn({ server: status.server }, 'NATS disconnected');
          this.hooks.onEvent({ type: 'nats:disconnected', server: status.server });
          this.setUp(false);
          break;
        case 'reconnect':
          this.attempts = 0;
          this.logger.info({ server: status.server }, 'NATS reconnected');
          this.hooks.onEvent({ type: 'nats:reconnected', server: status.server });
          this.setUp(true);
          break;
        case 'error':
          this.logger.warn({ err: status.error }, 'NATS error');
          this.hooks.onEvent({ type: 'nats:error', error: status.error });
          break;
        case 'slowConsumer':
          this.hooks.onEvent({
            type: 'nats:slow-consumer',
            subject: status.sub.getSubject(),
            pending: status.pending,
          });
          break;
        default:
          break;
      }
    }
  }
}

/** The largest message the NATS server accepts (it says so when we connect; 1 MiB by default). */
export function maxPayload(connection: NatsConnection): number {
  return connection.info?.max_payload ?? 1024 * 1024;
}

/** How long `stop` lets a drain run before it closes the connection outright. */
const DRAIN_TIMEOUT_MS = 2000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out')), ms);
    timer.unref();
    promise.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
