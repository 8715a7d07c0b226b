// One-way throughput over one QUIC connection on loopback, for tuning (not a test).
// Usage: node --conditions=@netmachine/source --import tsx bench/throughput.ts '<options JSON>' [bulk|msgs]
import { KeyPair, noopLogger } from '@netmachine/core';
import { type QuicTransportOptions, quic } from '../src/index.js';

const options = JSON.parse(process.argv[2] ?? '{}') as QuicTransportOptions;
const mode = process.argv[3] === 'msgs' ? 'msgs' : 'bulk';
const chunk = Buffer.alloc(mode === 'bulk' ? 65536 : 200, 7);
const total = Number(process.env.MIB ?? 16) * 1024 * 1024;

const serverKey = KeyPair.generate();
const server = quic(options)({ keyPair: serverKey, logger: noopLogger });
const client = quic(options)({ keyPair: KeyPair.generate(), logger: noopLogger });
let received = 0;
let allReceived!: () => void;
const finished = new Promise<void>((resolve) => {
  allReceived = resolve;
});
const listener = await server.listen('quic://127.0.0.1:0', (connection) =>
  connection.setHandlers({
    onData: (bytes) => {
      received += bytes.length;
      if (received >= total) allReceived();
    },
    onDrain: () => {},
    onClose: () => {},
  }),
);
const connection = await client.dial(listener.addresses[0]!, serverKey.id as never);
let drained: (() => void) | undefined;
connection.setHandlers({ onData: () => {}, onDrain: () => drained?.(), onClose: () => {} });

const start = performance.now();
for (let sent = 0; sent < total; sent += chunk.length) {
  if (!connection.write(chunk)) {
    await new Promise<void>((resolve) => {
      drained = resolve;
    });
  }
}
await finished;
const seconds = (performance.now() - start) / 1000;
const rate = `${(total / 1048576 / seconds).toFixed(1)} MiB/s`;
const messages = mode === 'msgs' ? ` ${Math.round(total / chunk.length / seconds)} msgs/s` : '';
console.log(`${mode} ${JSON.stringify(options)} ${rate}${messages}`, client.counters());
await client.close();
await server.close();
