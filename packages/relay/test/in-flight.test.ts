import type { EngineMessage, NodeId } from '@netmachine/core';
import { describe, expect, it } from 'vitest';
import { InFlightRing } from '../src/in-flight.js';

const A = 'a-node' as NodeId;
const B = 'b-relay' as NodeId;
const B2 = 'b2-relay' as NodeId;
const C = 'c-node' as NodeId;

function message(id: number, replyTo?: number): EngineMessage {
  return {
    id,
    src: { node: A, name: `src-${id}` },
    dst: { node: C, name: 'sink' },
    ...(replyTo === undefined ? {} : { replyTo }),
    protocol: 'p/1',
    body: Buffer.alloc(16, id),
  };
}

describe('InFlightRing', () => {
  it('gives back what a refusal needs of each message (not the bodies), once, to the relay it went to', () => {
    const ring = new InFlightRing(8);
    const ref = ring.record(B, C, [message(7), message(2 ** 40, 3)]);
    expect(ring.take(B2, ref)).toBeUndefined();
    expect(ring.take(B, ref)).toEqual([
      {
        id: 7,
        src: { node: A, name: 'src-7' },
        dst: { node: C, name: 'sink' },
        protocol: 'p/1',
        body: undefined,
      },
      {
        id: 2 ** 40,
        src: { node: A, name: `src-${2 ** 40}` },
        dst: { node: C, name: 'sink' },
        replyTo: 3,
        protocol: 'p/1',
        body: undefined,
      },
    ]);
    expect(ring.take(B, ref)).toBeUndefined();
  });

  it('forgets a RelayMessage once the ring has gone round', () => {
    const ring = new InFlightRing(4);
    const first = ring.record(B, C, [message(1)]);
    for (let i = 0; i < 4; i++) ring.record(B, C, [message(10 + i)]);
    expect(ring.take(B, first)).toBeUndefined();
    expect(ring.take(B, first + 4)?.map((m) => m.id)).toEqual([13]);
  });

  it('keeps a lone message in a slot written in place, and a batch after it in the same slot', () => {
    const ring = new InFlightRing(2);
    const lone = ring.record(B, C, [message(5, 9)]);
    expect(ring.take(B, lone)).toEqual([
      {
        id: 5,
        src: { node: A, name: 'src-5' },
        dst: { node: C, name: 'sink' },
        replyTo: 9,
        protocol: 'p/1',
        body: undefined,
      },
    ]);
    ring.record(B, C, [message(6)]);
    const batch = ring.record(B, C, [message(7), message(8, 1)]);
    const again = ring.record(B2, C, [message(9)]);
    expect(ring.take(B, batch)?.map((m) => [m.id, m.replyTo])).toEqual([
      [7, undefined],
      [8, 1],
    ]);
    expect(ring.take(B, again)).toBeUndefined();
    expect(ring.take(B2, again)?.map((m) => m.id)).toEqual([9]);
  });
});
