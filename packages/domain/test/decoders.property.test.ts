import { fc, it } from '@fast-check/vitest';
import { NetmachineError, pack, unpack } from '@netmachine/core';
import { describe, expect } from 'vitest';
import {
  inviteFromWire,
  leaveFromWire,
  memberInfoFromWire,
  membershipRecordFromWire,
  parseDomainTicket,
  parseInvite,
  removalFromWire,
} from '../src/index.js';
import { decodeReply, decodeRequest } from '../src/protocol.js';

/** Any value msgpack carries, with byte strings of the lengths keys and signatures have. */
const wireValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(null, true, false, 0, -1, 2 ** 40),
    fc.string({ maxLength: 20 }),
    fc.constantFrom(
      'challenge',
      'join',
      'members',
      'announce',
      'sync',
      'neighbor',
      'leave',
      'remove',
      'joined',
      'refused',
    ),
    fc.oneof(fc.constant(16), fc.constant(32), fc.constant(64), fc.nat(70)).map((n) => new Uint8Array(n)),
    fc.array(tie('value'), { maxLength: 8 }),
  ),
})).value;

const decoders: [string, (v: unknown) => unknown][] = [
  ['request', decodeRequest],
  ['reply', decodeReply],
  ['record', membershipRecordFromWire],
  ['invite', inviteFromWire],
  ['leave', leaveFromWire],
  ['removal', removalFromWire],
  ['member info', memberInfoFromWire],
];

/** Either a value or a typed error: never a TypeError, RangeError or a crash. */
function typedOrValue(read: () => unknown): void {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(NetmachineError);
  }
}

describe('domain decoders on arbitrary input', () => {
  for (const [name, decode] of decoders) {
    it.prop([wireValue])(`${name}: a value or a typed error`, (value) => {
      typedOrValue(() => decode(unpack(pack(value))));
    });
  }
  it.prop([fc.string({ maxLength: 200 })])('tickets and invites: a value or a typed error', (text) => {
    typedOrValue(() => parseDomainTicket(`nmdomain1.${Buffer.from(text).toString('base64url')}`));
    typedOrValue(() => parseInvite(`nminvite1.${Buffer.from(text).toString('base64url')}`));
    typedOrValue(() => parseDomainTicket(text));
  });
});
