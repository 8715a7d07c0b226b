import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { measureRequest, measureStream } from '../src/drivers.js';
import { NatsServer } from '../src/nats-server.js';
import { rawTlsRelayedPeer } from '../src/peers.js';
import { QUICK } from '../src/scenario.js';
import { EndToEndSeal } from '../src/systems/end-to-end-seal.js';

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

  it('streams raw TLS through a forwarder process with every message verified', async () => {
    const measurement = await rawTlsRelayedPeer('stream').measure(settings);
    expect(measurement.loss).toBeUndefined();
    expect(measurement.msgsPerSec).toBeGreaterThan(0);
  }, 60_000);

  it('times raw TLS round trips through a forwarder process, sealed end to end', async () => {
    const measurement = await rawTlsRelayedPeer('request', { sealed: true }).measure(settings);
    expect(measurement.loss).toBeUndefined();
    expect(measurement.p50us).toBeGreaterThan(0);
  }, 60_000);

  it('opens what the other side sealed, and refuses it tampered or from its own side', () => {
    const key = '11'.repeat(32);
    const dialer = new EndToEndSeal(key, 0);
    const listener = new EndToEndSeal(key, 1);
    const sealed = dialer.seal(Buffer.from('hello'));
    expect(listener.open(sealed).toString()).toBe('hello');
    expect(dialer.open(listener.seal(Buffer.from('back'))).toString()).toBe('back');
    const tampered = Buffer.from(sealed);
    tampered[9] = (tampered[9] as number) ^ 1;
    expect(() => listener.open(tampered)).toThrow();
    // Its own direction's nonce: a reflected message does not open.
    expect(() => dialer.open(sealed)).toThrow();
  });

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
