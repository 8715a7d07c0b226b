import { KeyPair, noopLogger } from '@netmachine/core';
import { listenOn as listenWith } from '@netmachine/transport/testing';
import { type QuicTransport, type QuicTransportOptions, quic } from '../src/index.js';

export { Sink, writeAll } from '@netmachine/transport/testing';

export function makeTransport(options: QuicTransportOptions = {}, keyPair = KeyPair.generate()) {
  const transport = quic(options)({ keyPair, logger: noopLogger });
  return { keyPair, transport };
}

/** Listens on 127.0.0.1 and gives out inbound connections in arrival order. */
export function listenOn(transport: QuicTransport, acceptPeer?: (node: string) => boolean) {
  return listenWith(transport, 'quic://127.0.0.1:0', acceptPeer);
}
