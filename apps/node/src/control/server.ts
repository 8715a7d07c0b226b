import { chmod, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { type Logger, NetmachineError } from '@netmachine/core';
import { type ControlRequest, type ControlResponse, LineSplitter } from './protocol.js';

/** Handles one op. Streaming ops call `emit` for each event and resolve when done or aborted. */
export type ControlHandler = (
  args: Record<string, unknown>,
  call: { emit(event: unknown): void; signal: AbortSignal },
) => Promise<unknown>;

/** Open control connections beyond this are refused. */
const MAX_CONTROL_CONNECTIONS = 64;

/**
 * The node's local control endpoint: a unix socket with mode 0600 inside the node's 0700 state
 * directory, so no other user (and no other host) can reach it.
 */
export class ControlServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly path: string,
    private readonly handlers: Record<string, ControlHandler>,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await removeStaleSocket(this.path);
    const server = createServer((socket) => this.accept(socket));
    server.maxConnections = MAX_CONTROL_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // The umask makes the socket private from its first moment; chmod makes it explicit.
      const previous = process.umask(0o177);
      try {
        server.listen(this.path, () => resolve());
      } finally {
        process.umask(previous);
      }
    });
    await chmod(this.path, 0o600);
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await unlink(this.path).catch(() => {});
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    const controller = new AbortController();
    socket.setEncoding('utf8');
    const send = (response: ControlResponse) => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`);
    };
    const splitter = new LineSplitter((line) => void this.handle(line, send, controller.signal));
    socket.on('data', (chunk: string) => {
      if (!splitter.push(chunk)) socket.destroy();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.sockets.delete(socket);
      controller.abort();
    });
  }

  private async handle(line: string, send: (r: ControlResponse) => void, signal: AbortSignal): Promise<void> {
    let request: ControlRequest;
    try {
      request = JSON.parse(line) as ControlRequest;
      if (typeof request.id !== 'number' || typeof request.op !== 'string') throw new Error('bad request');
    } catch {
      send({ id: -1, ok: false, error: { code: 'ERR_CONTROL_PROTOCOL', message: 'malformed request line' } });
      return;
    }
    const handler = this.handlers[request.op];
    if (!handler) {
      send({
        id: request.id,
        ok: false,
        error: { code: 'ERR_UNKNOWN_OP', message: `unknown op ${request.op}` },
      });
      return;
    }
    try {
      const result = await handler(request.args ?? {}, {
        emit: (event) => send({ id: request.id, event }),
        signal,
      });
      send({ id: request.id, ok: true, result: result ?? null });
    } catch (error) {
      const code = error instanceof NetmachineError ? error.code : 'ERR_INTERNAL';
      if (!(error instanceof NetmachineError))
        this.logger.warn({ err: error, op: request.op }, 'control op failed');
      send({ id: request.id, ok: false, error: { code, message: (error as Error).message } });
    }
  }
}

/** A socket file left by a killed node is removed; one that a live node answers on is an error. */
async function removeStaleSocket(path: string): Promise<void> {
  const alive = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`another node is running with control socket ${path}`);
  await unlink(path).catch(() => {});
}
