import {
  type EngineContext,
  type EngineMessage,
  type EngineRef,
  leaseMessageBytes,
  type NodeId,
} from '@netmachine/core';
import { describe, expect, it } from 'vitest';
import {
  type PlumTree,
  ProtocolRunner,
  plumtree,
  type RunnerRouter,
  type RunnerTransport,
} from '../src/index.js';

// A received frame whose bytes the machine no longer refers to (a duplicate payload, a control
// message) is handed back to the transport (`releaseMessageBytes`), which may then read the next large
// frame into it. A payload the machine delivered, stored and forwarded never is: a subscriber may keep it.

const PEER = 'peer-node' as NodeId;
const ENGINE = 'tree';

/** A router that hands the runner's engine whatever the test delivers. */
function capturingRouter(): { router: RunnerRouter; deliver: (message: EngineMessage) => void } {
  let handler: ((message: EngineMessage) => unknown) | undefined;
  return {
    router: {
      node: 'self-node' as NodeId,
      client: (_name: string, onMessage: (message: EngineMessage) => unknown) => {
        handler = onMessage;
        return {
          queued: 0,
          send: () => undefined,
          stop: async () => undefined,
        } as unknown as EngineContext & EngineRef;
      },
    } as unknown as RunnerRouter,
    deliver: (message) => handler?.(message),
  };
}

const transport: RunnerTransport = {
  connect: async () => undefined,
  disconnect: async () => undefined,
  events: { on: () => () => undefined },
};

let nextId = 1;
/** A received message leased from a frame buffer: `released` says whether it was handed back. */
function leased(body: unknown): { message: EngineMessage; released: () => boolean } {
  const message: EngineMessage = {
    id: nextId++,
    src: { node: PEER, name: ENGINE },
    dst: { node: 'self-node' as NodeId, name: ENGINE },
    protocol: 'plumtree/1',
    body,
  };
  let released = false;
  leaseMessageBytes(message, () => {
    released = true;
  });
  return { message, released: () => released };
}

describe('ProtocolRunner hands frames back', () => {
  it('releases a duplicate payload and control messages, never a delivered payload', async () => {
    const { router, deliver } = capturingRouter();
    const runner = new ProtocolRunner({ protocol: plumtree(), router, transport, engineName: ENGINE });
    await runner.start();
    runner.command({ type: 'neighborUp', peer: PEER });
    const kept: Uint8Array[] = [];
    runner.on((event) => {
      if (event.type === 'deliver') kept.push(event.payload);
    });
    const payload = new Uint8Array([1, 2, 3]);
    const first = leased({ type: 'gossip', id: 's/1', payload, hops: 1 });
    deliver(first.message);
    const again = leased({ type: 'gossip', id: 's/1', payload: new Uint8Array([1, 2, 3]), hops: 1 });
    deliver(again.message);
    const ihave = leased({ type: 'ihave', entries: [{ id: 's/2', hops: 1 }] });
    deliver(ihave.message);

    expect(first.released()).toBe(false);
    expect(kept).toEqual([payload]);
    expect((runner.machine as PlumTree).counters()).toMatchObject({ delivered: 1, duplicates: 1 });
    expect(again.released()).toBe(true);
    expect(ihave.released()).toBe(true);
    expect(runner.counters().framesReleased).toBe(2);
    await runner.stop();
  });

  it('keeps a payload that accept() refused only until the machine is done with it', async () => {
    const { router, deliver } = capturingRouter();
    const protocol = plumtree({ accept: () => false });
    const runner = new ProtocolRunner({ protocol, router, transport, engineName: ENGINE });
    await runner.start();
    runner.command({ type: 'neighborUp', peer: PEER });
    const refused = leased({ type: 'gossip', id: 's/1', payload: new Uint8Array([9]), hops: 1 });
    deliver(refused.message);
    expect(refused.released()).toBe(true);
    await runner.stop();
  });
});
