import { pack, unpack } from '@netmachine/core';
import { packPlain } from '@netmachine/transport/wire';
import { describe, expect, it } from 'vitest';
import {
  decodeHyParViewMessage,
  decodePlumTreeMessage,
  HyParView,
  type HyParViewMessage,
  type HyParViewOutput,
  type HyParViewTimer,
  type PlumTreeMessage,
  seededRng,
} from '../src/index.js';
import { bytes, Harness } from './plumtree-harness.js';

// The transport writes plain-object bodies straight into the frame (packPlain's writer) rather than
// through msgpackr. Every control message the overlay machines really send must take that path and
// read back as msgpackr's encoding of it does, and as the strict decoder accepts.

/**
 * Paths of values the direct writer does not take (it hands the whole body to msgpackr then): fields
 * holding `undefined`, maps, bigints, class instances.
 */
function notPlain(value: unknown, path = '$'): string[] {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return [];
  if (value === null || value instanceof Uint8Array) return [];
  if (typeof value !== 'object') return [path];
  const proto = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return [path];
  const found: string[] = [];
  for (const [key, item] of Object.entries(value)) found.push(...notPlain(item, `${path}.${key}`));
  return found;
}

function checkEncoding(message: unknown, decode: (value: unknown) => unknown): void {
  expect(notPlain(message)).toEqual([]);
  const direct = packPlain(message);
  const viaMsgpackr = unpack(pack(message));
  expect(unpack(direct)).toEqual(viaMsgpackr);
  expect(decode(unpack(direct))).toEqual(decode(viaMsgpackr));
}

/** Nine HyParView machines joining one contact at once, with every timer fired in rounds. */
function hyparviewTraffic(seed: number): HyParViewMessage[] {
  const names = Array.from({ length: 9 }, (_, i) => `node-${i}-${'x'.repeat(40)}`);
  const machines = new Map(
    names.map((name, i) => [name, new HyParView(name, seededRng(seed * 31 + i), { activeViewCapacity: 3 })]),
  );
  const sent: HyParViewMessage[] = [];
  const queue: { from: string; to: string; message: HyParViewMessage }[] = [];
  const timers = new Map<string, HyParViewTimer[]>(names.map((name) => [name, []]));
  const outOf = (name: string): HyParViewOutput => ({
    send: (to, message) => {
      sent.push(message);
      queue.push({ from: name, to, message: decodeHyParViewMessage(unpack(packPlain(message))) });
    },
    connect: () => {},
    disconnect: () => {},
    setTimer: (timer) => timers.get(name)?.push(timer),
    emit: () => {},
  });
  const handle = (name: string, input: Parameters<HyParView['handle']>[0]) =>
    machines.get(name)?.handle(input, 0, outOf(name));
  const [contact, ...rest] = names as [string, ...string[]];
  for (const name of rest) handle(name, { type: 'command', command: { type: 'join', contact } });
  for (let round = 0; round < 20; round++) {
    while (queue.length > 0) {
      const next = queue.shift() as (typeof queue)[number];
      handle(next.to, { type: 'message', from: next.from, message: next.message });
    }
    for (const name of names) {
      const due = timers.get(name) ?? [];
      timers.set(name, []);
      for (const timer of due) handle(name, { type: 'timer', timer });
    }
    if (round === 10) handle(names[3] as string, { type: 'peerDown', peer: names[4] as string });
  }
  handle(names[5] as string, { type: 'command', command: { type: 'leave' } });
  return sent;
}

describe('overlay messages through the direct body writer', () => {
  it('encodes every HyParView message the machines send as msgpackr does', () => {
    const seen = new Set<string>();
    for (const seed of [1, 2, 3]) {
      for (const message of hyparviewTraffic(seed)) {
        seen.add(message.type);
        checkEncoding(message, decodeHyParViewMessage);
      }
    }
    expect([...seen].sort()).toEqual(
      [
        'disconnect',
        'forwardJoin',
        'join',
        'neighbor',
        'neighborReply',
        'probe',
        'probeReply',
        'shuffle',
        'shuffleReply',
      ].sort(),
    );
  });

  it('encodes every PlumTree message the machines send as msgpackr does', () => {
    const raw: PlumTreeMessage[] = [];
    const h = new Harness(['a', 'b', 'c']);
    for (const machine of h.machines.values()) {
      const handle = machine.handle.bind(machine);
      machine.handle = (input, now, out) =>
        handle(input, now, {
          ...out,
          send: (to, message) => {
            raw.push(message);
            out.send(to, message);
          },
        });
    }
    h.link('a', 'b');
    h.link('b', 'c');
    h.link('a', 'c');
    h.command('a', { type: 'broadcast', id: 'a/1', payload: bytes(1) });
    h.settle();
    h.cut.add('a>b');
    h.command('a', { type: 'broadcast', id: 'a/2', payload: bytes(2, 3) });
    h.settle();
    h.fire('b', 'graft');
    h.settle();
    h.cut.clear();
    h.command('b', { type: 'fetch', ids: ['a/1', 'a/9'] });
    h.settle();
    const seen = new Set(raw.map((message) => message.type));
    expect([...seen].sort()).toEqual(['gossip', 'graft', 'ihave', 'prune', 'reply', 'want']);
    for (const message of raw) checkEncoding(message, decodePlumTreeMessage);
  });
});
