import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import {
  type BroadcastOverlayMessage,
  decodeBroadcastOverlayMessage,
  decodePlumTreeMessage,
  PLUMTREE_LIMITS,
  type PlumTreeMessage,
  ProtocolDecodeError,
} from '../src/index.js';

const valid: PlumTreeMessage[] = [
  { type: 'gossip', id: 'pub/1', payload: new Uint8Array([1, 2, 3]), hops: 1 },
  { type: 'reply', id: 'pub/2', payload: new Uint8Array(0), hops: 255 },
  { type: 'ihave', entries: [{ id: 'pub/1', hops: 0 }] },
  { type: 'graft', tree: 'pub', ids: ['pub/1'] },
  { type: 'graft', tree: '', ids: [] },
  { type: 'prune', tree: 'pub' },
  { type: 'want', ids: ['a/1', 'a/2'] },
];

function rejects(value: unknown, path: string): void {
  let caught: unknown;
  try {
    decodePlumTreeMessage(value);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ProtocolDecodeError);
  expect((caught as ProtocolDecodeError).path).toBe(path);
  expect((caught as ProtocolDecodeError).protocol).toBe('plumtree/1');
}

describe('decodePlumTreeMessage', () => {
  it('reads back every well-formed message', () => {
    for (const message of valid) expect(decodePlumTreeMessage(structuredClone(message))).toEqual(message);
  });

  it('rejects bad input with a typed error naming the field', () => {
    const long = 'x'.repeat(PLUMTREE_LIMITS.maxIdLength + 1);
    rejects(null, '$');
    rejects([], '$');
    rejects(new Uint8Array(2), '$');
    rejects({ type: 'flood' }, 'type');
    rejects({ type: 'prune', tree: 'a', extra: true }, 'extra');
    rejects({ type: 'prune' }, 'tree');
    rejects({ type: 'prune', tree: long }, 'tree');
    rejects({ type: 'gossip', id: '', payload: new Uint8Array(1), hops: 1 }, 'id');
    rejects({ type: 'gossip', id: long, payload: new Uint8Array(1), hops: 1 }, 'id');
    rejects({ type: 'gossip', id: 'a/1', payload: 'bytes', hops: 1 }, 'payload');
    rejects({ type: 'gossip', id: 'a/1', payload: [1, 2], hops: 1 }, 'payload');
    rejects(
      { type: 'gossip', id: 'a/1', payload: new Uint8Array(PLUMTREE_LIMITS.maxPayloadBytes + 1), hops: 1 },
      'payload',
    );
    rejects({ type: 'gossip', id: 'a/1', payload: new Uint8Array(1), hops: 0 }, 'hops');
    rejects({ type: 'reply', id: 'a/1', payload: new Uint8Array(1), hops: 256 }, 'hops');
    rejects({ type: 'reply', id: 'a/1', payload: new Uint8Array(1), hops: 1.5 }, 'hops');
    rejects({ type: 'ihave', entries: [] }, 'entries');
    rejects({ type: 'ihave', entries: {} }, 'entries');
    rejects({ type: 'ihave', entries: [{ id: 'a/1', hops: -1 }] }, 'entries[0].hops');
    rejects({ type: 'ihave', entries: [{ id: 'a/1', hops: 1, more: 1 }] }, 'entries[0].more');
    rejects({ type: 'ihave', entries: ['a/1'] }, 'entries[0]');
    rejects(
      { type: 'ihave', entries: new Array(PLUMTREE_LIMITS.maxIdsPerMessage + 1).fill({ id: 'a', hops: 1 }) },
      'entries',
    );
    rejects({ type: 'graft', tree: 'a', ids: 'a/1' }, 'ids');
    rejects({ type: 'graft', tree: 'a', ids: ['a/1', 2] }, 'ids[1]');
    rejects({ type: 'graft', tree: 3, ids: [] }, 'tree');
    rejects({ type: 'want', ids: [] }, 'ids');
    rejects({ type: 'want', ids: new Array(PLUMTREE_LIMITS.maxIdsPerMessage + 1).fill('a/1') }, 'ids');
  });

  test.prop([fc.anything()])('never throws anything but ProtocolDecodeError', (value) => {
    try {
      decodePlumTreeMessage(value);
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
        const decoded = decodePlumTreeMessage(mutated);
        expect(decodePlumTreeMessage(decoded)).toEqual(decoded);
      } catch (error) {
        expect(error).toBeInstanceOf(ProtocolDecodeError);
      }
    },
  );
});

describe('decodeBroadcastOverlayMessage', () => {
  const tagged: BroadcastOverlayMessage[] = [
    { type: 'hyparview', message: { type: 'join' } },
    { type: 'plumtree', message: { type: 'prune', tree: 't' } },
  ];

  it('reads back tagged messages and rejects bad tags and bad inner messages', () => {
    for (const message of tagged) {
      expect(decodeBroadcastOverlayMessage(structuredClone(message))).toEqual(message);
    }
    expect(() => decodeBroadcastOverlayMessage({ type: 'gossip', message: {} })).toThrow(ProtocolDecodeError);
    expect(() => decodeBroadcastOverlayMessage({ type: 'plumtree', message: { type: 'join' } })).toThrow(
      ProtocolDecodeError,
    );
    expect(() =>
      decodeBroadcastOverlayMessage({ type: 'hyparview', message: { type: 'join' }, more: 1 }),
    ).toThrow(ProtocolDecodeError);
    expect(() => decodeBroadcastOverlayMessage('hyparview')).toThrow(ProtocolDecodeError);
  });

  test.prop([fc.anything()])('never throws anything but ProtocolDecodeError', (value) => {
    try {
      decodeBroadcastOverlayMessage(value);
    } catch (error) {
      expect(error).toBeInstanceOf(ProtocolDecodeError);
    }
  });
});
