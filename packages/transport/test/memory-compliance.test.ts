import { KeyPair, noopLogger } from '@netmachine/core';
import { runTransportCompliance } from '@netmachine/transport/testing';
import { MemoryNetwork, memory } from '../src/index.js';

runTransportCompliance('memory', async () => {
  const network = new MemoryNetwork();
  const [a, b] = [KeyPair.generate(), KeyPair.generate()];
  return {
    listener: { transport: memory({ network })({ keyPair: a, logger: noopLogger }), keyPair: a },
    dialer: { transport: memory({ network })({ keyPair: b, logger: noopLogger }), keyPair: b },
    listenAddress: 'memory://0',
  };
});

runTransportCompliance('memory with latency', async () => {
  const network = new MemoryNetwork();
  const [a, b] = [KeyPair.generate(), KeyPair.generate()];
  return {
    listener: {
      transport: memory({ network, latencyMs: 2 })({ keyPair: a, logger: noopLogger }),
      keyPair: a,
    },
    dialer: { transport: memory({ network, latencyMs: 2 })({ keyPair: b, logger: noopLogger }), keyPair: b },
    listenAddress: 'memory://0',
  };
});
