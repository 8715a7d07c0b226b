import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import {
  decodeHyParViewMessage,
  HYPARVIEW_LIMITS,
  type HyParViewMessage,
  ProtocolDecodeError,
} from '../src/index.js';

const valid: HyParViewMessage[] = [
  { type: 'join' },
  { type: 'forwardJoin', peer: 'n1', ttl: 6 },
  { type: 'neighbor', priority: 'high' },
  { type: 'neighbor', priority: 'low' },
  { type: 'neighbor', priority: 'bridge' },
  { type: 'neighborReply', accepted: false },
  { type: 'disconnect', alive: true },
  { type: 'shuffle', origin: 'n2', ttl: 0, peers: ['a', 'b'] },
  { type: 'shuffle', origin: 'n2', ttl: 3, peers: ['a'], root: 'n0', epoch: 41 },
  { type: 'shuffleReply', peers: [] },
  { type: 'shuffleReply', peers: ['b'], root: 'n0', epoch: 0 },
  { type: 'probe' },
  { type: 'probeReply', root: 'n0', epoch: 12, settled: true },
];

function rejects(value: unknown, path: string): void {
  let caught: unknown;
  try {
    decodeHyParViewMessage(value);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ProtocolDecodeError);
  expect((caught as ProtocolDecodeError).path).toBe(path);
  expect((caught as ProtocolDecodeError).name).toBe('ProtocolDecodeError');
}

describe('decodeHyParViewMessage', () => {
  it('reads back every well-formed message', () => {
    for (const message of valid) expect(decodeHyParViewMessage(structuredClone(message))).toEqual(message);
  });

  it('rejects bad input with a typed error naming the field', () => {
    rejects(null, '$');
    rejects([], '$');
    rejects('join', '$');
    rejects(new Uint8Array(3), '$');
    rejects({ type: 'hello' }, 'type');
    rejects({ type: 'join', extra: 1 }, 'extra');
    rejects({ type: 'forwardJoin', peer: '', ttl: 1 }, 'peer');
    rejects({ type: 'forwardJoin', peer: 'x'.repeat(HYPARVIEW_LIMITS.maxPeerIdLength + 1), ttl: 1 }, 'peer');
    rejects({ type: 'forwardJoin', peer: 'a', ttl: -1 }, 'ttl');
    rejects({ type: 'forwardJoin', peer: 'a', ttl: 1.5 }, 'ttl');
    rejects({ type: 'forwardJoin', peer: 'a', ttl: HYPARVIEW_LIMITS.maxTtl + 1 }, 'ttl');
    rejects({ type: 'forwardJoin', peer: 7, ttl: 1 }, 'peer');
    rejects({ type: 'neighbor', priority: 'urgent' }, 'priority');
    rejects({ type: 'neighborReply', accepted: 'yes' }, 'accepted');
    rejects({ type: 'disconnect' }, 'alive');
    rejects({ type: 'shuffle', origin: 'a', ttl: 1, peers: 'b' }, 'peers');
    rejects({ type: 'shuffle', origin: 'a', ttl: 1, peers: ['b', 3] }, 'peers[1]');
    rejects(
      { type: 'shuffleReply', peers: new Array(HYPARVIEW_LIMITS.maxShufflePeers + 1).fill('p') },
      'peers',
    );
    // The component label: both fields or neither, a peer id and a non-negative integer.
    rejects({ type: 'shuffle', origin: 'a', ttl: 1, peers: [], root: 'n0' }, 'epoch');
    rejects({ type: 'shuffleReply', peers: [], epoch: 3 }, 'root');
    rejects({ type: 'shuffleReply', peers: [], root: 'n0', epoch: -1 }, 'epoch');
    rejects({ type: 'shuffleReply', peers: [], root: 'n0', epoch: 2 ** 53 }, 'epoch');
    rejects({ type: 'shuffleReply', peers: [], root: '', epoch: 1 }, 'root');
    rejects({ type: 'probe', root: 'n0' }, 'root');
    rejects({ type: 'probeReply', root: 'n0', epoch: 1 }, 'settled');
    rejects({ type: 'probeReply', root: 'n0', settled: true }, 'epoch');
    rejects({ type: 'probeReply', root: 5, epoch: 1, settled: false }, 'root');
  });

  test.prop([fc.anything()])('never throws anything but ProtocolDecodeError', (value) => {
    try {
      decodeHyParViewMessage(value);
    } catch (error) {
      expect(error).toBeInstanceOf(ProtocolDecodeError);
    }
  });

  test.prop([fc.constantFrom(...valid), fc.string(), fc.anything()])(
    'rejects a well-formed message with any one field replaced by junk, or accepts a valid value',
    (message, key, junk) => {
      const field = key in message ? key : 'type';
      const mutated = { ...message, [field]: junk };
      try {
        const decoded = decodeHyParViewMessage(mutated);
        // Whatever passes must itself be well-formed: decoding it again gives the same message.
        expect(decodeHyParViewMessage(decoded)).toEqual(decoded);
      } catch (error) {
        expect(error).toBeInstanceOf(ProtocolDecodeError);
      }
    },
  );
});
