import { NatsServer, type NatsServerOptions } from './nats-server.js';

export interface NatsClusterOptions extends Omit<NatsServerOptions, 'cluster'> {
  /** Servers in the cluster. Default 3. */
  size?: number;
  /** The cluster's name (servers refuse routes from another name). Default `nm-test`. */
  name?: string;
  /** How long to wait for the full mesh of routes. Default 15 s. */
  routeTimeoutMs?: number;
}

/**
 * Real nats-server processes joined by cluster routes on free ports of 127.0.0.1, for tests. Each
 * server can be killed and restarted on its own (same client and route ports); clients given all
 * `urls` fail over to a surviving server.
 */
export class NatsCluster {
  private constructor(
    readonly servers: readonly NatsServer[],
    private readonly routeTimeoutMs: number,
  ) {}

  /** Starts the servers one after another, each routed to those before it, and waits for the mesh. */
  static async start(options: NatsClusterOptions = {}): Promise<NatsCluster> {
    const { size = 3, name = 'nm-test', routeTimeoutMs = 15_000, ...serverOptions } = options;
    const servers: NatsServer[] = [];
    try {
      for (let i = 0; i < size; i++) {
        const routes = servers.map((server) => server.routeUrl);
        servers.push(await NatsServer.start({ ...serverOptions, cluster: { name, routes } }));
      }
      const cluster = new NatsCluster(servers, routeTimeoutMs);
      await cluster.whenMeshed();
      return cluster;
    } catch (error) {
      await Promise.all(servers.map((server) => server.close()));
      throw error;
    }
  }

  /** Client URLs of all servers, in order. */
  get urls(): string[] {
    return this.servers.map((server) => server.url);
  }

  /** Server `i` (0-based). */
  server(i: number): NatsServer {
    const server = this.servers[i];
    if (server === undefined) throw new RangeError(`no server ${i} in a cluster of ${this.servers.length}`);
    return server;
  }

  /** Client URLs with server `first` first (for clients that should start there and fail over). */
  urlsFrom(first: number): string[] {
    const urls = this.urls;
    return [urls[first] as string, ...urls.filter((_, i) => i !== first)];
  }

  /** Resolves when every running server has a route to every other running server. */
  async whenMeshed(signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.routeTimeoutMs;
    for (;;) {
      signal?.throwIfAborted();
      const running = this.servers.filter((server) => server.running);
      const counts = await Promise.all(running.map((server) => server.routeCount().catch(() => -1)));
      // A killed server's routes linger until the survivors notice, so count at least, not exactly.
      if (counts.every((count) => count >= running.length - 1)) return;
      if (Date.now() > deadline) throw new Error(`nats cluster routes not up: ${counts.join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Kills every server and removes their directories. */
  async close(): Promise<void> {
    await Promise.all(this.servers.map((server) => server.close()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
