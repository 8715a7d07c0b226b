import { KeyPair, noopLogger } from '@netmachine/core';
import { listenOn as listenWith } from '@netmachine/transport/testing';
import { type TlsTransport, type TlsTransportOptions, tls } from '../src/index.js';

export { Sink, writeAll } from '@netmachine/transport/testing';

export function makeTransport(options: TlsTransportOptions = {}, keyPair = KeyPair.generate()) {
  const transport = tls(options)({ keyPair, logger: noopLogger });
  return { keyPair, transport };
}

/** Listens on 127.0.0.1 and gives out inbound connections in arrival order. */
export function listenOn(transport: TlsTransport, acceptPeer?: (node: string) => boolean) {
  return listenWith(transport, 'tls://127.0.0.1:0', acceptPeer);
}
