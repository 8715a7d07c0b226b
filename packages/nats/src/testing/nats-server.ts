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
}

/**
 * A real nats-server in a child process on a free port of 127.0.0.1, for tests. `restart` brings
 * it back on the same port, so clients reconnect to the address they know.
 */
export class NatsServer {
  private child: ChildProcess | undefined;
  private portNumber = 0;

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
    const args = [
      '-a',
      '127.0.0.1',
      '-p',
      String(port),
      '--ports_file_dir',
      this.dir,
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
      if (text) {
        const url = (JSON.parse(text) as { nats: string[] }).nats[0] ?? '';
        this.portNumber = Number(new URL(url).port);
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
