import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NetmachineNode, pinFreePorts } from 'netmachine';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { newSeed, startTarget, stopTarget, type Target, tlsNode } from './harness.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let reports = 0;
async function report(node: NetmachineNode, target: Target): Promise<unknown[]> {
  const reply = await node
    .client(`reporter-${reports++}`)
    .request({ node: target.id, name: 'sink' }, null, { protocol: 'sink/report@1', timeoutMs: 30_000 });
  return reply.body as unknown[];
}

describe('kill -9 and restart of a node process mid-stream', () => {
  it('the permanent link comes back, unexpired messages arrive once, expired ones never, the identity store is intact', {
    timeout: 300_000,
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nm-reliability-restart-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    // A fixed port, so that the restarted process listens where its advert says; chosen outside the
    // ephemeral range, so no other socket is given it while the process is down.
    const spec = { seed: newSeed(), listen: await pinFreePorts(['tls://127.0.0.1:0']), dir };
    const good = await tlsNode();
    cleanups.push(() => good.stop());
    const first = await startTarget(spec);
    cleanups.push(() => stopTarget(first));
    // The target learns our advert (durably, in its identity store); we keep a permanent link to it.
    await first.control({ op: 'add-peer', advert: good.advertText, permanent: false });
    const knownBefore = await first.control<{ version: number | null }>({ op: 'known', node: good.id });
    expect(knownBefore.version).toBe(good.advert.version);
    await good.addPeer(first.advert, { permanent: true });
    await expect
      .poll(() => good.transport.connectedNodes().includes(first.id), { message: 'the permanent link' })
      .toBe(true);

    const sender = good.client('stream');
    const sink = { node: first.id, name: 'sink' };
    let seq = 0;
    let downSeen = false;
    const down = good.transport.events.once('peer:disconnected', (e) => e.node === first.id);
    void down.then(() => {
      downSeen = true;
    });
    // A stream of numbered messages; the process is killed in the middle of it, and the stream goes
    // on, paced, until the link is seen down.
    let beforeKill: unknown[] = [];
    for (; seq < 400 && !downSeen; seq++) {
      sender.send(sink, seq, { ttlMs: 120_000 });
      if (seq === 150) {
        beforeKill = await report(good, first);
        first.process.kill('SIGKILL');
      }
      if (seq > 150) await new Promise((resolve) => setTimeout(resolve, 5));
      else if (seq % 10 === 9) await new Promise((resolve) => setImmediate(resolve));
    }
    await first.exited;
    await down;
    // Every message from here on is sent while the link is known to be down.
    const firstAfterDown = seq;
    // Sent during the outage with a short life: they must expire in the queue, not be delivered late.
    const shortLived = Date.now() + 300;
    for (let i = 0; i < 20; i++) sender.send(sink, `expired-${i}`, { expiry: shortLived });
    for (; seq < 500; seq++) sender.send(sink, seq, { ttlMs: 120_000 });
    const lastSeq = seq - 1;
    await expect
      .poll(() => Date.now() > shortLived + 50, { message: 'the short-lived messages to expire' })
      .toBe(true);

    const second = await startTarget(spec);
    cleanups.push(() => stopTarget(second));
    expect(second.id).toBe(first.id);
    await expect
      .poll(() => good.transport.connectedNodes().includes(second.id), {
        message: 'the permanent link to come back',
      })
      .toBe(true);
    await vi.waitFor(
      async () => {
        const queued = await report(good, second);
        expect(queued.includes(lastSeq), 'the messages queued during the outage').toBe(true);
      },
      { timeout: 90_000, interval: 25 },
    );
    // One more report after a pause in traffic: nothing arrives twice, late.
    await good.client('ping').request({ node: second.id, name: 'echo' }, 'sync', { timeoutMs: 30_000 });
    const received = await report(good, second);
    const knownAfter = await second.control<{ version: number | null }>({ op: 'known', node: good.id });

    const numbers = received.filter((x): x is number => typeof x === 'number');
    const afterDown = firstAfterDown;
    const missingAfterDown = [...Array(500 - afterDown).keys()]
      .map((i) => i + afterDown)
      .filter((n) => !numbers.includes(n));
    const deliveredBeforeKill = beforeKill.filter((x): x is number => typeof x === 'number');
    const lostInFlight = [...Array(afterDown).keys()].filter(
      (n) => !numbers.includes(n) && !deliveredBeforeKill.includes(n),
    );
    console.log(
      JSON.stringify({
        killedAtSeq: 150,
        deliveredBeforeKill: deliveredBeforeKill.length,
        lostInFlightBeforeDisconnectSeen: lostInFlight.length,
        firstSentAfterDisconnectSeen: firstAfterDown,
        deliveredAfterRestart: numbers.length,
        firstDeliveredAfterRestart: numbers[0],
        expiredDelivered: received.filter((x) => typeof x === 'string').length,
        missingAfterDown: missingAfterDown.length,
        identityStore: { before: knownBefore.version, after: knownAfter.version },
        transport: good.transport.counters().dropped,
      }),
    );
    expect(new Set(numbers).size).toBe(numbers.length);
    // Nothing delivered before the kill is delivered again after the restart.
    expect(numbers.filter((n) => deliveredBeforeKill.includes(n))).toEqual([]);
    expect(firstAfterDown).toBeLessThan(400);
    expect([...numbers].sort((x, y) => x - y)).toEqual(numbers);
    expect(received.filter((x) => typeof x === 'string')).toEqual([]);
    expect(missingAfterDown).toEqual([]);
    expect(good.transport.counters().dropped.expired).toBeGreaterThanOrEqual(20);
    expect(knownAfter.version).toBe(good.advert.version);
  });
});
