import { ProtocolDecodeError } from '@netmachine/overlay';
import { describe, expect, it } from 'vitest';
import { DISCOVERY_LIMITS, decodeDiscoveryMessage } from '../src/index.js';
import { entry } from './helpers.js';

describe('decodeDiscoveryMessage', () => {
  it('reads every well-formed message', () => {
    const e = entry('a');
    expect(decodeDiscoveryMessage({ type: 'shuffle', entries: [e] })).toEqual({
      type: 'shuffle',
      entries: [e],
    });
    expect(decodeDiscoveryMessage({ type: 'clusterReply', entries: [] })).toEqual({
      type: 'clusterReply',
      entries: [],
    });
    const lookup = { type: 'lookup', id: 'x', domain: 'd1', target: new Uint8Array(16), path: ['a', 'b'] };
    expect(decodeDiscoveryMessage(lookup)).toEqual(lookup);
    const reply = { type: 'lookupReply', id: 'x', domain: 'd1', members: [e], path: ['a', 'b'] };
    expect(decodeDiscoveryMessage(reply)).toEqual(reply);
    const announce = { type: 'announce', domain: 'd1', target: new Uint8Array(16), entry: e, path: ['a'] };
    expect(decodeDiscoveryMessage(announce)).toEqual(announce);
  });

  it.each([
    ['not an object', 42, 'message'],
    ['an unknown type', { type: 'gossip' }, 'message.type'],
    ['an unknown field', { type: 'shuffle', entries: [], extra: 1 }, 'message.extra'],
    [
      'an oversized view',
      { type: 'shuffle', entries: new Array(DISCOVERY_LIMITS.maxEntries + 1).fill(entry('a')) },
      'message.entries',
    ],
    [
      'an entry without signature',
      { type: 'shuffle', entries: [{ peer: 'a', filter: new Uint8Array(4), age: 0 }] },
      'message.entries[0].signature',
    ],
    [
      'an oversized filter',
      { type: 'cluster', entries: [entry('a', new Uint8Array(2048))] },
      'message.entries[0].filter',
    ],
    ['an empty peer id', { type: 'cluster', entries: [entry('')] }, 'message.entries[0].peer'],
    [
      'a negative age',
      { type: 'cluster', entries: [entry('a', new Uint8Array(4), -1)] },
      'message.entries[0].age',
    ],
    [
      'a path longer than the limit',
      { type: 'lookup', id: 'x', domain: 'd', target: new Uint8Array(4), path: new Array(65).fill('a') },
      'message.path',
    ],
    [
      'an empty path',
      { type: 'lookup', id: 'x', domain: 'd', target: new Uint8Array(4), path: [] },
      'message.path',
    ],
    [
      'an announce without a path',
      { type: 'announce', domain: 'd', target: new Uint8Array(4), entry: entry('a'), path: [] },
      'message.path',
    ],
    [
      'an announce with a bad entry',
      { type: 'announce', domain: 'd', target: new Uint8Array(4), entry: { peer: 'a' }, path: ['a'] },
      'message.entry.age',
    ],
    [
      'too many members',
      { type: 'lookupReply', id: 'x', domain: 'd', members: new Array(17).fill(entry('a')), path: ['a'] },
      'message.members',
    ],
  ])('rejects %s with a typed error naming the field', (_, value, path) => {
    let error: unknown;
    try {
      decodeDiscoveryMessage(value);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProtocolDecodeError);
    expect((error as ProtocolDecodeError).path).toBe(path);
  });
});
