import type { Connection, ConnectionHandlers } from '@netmachine/core';
import { KeyPair, noopLogger } from '@netmachine/core';
import { expect } from 'vitest';
import { type QuicTransport, type QuicTransportOptions, quic } from '../src/index.js';

export function makeTransport(options: QuicTransportOptions = {}, keyPair = KeyPair.generate()) {
  const transport = quic(options)({ keyPair, logger: noopLogger });
  return { keyPair, transport };
}

/** Collects what a connection delivers. */
export class Sink implements ConnectionHandlers {
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

/** Listens on 127.0.0.1 and resolves inbound connections in arrival order. */
export async function listenOn(transport: QuicTransport, acceptPeer?: (node: string) => boolean) {
  const inbound: Connection[] = [];
  const listener = await transport.listen('quic://127.0.0.1:0', (connection) => inbound.push(connection), {
    ...(acceptPeer ? { acceptPeer } : {}),
  });
  const address = listener.addresses[0]!;
  const next = async (index = 0): Promise<Connection> => {
    await expect.poll(() => inbound.length, { message: 'an inbound connection' }).toBeGreaterThan(index);
    return inbound[index]!;
  };
  return { listener, address, inbound, next };
}

/** Writes `data` in `chunkSize` pieces, honouring backpressure (waits for onDrain). */
export async function writeAll(
  connection: Connection,
  sink: Sink,
  data: Buffer,
  chunkSize = 64 * 1024,
): Promise<void> {
  for (let offset = 0; offset < data.length; offset += chunkSize) {
    const drainsBefore = sink.drains;
    const more = connection.write(data.subarray(offset, offset + chunkSize));
    if (!more)
      await expect.poll(() => sink.drains > drainsBefore || sink.closed, { message: 'drain' }).toBe(true);
  }
}
