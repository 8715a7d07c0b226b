import type { EngineMessage, NodeId } from '@netmachine/core';
import { describe, expect, it } from 'vitest';
import { NodeQueue, QueueBudget } from '../src/node-queue.js';

const node = 'a'.repeat(52) as NodeId;
const msg = (id: number): EngineMessage => ({
  id,
  src: { node, name: 's' },
  dst: { node, name: 'd' },
  protocol: 'p',
  body: id,
});

describe('NodeQueue', () => {
  it('is FIFO, rejects past its capacity, and removes expired messages in order', () => {
    const q = new NodeQueue(3);
    expect([q.push(msg(1), 100), q.push(msg(2), 50), q.push(msg(3), 300), q.push(msg(4), 400)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(q.earliestDeadline).toBe(50);
    expect(q.removeExpired(100).map((m) => m.id)).toEqual([1, 2]);
    expect(q.earliestDeadline).toBe(300);
    expect(q.shift()?.message.id).toBe(3);
    expect(q.length).toBe(0);
    expect(q.earliestDeadline).toBe(Number.POSITIVE_INFINITY);
  });

  it('shares an engine-wide budget that every way out gives back', () => {
    const budget = new QueueBudget(4);
    const [a, b] = [new NodeQueue(10, budget), new NodeQueue(10, budget)];
    for (let i = 0; i < 3; i++) a.push(msg(i), 1000 + i);
    expect([b.push(msg(10), 1000), b.push(msg(11), 1000)]).toEqual([true, false]);
    a.shift();
    a.removeExpired(1001);
    expect(budget.used).toBe(2);
    b.drain();
    a.drain();
    expect(budget.used).toBe(0);
    for (let i = 0; i < 5000; i++) a.push(msg(i), 1);
    expect(a.length).toBe(4);
  });
});
