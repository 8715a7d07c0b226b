import { afterEach, describe, expect, it } from 'vitest';
import { MemoryNetwork } from '../src/index.js';
import { introduce, message, startNode, type TestNode } from './helpers.js';

let nodes: TestNode[] = [];

afterEach(async () => {
  await Promise.all(nodes.map((n) => n.engine.stop()));
  nodes = [];
});

describe('per-peer traffic counters', () => {
  it('count the messages and bytes sent between each pair of nodes, both ways', async () => {
    const network = new MemoryNetwork();
    const [a, b, c] = [
      await startNode('a', { network }),
      await startNode('b', { network }),
      await startNode('c', { network }),
    ];
    nodes = [a, b, c];
    for (const [x, y] of [
      [a, b],
      [b, a],
      [a, c],
      [c, a],
    ] as const)
      introduce(x, y);

    for (let i = 0; i < 5; i++) a.engine.send(message(a, b, { n: i, pad: 'x'.repeat(100) }));
    for (let i = 0; i < 2; i++) a.engine.send(message(a, c, { n: i }));
    b.engine.send(message(b, a, 'reply'));
    await expect.poll(() => b.sink.delivered.length, { message: 'delivery at b' }).toBe(5);
    await expect.poll(() => c.sink.delivered.length, { message: 'delivery at c' }).toBe(2);
    await expect.poll(() => a.sink.delivered.length, { message: 'delivery at a' }).toBe(1);

    const atA = a.engine.peerCounters();
    expect(Object.keys(atA).sort()).toEqual([b.id, c.id].sort());
    expect(atA[b.id]).toMatchObject({ messagesOut: 5, messagesIn: 1 });
    expect(atA[c.id]).toMatchObject({ messagesOut: 2, messagesIn: 0 });
    expect(b.engine.peerCounters()[a.id]).toMatchObject({ messagesIn: 5, messagesOut: 1 });
    expect(c.engine.peerCounters()[a.id]).toMatchObject({ messagesIn: 2, messagesOut: 0 });

    // Every byte one side writes on a link the other side reads (pings may be in flight: poll).
    await expect
      .poll(() => {
        const ab = a.engine.peerCounters()[b.id]!;
        const ba = b.engine.peerCounters()[a.id]!;
        return [ab.bytesOut - ba.bytesIn, ba.bytesOut - ab.bytesIn];
      })
      .toEqual([0, 0]);
    const ab = a.engine.peerCounters()[b.id]!;
    const ac = a.engine.peerCounters()[c.id]!;
    expect(ab.bytesOut).toBeGreaterThan(5 * 100);
    expect(ac.bytesOut).toBeLessThan(ab.bytesOut);
    // The per-peer figures add up to the node-wide ones.
    const total = a.engine.counters();
    expect(ab.bytesOut + ac.bytesOut).toBe(total.bytesOut);
    expect(ab.messagesOut + ac.messagesOut).toBe(total.messagesOut);

    // Disconnected peers leave the view.
    await a.engine.disconnect(c.id);
    await expect.poll(() => Object.keys(a.engine.peerCounters())).toEqual([b.id]);
  });
});
