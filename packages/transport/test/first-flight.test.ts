import type { EngineMessage, NodeId } from '@netmachine/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { commitFirstFlight, prepareFirstFlight, takeFirstFlight } from '../src/first-flight.js';
import { NodeQueue } from '../src/node-queue.js';
import type { FrameSlab } from '../src/wire/frame-slab.js';

const local = 'a'.repeat(52) as NodeId;
const peer = 'b'.repeat(52) as NodeId;
const msg = (id: number, body: unknown = `body ${id}`): EngineMessage => ({
  id,
  src: { node: local, name: 's' },
  dst: { node: peer, name: 'd' },
  protocol: 'p',
  body,
});
const request = Buffer.from([0, 0, 0, 2, 1, 0xc0]);
const advertFrame = Buffer.from([0, 0, 0, 2, 3, 0xc2]);
const append = (slab: FrameSlab, message: EngineMessage): void => {
  slab.appendMessage(message, 1 << 20);
};

function queueOf(...ids: number[]): NodeQueue {
  const queue = new NodeQueue(100);
  for (const id of ids) queue.push(msg(id), Date.now() + 60_000);
  return queue;
}

/** What takeFirstFlight sends from a copy of the same queue now. */
function takenNow(ids: number[], advert: boolean) {
  const dropped: EngineMessage[] = [];
  const flight = takeFirstFlight(
    queueOf(...ids),
    request,
    append,
    (message) => dropped.push(message),
    peer,
    advert ? () => advertFrame : undefined,
  );
  return { flight, dropped };
}

describe('prepared first flights', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('sends what takeFirstFlight would, and takes the messages from the queue only when committed', () => {
    for (const advert of [false, true]) {
      const queue = queueOf(1, 2, 3);
      const prepared = prepareFirstFlight(
        queue,
        request,
        append,
        advert ? { version: 4, frame: () => advertFrame } : undefined,
      );
      expect(prepared).toBeDefined();
      expect(queue.length).toBe(3);
      const committed = commitFirstFlight(queue, prepared!, advert ? 4 : 0);
      const { flight } = takenNow([1, 2, 3], advert);
      expect(committed?.bytes.equals(flight.bytes)).toBe(true);
      expect(committed?.taken.map((entry) => entry.message.id)).toEqual([1, 2, 3]);
      expect(committed?.advertSent).toBe(advert);
      expect(queue.length).toBe(0);
    }
  });

  it('is not used, and takes nothing, once the queue or the advert decision has changed', () => {
    const grown = queueOf(1, 2);
    const forGrown = prepareFirstFlight(grown, request, append, undefined)!;
    grown.push(msg(3), Date.now() + 60_000);
    expect(commitFirstFlight(grown, forGrown, 0)).toBeUndefined();
    expect(grown.length).toBe(3);

    const shifted = queueOf(1, 2);
    const forShifted = prepareFirstFlight(shifted, request, append, undefined)!;
    shifted.shift();
    shifted.push(msg(3), Date.now() + 60_000);
    expect(commitFirstFlight(shifted, forShifted, 0)).toBeUndefined();
    expect(shifted.length).toBe(2);

    const advertised = queueOf(1);
    const forAdvertised = prepareFirstFlight(advertised, request, append, undefined)!;
    expect(commitFirstFlight(advertised, forAdvertised, 7)).toBeUndefined();
    expect(advertised.length).toBe(1);
  });

  it('is not used once a message in it has expired', () => {
    const queue = queueOf(1, 2);
    const prepared = prepareFirstFlight(queue, request, append, undefined)!;
    const now = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(now + 120_000);
    expect(commitFirstFlight(queue, prepared, 0)).toBeUndefined();
    expect(queue.length).toBe(2);
  });

  it('leaves an empty queue, an expired message or one that cannot be encoded to takeFirstFlight', () => {
    expect(prepareFirstFlight(new NodeQueue(10), request, append, undefined)).toBeUndefined();
    const expired = new NodeQueue(10);
    expired.push(msg(1), Date.now() - 1);
    expect(prepareFirstFlight(expired, request, append, undefined)).toBeUndefined();
    const bad = new NodeQueue(10);
    bad.push({ ...msg(1), id: -1 }, Date.now() + 60_000);
    expect(prepareFirstFlight(bad, request, append, undefined)).toBeUndefined();
    expect([expired.length, bad.length]).toEqual([1, 1]);
  });
});
