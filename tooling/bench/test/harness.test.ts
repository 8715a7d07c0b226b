import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { measureRequest, measureStream } from '../src/drivers.js';
import { NatsServer } from '../src/nats-server.js';
import { QUICK } from '../src/scenario.js';

// End-to-end: real worker processes, real sockets, a real nats-server. Asserts what was delivered and
// checked, never how fast.
const settings = { ...QUICK, warmupMs: 0, durationMs: 500 };

describe('harness', () => {
  it('starts a real nats-server on a free port and stops it', async () => {
    const server = await NatsServer.start();
    try {
      const nc = await connect({ servers: server.url });
      await nc.flush();
      await nc.close();
    } finally {
      await server.stop();
    }
  });

  it('streams raw TLS between two worker processes with every message verified', async () => {
    const measurement = await measureStream({ system: 'raw-tls', config: {} }, settings);
    expect(measurement.loss).toBeUndefined();
    expect(measurement.msgsPerSec).toBeGreaterThan(0);
  }, 60_000);

  it('streams raw TLS in coalesced writes with every message verified', async () => {
    const measurement = await measureStream({ system: 'raw-tls-batched', config: {} }, settings);
    expect(measurement.loss).toBeUndefined();
    expect(measurement.msgsPerSec).toBeGreaterThan(0);
  }, 60_000);

  it('times sequential raw TLS round trips between two worker processes', async () => {
    const measurement = await measureRequest({ system: 'raw-tls', config: {} }, settings);
    expect(measurement.loss).toBeUndefined();
    expect(measurement.p50us).toBeGreaterThan(0);
    expect(measurement.p99us).toBeGreaterThanOrEqual(measurement.p50us!);
  }, 60_000);

  it('streams between two netmachine nodes over TLS with every message verified', async () => {
    const measurement = await measureStream({ system: 'netmachine', config: { transport: 'tls' } }, settings);
    expect(measurement.loss).toBeUndefined();
    expect(measurement.msgsPerSec).toBeGreaterThan(0);
  }, 60_000);

  it('reports a worker failure as an error naming the role', async () => {
    await expect(measureStream({ system: 'no-such-system', config: {} }, settings)).rejects.toThrow(
      /receiver 0: unknown system no-such-system/,
    );
  }, 60_000);
});
