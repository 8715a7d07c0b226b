import { describe, expect, it } from 'vitest';
import {
  HyParView,
  type HyParViewEvent,
  type HyParViewInput,
  type HyParViewMessage,
  type HyParViewTimer,
  type MachineOutput,
  seededRng,
} from '../src/index.js';

/** An output sink that records what a machine pushed. */
class Recorder implements MachineOutput<HyParViewMessage, HyParViewTimer, HyParViewEvent> {
  sent: Array<{ to: string; message: HyParViewMessage }> = [];
  connects: string[] = [];
  disconnects: string[] = [];
  timers: HyParViewTimer[] = [];
  events: HyParViewEvent[] = [];
  send(to: string, message: HyParViewMessage): void {
    this.sent.push({ to, message });
  }
  connect(peer: string): void {
    this.connects.push(peer);
  }
  disconnect(peer: string): void {
    this.disconnects.push(peer);
  }
  setTimer(timer: HyParViewTimer): void {
    this.timers.push(timer);
  }
  emit(event: HyParViewEvent): void {
    this.events.push(event);
  }
}

const config = { activeViewCapacity: 3, passiveViewCapacity: 5 };

/** What is wrong with the machine's views, or '' when they are bounded, duplicate-free and disjoint. */
function viewProblems(machine: HyParView): string {
  const active = machine.activeView();
  const passive = machine.passiveView();
  // One neighbour beyond capacity may come from a low-priority request (see HyParView's onNeighbor).
  if (active.length > config.activeViewCapacity + 1) return `active view of ${active.length}`;
  if (passive.length > config.passiveViewCapacity) return `passive view of ${passive.length}`;
  if (new Set(active).size !== active.length) return 'duplicate in the active view';
  if (new Set(passive).size !== passive.length) return 'duplicate in the passive view';
  if (active.includes(machine.self) || passive.includes(machine.self)) return 'self in a view';
  if (active.some((peer) => passive.includes(peer))) return 'a peer in both views';
  return '';
}

describe('HyParView machine', () => {
  it('takes a joining node and sends ForwardJoin walks to its other neighbours', () => {
    const machine = new HyParView('c', seededRng(1), config);
    const out = new Recorder();
    for (const peer of ['x', 'y'])
      machine.handle(
        { type: 'message', from: peer, message: { type: 'neighbor', priority: 'high' } },
        0,
        out,
      );
    out.sent = [];
    machine.handle({ type: 'message', from: 'n', message: { type: 'join' } }, 0, out);
    expect(machine.activeView()).toEqual(['x', 'y', 'n']);
    expect(out.sent).toContainEqual({ to: 'n', message: { type: 'neighbor', priority: 'high' } });
    expect(
      out.sent
        .filter((s) => s.message.type === 'forwardJoin')
        .map((s) => s.to)
        .sort(),
    ).toEqual(['x', 'y']);
    expect(out.events).toContainEqual({ type: 'peerAddedToView', peer: 'n' });
  });

  it('evicts a random neighbour into the passive view when the active view is full', () => {
    const machine = new HyParView('c', seededRng(2), config);
    const out = new Recorder();
    for (const peer of ['a', 'b', 'd', 'e'])
      machine.handle({ type: 'message', from: peer, message: { type: 'join' } }, 0, out);
    expect(machine.activeSize).toBe(3);
    expect(machine.passiveSize).toBe(1);
    const evicted = machine.passiveView()[0] as string;
    expect(out.sent).toContainEqual({ to: evicted, message: { type: 'disconnect', alive: true } });
    expect(out.events).toContainEqual({ type: 'peerRemovedFromView', peer: evicted });
  });

  it('takes one low-priority Neighbor beyond capacity, rejects the next, and accepts a high one', () => {
    const machine = new HyParView('c', seededRng(3), config);
    const out = new Recorder();
    for (const peer of ['a', 'b', 'd'])
      machine.handle({ type: 'message', from: peer, message: { type: 'join' } }, 0, out);
    out.sent = [];
    machine.handle({ type: 'message', from: 'o', message: { type: 'neighbor', priority: 'low' } }, 0, out);
    expect(out.sent).toContainEqual({ to: 'o', message: { type: 'neighborReply', accepted: true } });
    expect(machine.activeView().sort()).toEqual(['a', 'b', 'd', 'o']); // no one evicted
    machine.handle({ type: 'message', from: 'l', message: { type: 'neighbor', priority: 'low' } }, 0, out);
    expect(out.sent).toContainEqual({ to: 'l', message: { type: 'neighborReply', accepted: false } });
    expect(machine.activeView()).not.toContain('l');
    machine.handle({ type: 'message', from: 'h', message: { type: 'neighbor', priority: 'high' } }, 0, out);
    expect(machine.activeView()).toContain('h');
    expect(machine.activeSize).toBe(config.activeViewCapacity + 1); // one evicted for it
  });

  it('asks with high priority after repeated rejections, and fills an under-full view on the shuffle timer', () => {
    const machine = new HyParView('c', seededRng(5), config);
    const out = new Recorder();
    machine.handle({ type: 'message', from: 'a', message: { type: 'join' } }, 0, out);
    machine.handle({ type: 'message', from: 'b', message: { type: 'neighbor', priority: 'high' } }, 0, out);
    machine.handle(
      { type: 'message', from: 'z', message: { type: 'shuffle', origin: 'z', ttl: 0, peers: ['z', 'p'] } },
      0,
      out,
    );
    // Two neighbours of three and nothing lost: the shuffle timer starts the repair.
    out.sent = [];
    machine.handle({ type: 'timer', timer: { type: 'shuffle' } }, 0, out);
    const asked = () => out.sent.filter((s) => s.message.type === 'neighbor').map((s) => s.message);
    expect(asked()).toEqual([{ type: 'neighbor', priority: 'low' }]);
    const priorities: string[] = [];
    for (let round = 0; round < 12; round++) {
      const request = out.sent.find((s) => s.message.type === 'neighbor');
      if (request === undefined) break;
      if (request.message.type === 'neighbor') priorities.push(request.message.priority);
      out.sent = [];
      machine.handle(
        { type: 'message', from: request.to, message: { type: 'neighborReply', accepted: false } },
        0,
        out,
      );
      machine.handle({ type: 'timer', timer: { type: 'repair' } }, 0, out);
    }
    expect(priorities.slice(0, 8)).toEqual(Array(8).fill('low'));
    expect(priorities[8]).toBe('high');
  });

  it('repairs from the passive view when an active peer goes down', () => {
    const machine = new HyParView('c', seededRng(4), config);
    const out = new Recorder();
    machine.handle({ type: 'message', from: 'a', message: { type: 'join' } }, 0, out);
    machine.handle(
      {
        type: 'message',
        from: 'z',
        message: { type: 'shuffle', origin: 'z', ttl: 0, peers: ['z', 'p', 'q'] },
      },
      0,
      out,
    );
    expect(machine.passiveView().sort()).toEqual(['p', 'q', 'z']);
    out.sent = [];
    machine.handle({ type: 'peerDown', peer: 'a' }, 0, out);
    expect(machine.activeSize).toBe(0);
    const asked = out.sent.filter((s) => s.message.type === 'neighbor');
    expect(asked.length).toBe(3); // three free slots, three passive peers
    expect(asked.every((s) => (s.message as { priority: string }).priority === 'high')).toBe(true);
    machine.handle(
      { type: 'message', from: 'p', message: { type: 'neighborReply', accepted: true } },
      0,
      out,
    );
    expect(machine.activeView()).toEqual(['p']);
  });

  it('keeps both views bounded, duplicate-free and disjoint under any sequence of inputs', () => {
    const rng = seededRng(99);
    const machine = new HyParView('self', seededRng(5), config);
    const out = new Recorder();
    const peers = ['self', ...Array.from({ length: 12 }, (_, i) => `p${i}`)];
    const peer = () => peers[rng.int(peers.length)] as string;
    const messages = (): HyParViewMessage => {
      switch (rng.int(7)) {
        case 0:
          return { type: 'join' };
        case 1:
          return { type: 'forwardJoin', peer: peer(), ttl: rng.int(7) };
        case 2:
          return { type: 'neighbor', priority: rng.next() < 0.5 ? 'high' : 'low' };
        case 3:
          return { type: 'neighborReply', accepted: rng.next() < 0.5 };
        case 4:
          return { type: 'disconnect', alive: rng.next() < 0.5 };
        case 5:
          return {
            type: 'shuffle',
            origin: peer(),
            ttl: rng.int(4),
            peers: Array.from({ length: rng.int(9) }, peer),
          };
        default:
          return { type: 'shuffleReply', peers: Array.from({ length: rng.int(9) }, peer) };
      }
    };
    for (let i = 0; i < 20_000; i++) {
      const kind = rng.int(10);
      let input: HyParViewInput;
      if (kind < 7) input = { type: 'message', from: peer(), message: messages() };
      else if (kind === 7) input = { type: 'peerDown', peer: peer() };
      else if (kind === 8)
        input = { type: 'timer', timer: rng.next() < 0.5 ? { type: 'shuffle' } : { type: 'repair' } };
      else input = { type: 'peerUp', peer: peer() };
      machine.handle(input, i, out);
      const problems = viewProblems(machine);
      if (problems !== '') expect.fail(`after input ${i} (${JSON.stringify(input)}): ${problems}`);
      if (i % 1000 === 0) out.sent = [];
    }
    // Every added event is matched by the view's state: adds minus removes = current size.
    const added = out.events.filter((e) => e.type === 'peerAddedToView').length;
    const removed = out.events.filter((e) => e.type === 'peerRemovedFromView').length;
    expect(added - removed).toBe(machine.activeSize);
  });

  it('is deterministic: the same seed and inputs give the same outputs', () => {
    const run = () => {
      const machine = new HyParView('c', seededRng(7), config);
      const out = new Recorder();
      for (const peer of ['a', 'b', 'd', 'e', 'f'])
        machine.handle({ type: 'message', from: peer, message: { type: 'join' } }, 0, out);
      machine.handle({ type: 'timer', timer: { type: 'shuffle' } }, 0, out);
      return JSON.stringify(out);
    };
    expect(run()).toBe(run());
  });
});
