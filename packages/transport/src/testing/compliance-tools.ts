import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Connection, Listener, NodeId, Transport } from '@netmachine/core';
import { expect } from 'vitest';
import type { ListenerProcessSpec } from './compliance-setup.js';

// Probes and helpers the compliance suite and the transports' own tests share, and the start of a
// listener in a child process for the cross-process cases.

/**
 * How long a wait for something that must happen may take before the test fails: the same as
 * `ConnectionProbe.until`. Given explicitly because the suite runs under the transport author's
 * vitest configuration, where expect.poll's own default is 1 s, too short on a loaded CI machine.
 */
export const WAIT_MS = 45_000;

/** Collects what a connection delivers and lets a test wait for it. */
export class ConnectionProbe {
  readonly chunks: Buffer[] = [];
  received = 0;
  drains = 0;
  closed = false;
  closeCount = 0;
  closeError: Error | undefined;
  readonly #waiters: Array<() => void> = [];

  constructor(readonly connection: Connection) {
    connection.setHandlers({
      onData: (chunk) => {
        this.chunks.push(Buffer.from(chunk));
        this.received += chunk.length;
        this.#wake();
      },
      onDrain: () => {
        this.drains++;
        this.#wake();
      },
      onClose: (error) => {
        this.closeCount++;
        this.closed = true;
        this.closeError = error;
        this.#wake();
      },
    });
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Resolves when `condition` holds, checked after every callback. */
  until(condition: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      const check = (): void => {
        if (condition()) {
          clearTimeout(timer);
          resolve();
        } else this.#waiters.push(check);
      };
      this.#waiters.push(check);
    });
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
}

/**
 * Handlers that collect what a connection delivers, for a transport's own tests (set them with
 * `connection.setHandlers(sink)`); a second onClose fails the test.
 */
export class Sink {
  readonly chunks: Buffer[] = [];
  bytes = 0;
  drains = 0;
  closed = false;
  closeError: Error | undefined;

  onData(chunk: Buffer): void {
    this.chunks.push(Buffer.from(chunk));
    this.bytes += chunk.length;
  }
  onDrain(): void {
    this.drains++;
  }
  onClose(error?: Error): void {
    if (this.closed) throw new Error('onClose called twice');
    this.closed = true;
    this.closeError = error;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString();
  }
  data(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Listens on `address` (e.g. `tls://127.0.0.1:0`) and gives out inbound connections in arrival order. */
export async function listenOn(
  transport: Transport,
  address: string,
  acceptPeer?: (node: NodeId) => boolean,
): Promise<{
  listener: Listener;
  address: string;
  inbound: Connection[];
  next: (index?: number) => Promise<Connection>;
}> {
  const inbound: Connection[] = [];
  const listener = await transport.listen(address, (connection) => inbound.push(connection), {
    ...(acceptPeer ? { acceptPeer } : {}),
  });
  const next = async (index = 0): Promise<Connection> => {
    await expect
      .poll(() => inbound.length, { message: 'an inbound connection', timeout: WAIT_MS })
      .toBeGreaterThan(index);
    return inbound[index]!;
  };
  return { listener, address: listener.addresses[0]!, inbound, next };
}

/** Writes `data` in `chunkSize` pieces, honouring backpressure (waits for `sink`'s onDrain). */
export async function writeAll(
  connection: Connection,
  sink: Sink,
  data: Buffer,
  chunkSize = 64 * 1024,
): Promise<void> {
  for (let offset = 0; offset < data.length; offset += chunkSize) {
    const drainsBefore = sink.drains;
    const more = connection.write(data.subarray(offset, offset + chunkSize));
    if (!more) {
      await expect
        .poll(() => sink.drains > drainsBefore || sink.closed, { message: 'drain', timeout: WAIT_MS })
        .toBe(true);
    }
  }
}

/** Inbound connections handed out by a listener, with a way to wait for the next one. */
export class Inbox {
  readonly probes: ConnectionProbe[] = [];
  readonly #waiters: Array<() => void> = [];

  readonly accept = (connection: Connection): void => {
    this.probes.push(new ConnectionProbe(connection));
    for (const waiter of this.#waiters.splice(0)) waiter();
  };

  async next(index: number, timeoutMs = 45_000): Promise<ConnectionProbe> {
    while (this.probes.length <= index) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no inbound connection')), timeoutMs);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.probes[index]!;
  }
}

export function pattern(size: number, seed: number): Buffer {
  const buffer = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    // xorshift: cheap bytes that catch reordering, duplication and truncation.
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buffer[i] = x & 0xff;
  }
  return buffer;
}

/** The child process started by a cross-process case, with what it printed once listening. */
export interface ListenerChild {
  readonly child: ChildProcess;
  readonly address: string;
  readonly node: NodeId;
}

/** Starts compliance-listener in a child process: TypeScript through tsx when running from sources. */
export async function startListenerProcess(
  spec: ListenerProcessSpec,
  listenAddress: string,
  allowed: string,
): Promise<ListenerChild> {
  const fromSource = import.meta.url.endsWith('.ts');
  const script = fileURLToPath(new URL(`./compliance-listener.${fromSource ? 'ts' : 'js'}`, import.meta.url));
  const execArgv = fromSource ? ['--conditions=@netmachine/source', '--import', 'tsx'] : [];
  const argument = JSON.stringify({
    module: spec.module,
    factory: spec.factory,
    options: spec.options,
    listenAddress,
    allowed,
  });
  const child = spawn(process.execPath, [...execArgv, script, argument], {
    cwd: dirname(script),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`listener process exited early with ${code}`);
  });
  const [line] = (await Promise.race([once(lines, 'line'), exited])) as [string];
  const ready = JSON.parse(line) as { address: string; node: NodeId };
  return { child, ...ready };
}
