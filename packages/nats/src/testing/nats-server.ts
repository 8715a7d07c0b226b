import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NatsServerOptions {
  /** The nats-server binary. Default `nats-server` from PATH (or NATS_SERVER_BIN). */
  binary?: string;
  /** Extra command-line arguments (e.g. `--user`, `--pass`). */
  args?: readonly string[];
  /** How long to wait for the server to come up. Default 15 s. */
  startTimeoutMs?: number;
  /**
   * Join a cluster: listen for routes on a free port of 127.0.0.1 (kept across restarts) and
   * connect to the given route URLs (`nats://127.0.0.1:PORT` of other servers' cluster ports).
   */
  cluster?: { name: string; routes: readonly string[] };
}

/** What nats-server writes to its ports file. */
interface PortsFile {
  nats: string[];
  cluster?: string[];
  monitoring?: string[];
}

/**
 * A real nats-server in a child process on a free port of 127.0.0.1, for tests. `restart` brings
 * it back on the same port, so clients reconnect to the address they know.
 */
export class NatsServer {
  private child: ChildProcess | undefined;
  private portNumber = 0;
  private clusterPortNumber = -1;
  private monitorPortNumber = -1;

  private constructor(
    private readonly options: NatsServerOptions,
    private readonly dir: string,
  ) {}

  /** Starts a server on a port the OS picks. */
  static async start(options: NatsServerOptions = {}): Promise<NatsServer> {
    const dir = await mkdtemp(join(tmpdir(), 'nm-nats-'));
    const server = new NatsServer(options, dir);
    try {
      await server.launch(-1);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    return server;
  }

  get port(): number {
    return this.portNumber;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.portNumber}`;
  }

  /** The route (cluster) URL other servers connect to; empty when not in a cluster. */
  get routeUrl(): string {
    return this.options.cluster ? `nats://127.0.0.1:${this.clusterPortNumber}` : '';
  }

  /** The HTTP monitoring endpoint (`/varz`, `/routez`, …). */
  get monitorUrl(): string {
    return `http://127.0.0.1:${this.monitorPortNumber}`;
  }

  /** Routes to other servers established right now (from `/routez`); 0 when not running. */
  async routeCount(): Promise<number> {
    if (!this.running) return 0;
    const response = await fetch(`${this.monitorUrl}/routez`);
    const body = (await response.json()) as { num_routes?: number };
    return body.num_routes ?? 0;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Stops gracefully (SIGTERM) and waits for the process to exit. */
  async stop(): Promise<void> {
    await this.terminate('SIGTERM');
  }

  /** Kills at once (SIGKILL): clients see the connection drop without a goodbye. */
  async kill(): Promise<void> {
    await this.terminate('SIGKILL');
  }

  /** Starts again on the same port after `stop` or `kill` (stopping first if still running). */
  async restart(): Promise<void> {
    if (this.child) await this.stop();
    // The port was ours a moment ago; another process may take it in between, rarely. Retry a little.
    let lastError: unknown;
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        await this.launch(this.portNumber);
        return;
      } catch (error) {
        lastError = error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    throw lastError;
  }

  /** Stops the server and removes its temporary directory. */
  async close(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async launch(port: number): Promise<void> {
    const binary = this.options.binary ?? process.env.NATS_SERVER_BIN ?? 'nats-server';
    const cluster = this.options.cluster;
    const args = [
      '-a',
      '127.0.0.1',
      '-p',
      String(port),
      '-m',
      String(this.monitorPortNumber),
      '--ports_file_dir',
      this.dir,
      ...(cluster
        ? [
            '--cluster_name',
            cluster.name,
            '--cluster',
            `nats://127.0.0.1:${this.clusterPortNumber}`,
            ...(cluster.routes.length > 0 ? ['--routes', cluster.routes.join(',')] : []),
          ]
        : []),
      ...(this.options.args ?? []),
    ];
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let output = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      if (output.length < 16_384) output += chunk.toString();
    });
    let exited: { code: number | null } | undefined;
    let spawnError: Error | undefined;
    child.once('exit', (code) => {
      exited = { code };
    });
    child.once('error', (error) => {
      spawnError = error;
    });
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 15_000);
    // nats-server writes the ports file once it listens, and removes it when it exits.
    const portsFile = () => join(this.dir, `nats-server_${child.pid}.ports`);
    while (true) {
      if (spawnError) throw spawnError;
      if (exited) throw new Error(`nats-server exited with code ${exited.code}: ${output.slice(-2000)}`);
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`nats-server did not start: ${output.slice(-2000)}`);
      }
      const text = await readFile(portsFile(), 'utf8').catch(() => undefined);
      const ports = text ? parsePorts(text) : undefined;
      if (ports) {
        this.portNumber = portOf(ports.nats[0]);
        this.monitorPortNumber = portOf(ports.monitoring?.[0]);
        if (cluster) this.clusterPortNumber = portOf(ports.cluster?.[0]);
        this.child = child;
        child.stderr?.removeAllListeners('data');
        child.stderr?.resume();
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  private async terminate(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }
}

function portOf(url: string | undefined): number {
  return url ? Number(new URL(url).port) : -1;
}

/** The ports file, or undefined while it is still being written. */
function parsePorts(text: string): PortsFile | undefined {
  try {
    const ports = JSON.parse(text) as PortsFile;
    return Array.isArray(ports.nats) ? ports : undefined;
  } catch {
    return undefined;
  }
}
