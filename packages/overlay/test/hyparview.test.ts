import { describe, expect, it } from 'vitest';
import { HyParViewLabel, LABEL_STALE_TICKS } from '../src/hyparview-label.js';
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

/** A node 'm' with neighbours a, b and d that has learnt root 'a' (epoch 1) and passive peer 'p'. */
function labelledByA(seed: number): { machine: HyParView; out: Recorder } {
  const machine = new HyParView('m', seededRng(seed), config);
  const out = new Recorder();
  for (const peer of ['a', 'b', 'd'])
    machine.handle({ type: 'message', from: peer, message: { type: 'neighbor', priority: 'high' } }, 0, out);
  machine.handle(
    { type: 'message', from: 'a', message: { type: 'shuffleReply', peers: ['p'], root: 'a', epoch: 1 } },
    0,
    out,
  );
  return { machine, out };
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

  it('takes a high-priority Neighbor into a free overflow slot without evicting anyone', () => {
    const machine = new HyParView('c', seededRng(3), config);
    const out = new Recorder();
    for (const peer of ['a', 'b', 'd'])
      machine.handle({ type: 'message', from: peer, message: { type: 'join' } }, 0, out);
    out.sent = [];
    machine.handle({ type: 'message', from: 'h', message: { type: 'neighbor', priority: 'high' } }, 0, out);
    expect(machine.activeView().sort()).toEqual(['a', 'b', 'd', 'h']);
    expect(out.sent.filter((s) => s.message.type === 'disconnect')).toEqual([]);
  });

  it('gives a joining node a sample of its views at once', () => {
    const machine = new HyParView('c', seededRng(8), config);
    const out = new Recorder();
    machine.handle({ type: 'message', from: 'a', message: { type: 'join' } }, 0, out);
    machine.handle(
      { type: 'message', from: 'z', message: { type: 'shuffle', origin: 'z', ttl: 0, peers: ['z', 'p'] } },
      0,
      out,
    );
    out.sent = [];
    machine.handle({ type: 'message', from: 'n', message: { type: 'join' } }, 0, out);
    const sample = out.sent.find((s) => s.to === 'n' && s.message.type === 'shuffleReply');
    expect(sample?.message).toMatchObject({ type: 'shuffleReply', root: 'c' });
    const peers = sample?.message.type === 'shuffleReply' ? [...sample.message.peers].sort() : [];
    expect(peers).toEqual(['a', 'p', 'z']);
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

  it('learns the smallest root of its component from shuffles, and drops a root that goes silent', () => {
    const machine = new HyParView('m', seededRng(9), config);
    const out = new Recorder();
    machine.handle({ type: 'message', from: 'a', message: { type: 'join' } }, 0, out);
    machine.handle({ type: 'message', from: 'b', message: { type: 'neighbor', priority: 'high' } }, 0, out);
    const shuffle = (root: string, epoch: number): HyParViewInput => ({
      type: 'message',
      from: 'a',
      message: { type: 'shuffle', origin: 'a', ttl: 3, peers: ['a'], root, epoch },
    });
    const tick = () => machine.handle({ type: 'timer', timer: { type: 'shuffle' } }, 0, out);
    expect(machine.componentLabel().root).toBe('m');
    machine.handle(shuffle('z', 9), 0, out); // a larger root changes nothing
    expect(machine.componentLabel().root).toBe('m');
    out.sent = [];
    machine.handle(shuffle('e', 4), 0, out);
    expect(machine.componentLabel()).toEqual({ root: 'e', epoch: 4 });
    // The walk goes on to the other neighbour, carrying the label.
    expect(out.sent).toContainEqual({
      to: 'b',
      message: { type: 'shuffle', origin: 'a', ttl: 2, peers: ['a'], root: 'e', epoch: 4 },
    });
    machine.handle(shuffle('e', 3), 0, out); // an older epoch is not news
    expect(machine.componentLabel()).toEqual({ root: 'e', epoch: 4 });
    // Eight ticks without a newer epoch are fine; the ninth drops the root.
    for (let i = 0; i < 8; i++) tick();
    machine.handle(shuffle('e', 5), 0, out);
    for (let i = 0; i < 8; i++) tick();
    expect(machine.componentLabel().root).toBe('e');
    tick();
    expect(machine.componentLabel().root).toBe('m');
    // Copies of the dead root's old epochs still circulating do not bring it back; a newer one does.
    machine.handle(shuffle('e', 5), 0, out);
    expect(machine.componentLabel().root).toBe('m');
    machine.handle(shuffle('e', 6), 0, out);
    expect(machine.componentLabel()).toEqual({ root: 'e', epoch: 6 });
  });

  it('probes a passive peer once its label has settled, and bridges to a peer of another component', () => {
    const { machine, out } = labelledByA(10);
    const tick = () => machine.handle({ type: 'timer', timer: { type: 'shuffle' } }, 0, out);
    const probes = () => out.sent.filter((s) => s.message.type === 'probe').map((s) => s.to);
    tick();
    tick();
    expect(probes()).toEqual([]); // the label 'a' is two ticks old: not settled yet
    tick();
    expect(probes()).toEqual(['p']);
    // A probe is answered with this node's label.
    out.sent = [];
    machine.handle({ type: 'message', from: 'q', message: { type: 'probe' } }, 0, out);
    expect(out.sent).toEqual([
      { to: 'q', message: { type: 'probeReply', root: 'a', epoch: 1, settled: true } },
    ]);
    // Same root (up to three epochs ahead), or a label not settled at the peer: nothing to do.
    const reply = (root: string, settled: boolean, epoch = 1): HyParViewInput => ({
      type: 'message',
      from: 'p',
      message: { type: 'probeReply', root, epoch, settled },
    });
    out.sent = [];
    machine.handle(reply('a', true), 0, out);
    machine.handle(reply('a', true, 4), 0, out);
    machine.handle(reply('k', false), 0, out);
    expect(out.sent).toEqual([]);
    // Another settled root: the peer is in another component. Ask it to bridge, and take it into the
    // overflow slot without evicting anyone.
    machine.handle(reply('k', true), 0, out);
    expect(out.sent).toEqual([{ to: 'p', message: { type: 'neighbor', priority: 'bridge' } }]);
    expect(machine.counters()).toEqual({ probes: 1, bridges: 1 });
    machine.handle(
      { type: 'message', from: 'p', message: { type: 'neighborReply', accepted: true } },
      0,
      out,
    );
    expect(machine.activeView().sort()).toEqual(['a', 'b', 'd', 'p']);
    expect(out.sent.filter((s) => s.message.type === 'disconnect')).toEqual([]);
  });

  it('bridges to a peer on the same root but epochs ahead: this side has lost the root', () => {
    const { machine, out } = labelledByA(12);
    for (let i = 0; i < 3; i++) machine.handle({ type: 'timer', timer: { type: 'shuffle' } }, 0, out);
    out.sent = [];
    machine.handle(
      { type: 'message', from: 'p', message: { type: 'probeReply', root: 'a', epoch: 5, settled: true } },
      0,
      out,
    );
    expect(out.sent).toEqual([{ to: 'p', message: { type: 'neighbor', priority: 'bridge' } }]);
  });

  it('takes a bridge even when full, evicting only once its overflow slot is taken', () => {
    const machine = new HyParView('c', seededRng(11), config);
    const out = new Recorder();
    for (const peer of ['a', 'b', 'd'])
      machine.handle({ type: 'message', from: peer, message: { type: 'join' } }, 0, out);
    const bridge = (from: string): HyParViewInput => ({
      type: 'message',
      from,
      message: { type: 'neighbor', priority: 'bridge' },
    });
    out.sent = [];
    machine.handle(bridge('x'), 0, out);
    expect(machine.activeSize).toBe(4);
    expect(out.sent.filter((s) => s.message.type === 'disconnect')).toEqual([]);
    machine.handle(bridge('y'), 0, out);
    expect(machine.activeView()).toContain('y');
    expect(machine.activeSize).toBe(4);
    expect(out.sent.filter((s) => s.message.type === 'disconnect').length).toBe(1);
    expect(out.sent).toContainEqual({ to: 'y', message: { type: 'neighborReply', accepted: true } });
  });

  it('shuffles on a short schedule after start and again after losing a neighbour, then every shuffleInterval', () => {
    const machine = new HyParView('m', seededRng(21), { ...config, shuffleInterval: 10_000 });
    const timers: Array<{ timer: HyParViewTimer; delay: number }> = [];
    const out = new Recorder();
    out.setTimer = (timer: HyParViewTimer, delay?: number) => {
      timers.push({ timer, delay: delay ?? 0 });
    };
    const shuffleTimers = () => timers.filter((t) => t.timer.type === 'shuffle');
    for (const peer of ['a', 'b', 'c'])
      machine.handle(
        { type: 'message', from: peer, message: { type: 'neighbor', priority: 'high' } },
        0,
        out,
      );
    // Each period is drawn from [0.5, 1.5) × the schedule's entry: 250, 500, 1,000 … 8,000 ms, then 10 s.
    const schedule = [250, 500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000];
    let now = 0;
    for (const [i, nominal] of schedule.entries()) {
      const pending = shuffleTimers()[i];
      expect(pending?.delay).toBeGreaterThanOrEqual(nominal * 0.5);
      expect(pending?.delay).toBeLessThan(nominal * 1.5);
      now += pending?.delay ?? 0;
      machine.handle({ type: 'timer', timer: pending?.timer as HyParViewTimer }, now, out);
    }
    // A lost neighbour restarts the short schedule; the tick already pending is orphaned.
    const orphan = shuffleTimers().at(-1)?.timer as HyParViewTimer;
    machine.handle({ type: 'peerDown', peer: 'a' }, now, out);
    const restarted = shuffleTimers().at(-1);
    expect(restarted?.timer).not.toEqual(orphan);
    expect(restarted?.delay).toBeLessThan(250 * 1.5);
    const sentBefore = out.sent.length;
    const timersBefore = timers.length;
    machine.handle({ type: 'timer', timer: orphan }, now + 1, out);
    expect(out.sent.length).toBe(sentBefore);
    expect(timers.length).toBe(timersBefore);
    // A second loss within a shuffleInterval of the restart does not restart it again.
    machine.handle({ type: 'timer', timer: restarted?.timer as HyParViewTimer }, now + 300, out);
    machine.handle({ type: 'timer', timer: shuffleTimers().at(-1)?.timer as HyParViewTimer }, now + 900, out);
    const pending = shuffleTimers().at(-1);
    machine.handle({ type: 'peerDown', peer: 'b' }, now + 1_000, out);
    expect(shuffleTimers().at(-1)).toBe(pending);
  });

  it('counts silence from the root on normal ticks only: a quick schedule does not make a root stale', () => {
    const label = new HyParViewLabel('m');
    label.learn('a', 1);
    for (let i = 0; i < 3 * LABEL_STALE_TICKS; i++) label.tick(true);
    expect(label.root).toBe('a');
    expect(label.settled).toBe(true);
    for (let i = 0; i <= LABEL_STALE_TICKS; i++) label.tick();
    expect(label.root).toBe('m');
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
      switch (rng.int(8)) {
        case 0:
          return { type: 'join' };
        case 1:
          return { type: 'forwardJoin', peer: peer(), ttl: rng.int(7) };
        case 2:
          return { type: 'neighbor', priority: (['high', 'low', 'bridge'] as const)[rng.int(3)] ?? 'low' };
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
        case 6:
          return rng.next() < 0.5
            ? { type: 'probe' }
            : { type: 'probeReply', root: peer(), epoch: rng.int(50), settled: rng.next() < 0.7 };
        default:
          return {
            type: 'shuffleReply',
            peers: Array.from({ length: rng.int(9) }, peer),
            ...(rng.next() < 0.5 ? { root: peer(), epoch: rng.int(50) } : {}),
          };
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
