import { KeyPair, noopLogger } from '@netmachine/core';
import { runTransportCompliance } from '@netmachine/transport/testing';
import { tls } from '../src/index.js';

runTransportCompliance(
  'tls',
  async () => {
    const [listenerKey, dialerKey] = [KeyPair.generate(), KeyPair.generate()];
    return {
      listener: { transport: tls()({ keyPair: listenerKey, logger: noopLogger }), keyPair: listenerKey },
      dialer: { transport: tls()({ keyPair: dialerKey, logger: noopLogger }), keyPair: dialerKey },
      listenAddress: 'tls://127.0.0.1:0',
    };
  },
  {
    hostPort: true,
    listenerProcess: { module: new URL('../src/index.ts', import.meta.url).href, factory: 'tls' },
  },
);
