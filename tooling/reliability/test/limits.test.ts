import type { NetmachineNode } from 'netmachine';
import { afterEach, describe, expect, it } from 'vitest';
import { type IdleCaller, idleCaller, type Stalled, stalledHandshake } from './flood-client.js';
import { newSeed, startTarget, stopTarget, type Target, type TargetStats, tlsNode } from './harness.js';

/** The limits under test, small so that a flood of a few hundred callers exceeds each of them. */
const MAX_PENDING_HANDSHAKES = 32;
const TLS_HANDSHAKE_TIMEOUT_MS = 2_000;
const MAX_CONNECTIONS = 8;
const IDLE_TIMEOUT_MS = 3_000;
const STALLED = Number(process.env.NM_FLOOD_STALLED ?? 400);
const IDLE = Number(process.env.NM_FLOOD_IDLE ?? 40);

let target: Target | undefined;
let good: NetmachineNode | undefined;
afterEach(async () => {
  await good?.stop();
  if (target) await stopTarget(target);
  good = undefined;
  target = undefined;
});

/** Handshakes in progress at the listener, from its counters. */
function pending(stats: TargetStats): number {
  const t = stats.tls;
  return t.handshakesStarted - t.handshakeFailures - t.handshakeTimeouts - t.peersRefused - t.inboundAccepted;
}

describe('resource limits under a connection flood', () => {
  it('bounds stalled handshakes and idle connections, and keeps serving a known peer', {
    timeout: 600_000,
  }, async () => {
    target = await startTarget({
      seed: newSeed(),
      listen: ['tls://127.0.0.1:0'],
      limits: { maxConnections: MAX_CONNECTIONS, idleTimeoutMs: IDLE_TIMEOUT_MS },
      tls: { handshakeTimeoutMs: TLS_HANDSHAKE_TIMEOUT_MS, maxPendingHandshakes: MAX_PENDING_HANDSHAKES },
    });
    const t = target;
    good = await tlsNode();
    await t.control({ op: 'add-peer', advert: good.advertText, permanent: false });
    await good.addPeer(t.advert, { permanent: true });
    const client = good.client('known-peer');
    const echo = { node: t.id, name: 'echo' };
    await expect
      .poll(() => good?.transport.connectedNodes().includes(t.id) ?? false, {
        message: 'the known peer link',
      })
      .toBe(true);
    await client.request(echo, 'before', { timeoutMs: 60_000 });

    // The known peer keeps asking while the flood goes on.
    let answered = 0;
    const failures: unknown[] = [];
    let flooding = true;
    const known = (async () => {
      for (let i = 0; flooding; i++) {
        try {
          const reply = await client.request(echo, i, { timeoutMs: 30_000 });
          if (reply.body === i) answered++;
        } catch (error) {
          failures.push(error);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();

    // 1. Stalled TLS handshakes, in waves, with the listener's counters sampled between waves.
    const stalled: Stalled[] = [];
    const samples: TargetStats[] = [];
    const answeredBefore = answered;
    for (let wave = 0; wave < STALLED; wave += 100) {
      for (let i = wave; i < Math.min(STALLED, wave + 100); i++) stalled.push(stalledHandshake(t.address));
      samples.push(await t.stats());
    }
    await Promise.all(stalled.map((s) => s.closed));
    const afterStalled = await t.stats();
    const answeredDuringStalled = answered - answeredBefore;

    // 2. Idle callers with their own keys: some finish TLS only, some the engine handshake too.
    // In waves below the pending-handshake limit, so that the engine's own limit is what they meet.
    const idle: IdleCaller[] = [];
    for (let wave = 0; wave < IDLE; wave += 8) {
      const callers = Array.from({ length: Math.min(8, IDLE - wave) }, (_, i) =>
        idleCaller(t.address, t.id, i % 2 === 0),
      );
      idle.push(...(await Promise.all(callers)));
      samples.push(await t.stats());
    }
    const opened = idle.filter((c) => c.outcome === 'open').length;
    const refused = idle.filter((c) => c.outcome === 'refused').length;
    const dialFailed = idle.filter((c) => c.outcome === 'dial-failed').length;
    // The node closes every one of them: refused at once, unfinished engine handshakes at its
    // timeout, finished but silent links at the idle timeout.
    await Promise.all(idle.map((c) => c.closed));
    const afterIdle = await t.stats();
    flooding = false;
    await known;
    const answeredTotal = answered;
    const final = await client.request(echo, 'after', { timeoutMs: 60_000 });

    console.log(
      JSON.stringify({
        stalled: stalled.length,
        idle: IDLE,
        idleOpened: opened,
        idleRefused: refused,
        idleDialFailed: dialFailed,
        maxPendingSeen: Math.max(...samples.map(pending)),
        maxConnectionsSeen: Math.max(...samples.map((s) => s.transport.connections)),
        tls: afterIdle.tls,
        tlsEvents: afterIdle.tlsEvents,
        inboundRefused: afterIdle.transport.inboundRefused,
        handshakeFailures: afterIdle.transport.handshakeFailures,
        knownPeerAnswered: answeredTotal,
        knownPeerAnsweredDuringStalled: answeredDuringStalled,
        knownPeerFailures: failures.length,
      }),
    );

    expect(final.body).toBe('after');
    expect(failures).toEqual([]);
    expect(answeredDuringStalled).toBeGreaterThan(0);
    // Stalled handshakes: never more than the limit at once; the rest refused at once or timed out.
    for (const sample of samples) expect(pending(sample)).toBeLessThanOrEqual(MAX_PENDING_HANDSHAKES);
    expect(afterStalled.tls.handshakesRefusedBusy).toBeGreaterThan(0);
    expect(afterStalled.tls.handshakeTimeouts).toBeGreaterThan(0);
    expect(afterStalled.tls.handshakesRefusedBusy + afterStalled.tls.handshakeTimeouts).toBe(STALLED);
    expect(afterStalled.tlsEvents['handshake:refused-busy']).toBe(afterStalled.tls.handshakesRefusedBusy);
    // Idle callers: no more sessions than the engine allows; the rest refused with OverCapacity.
    for (const sample of samples)
      expect(sample.transport.connections).toBeLessThanOrEqual(2 * MAX_CONNECTIONS);
    expect(opened).toBeLessThanOrEqual(MAX_CONNECTIONS + IDLE / 2);
    expect(refused).toBeGreaterThan(0);
    expect(afterIdle.transport.inboundRefused).toBeGreaterThanOrEqual(refused);
    // And once they are gone, only the known peer's link is left.
    await expect
      .poll(async () => (await t.stats()).transport.connections, {
        message: 'the flood connections to close',
      })
      .toBe(1);
    expect(t.process.exitCode).toBeNull();
  });
});
