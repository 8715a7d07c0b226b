import { describe, expect, it } from 'vitest';
import {
  type BroadcastOverlay,
  type BroadcastOverlayEvent,
  type BroadcastOverlayMessage,
  type BroadcastOverlayOutput,
  broadcastOverlay,
  seededRng,
} from '../src/index.js';

// A minimal driver: one FIFO queue of messages, every message through the strict decoder; connections
// always succeed (HyParView does not wait for peerUp) and timers never fire.
function network(names: readonly string[]) {
  const definition = broadcastOverlay();
  const machines = new Map<string, BroadcastOverlay>();
  const events = new Map<string, BroadcastOverlayEvent[]>();
  const queue: { from: string; to: string; message: BroadcastOverlayMessage }[] = [];
  const outs = new Map<string, BroadcastOverlayOutput>();
  for (const [i, name] of names.entries()) {
    machines.set(name, definition.create(name, seededRng(i + 1), 0) as BroadcastOverlay);
    events.set(name, []);
    outs.set(name, {
      send: (to, message) =>
        queue.push({ from: name, to, message: definition.decode(structuredClone(message)) }),
      connect: () => {},
      disconnect: () => {},
      setTimer: () => {},
      emit: (event) => events.get(name)?.push(event),
    });
  }
  const machine = (name: string) => machines.get(name) as BroadcastOverlay;
  const out = (name: string) => outs.get(name) as BroadcastOverlayOutput;
  return {
    machine,
    events,
    command: (name: string, command: Parameters<BroadcastOverlay['handle']>[0] & { type: 'command' }) =>
      machine(name).handle(command, 0, out(name)),
    run: () => {
      for (let i = 0; queue.length > 0 && i < 10_000; i++) {
        const next = queue.shift() as (typeof queue)[number];
        machine(next.to).handle({ type: 'message', from: next.from, message: next.message }, 0, out(next.to));
      }
    },
  };
}

describe('BroadcastOverlay', () => {
  it('runs PlumTree over the HyParView active view: joins become tree links, leaves remove them', () => {
    const net = network(['a', 'b', 'c']);
    net.command('b', { type: 'command', command: { type: 'join', contact: 'a' } });
    net.command('c', { type: 'command', command: { type: 'join', contact: 'a' } });
    net.run();
    expect(net.machine('a').overlay.activeView().sort()).toEqual(['b', 'c']);
    // The tree's neighbours are the active view, as it changed.
    expect(net.machine('a').tree.eagerPeers().sort()).toEqual(['b', 'c']);

    net.command('a', {
      type: 'command',
      command: { type: 'broadcast', id: 'a/1', payload: new Uint8Array([7]) },
    });
    net.run();
    for (const name of ['b', 'c']) {
      const delivered = net.events.get(name)?.filter((e) => e.type === 'deliver') ?? [];
      expect(delivered).toEqual([expect.objectContaining({ id: 'a/1', from: expect.any(String) })]);
    }

    net.command('c', { type: 'command', command: { type: 'leave' } });
    net.run();
    expect(net.machine('a').overlay.activeView()).not.toContain('c');
    expect(net.machine('a').tree.eagerPeers()).not.toContain('c');
    expect(net.machine('a').tree.lazyPeers()).not.toContain('c');
    expect(net.events.get('a')).toContainEqual({ type: 'treeChanged', tree: '', peer: 'c', link: 'none' });
  });
});
