import { createConnection, type Socket } from 'node:net';
import { ControlRequestError, ControlUnavailableError } from '../errors.js';
import { type ControlResponse, LineSplitter } from './protocol.js';

/** A connection to a running node's control endpoint. */
export class ControlClient {
  private nextId = 1;
  private readonly calls = new Map<
    number,
    { resolve(v: unknown): void; reject(e: Error): void; onEvent?: ((e: unknown) => void) | undefined }
  >();

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    const splitter = new LineSplitter((line) => this.onLine(line));
    socket.on('data', (chunk: string) => {
      if (!splitter.push(chunk)) socket.destroy(new Error('control response line too long'));
    });
    socket.on('close', () => {
      for (const call of this.calls.values()) call.reject(new ControlUnavailableError('(connection closed)'));
      this.calls.clear();
    });
    socket.on('error', () => {});
  }

  static connect(path: string): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(path);
      socket.once('connect', () => resolve(new ControlClient(socket)));
      socket.once('error', (error) => reject(new ControlUnavailableError(path, { cause: error })));
    });
  }

  call<T = unknown>(
    op: string,
    args: Record<string, unknown> = {},
    onEvent?: (event: unknown) => void,
  ): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.calls.set(id, { resolve: resolve as (v: unknown) => void, reject, onEvent });
      this.socket.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  close(): void {
    this.socket.end();
  }

  private onLine(line: string): void {
    let response: ControlResponse;
    try {
      response = JSON.parse(line) as ControlResponse;
    } catch {
      return;
    }
    const call = this.calls.get(response.id);
    if (!call) return;
    if ('event' in response) {
      call.onEvent?.(response.event);
      return;
    }
    this.calls.delete(response.id);
    if (response.ok) call.resolve(response.result);
    else call.reject(new ControlRequestError(response.error.code, response.error.message));
  }
}
