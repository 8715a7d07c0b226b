import { KeyPair, noopLogger } from '@netmachine/core';
import { runTransportCompliance } from '@netmachine/transport/testing';
import { quic } from '../src/index.js';

// @matrixai/quic moves a few MB/s on a busy machine: a smaller large frame keeps the case meaningful
// (many packets, flow control, reassembly) without minutes of runtime.
runTransportCompliance(
  'quic',
  async () => {
    const [listenerKey, dialerKey] = [KeyPair.generate(), KeyPair.generate()];
    return {
      // The graceful close waits for every byte to be acknowledged; on a loaded machine 2 MiB can take
      // longer than the default 5 s, and a timed-out close cuts the stream (which the close case checks).
      listener: {
        transport: quic({ closeTimeoutMs: 60_000 })({ keyPair: listenerKey, logger: noopLogger }),
        keyPair: listenerKey,
      },
      dialer: {
        transport: quic({ closeTimeoutMs: 60_000 })({ keyPair: dialerKey, logger: noopLogger }),
        keyPair: dialerKey,
      },
      listenAddress: 'quic://127.0.0.1:0',
    };
  },
  {
    largeBytes: 2 * 1024 * 1024,
    timeoutMs: 120_000,
    hostPort: true,
    listenerProcess: {
      module: new URL('../src/index.ts', import.meta.url).href,
      factory: 'quic',
      // QUIC has no FIN from a dead process: the idle timeout (kept short here) notices the silence.
      dialer: () => {
        const keyPair = KeyPair.generate();
        const transport = quic({ idleTimeoutMs: 2_000, keepAliveIntervalMs: 300 })({
          keyPair,
          logger: noopLogger,
        });
        return { transport, keyPair };
      },
    },
  },
);
