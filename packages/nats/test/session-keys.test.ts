import { randomBytes } from 'node:crypto';
import { KeyPair, SchemaError } from '@netmachine/core';
import { describe, expect, it } from 'vitest';
import {
  appendTag,
  derivePairKeys,
  EphemeralKey,
  groupKeyFor,
  type PairContext,
  splitTag,
  tagValid,
  unwrapGroupKey,
  wrapGroupKey,
} from '../src/session-keys.js';

function handshake(overrides: Partial<PairContext> = {}) {
  const process = new EphemeralKey();
  const bridge = new EphemeralKey();
  const context: PairContext = {
    node: KeyPair.generate().id,
    name: 'svc',
    instance: 'instance-1',
    session: 'lq3abc.session',
    processDhKey: process.publicKey,
    bridgeDhKey: bridge.publicKey,
    ...overrides,
  };
  return { process, bridge, context };
}

describe('session keys', () => {
  it('both sides of the X25519 exchange derive the same keys, and only they', () => {
    const { process, bridge, context } = handshake();
    const atProcess = derivePairKeys(process.agree(bridge.publicKey), context);
    const atBridge = derivePairKeys(bridge.agree(process.publicKey), context);
    expect(atProcess).toEqual(atBridge);
    // Three distinct keys: one per direction and purpose.
    expect(
      new Set([atProcess.out, atProcess.results, atProcess.wrap].map((k) => k.toString('hex'))).size,
    ).toBe(3);
    // Someone who saw both public keys but holds neither private key agrees on something else.
    const bystander = new EphemeralKey();
    expect(derivePairKeys(bystander.agree(bridge.publicKey), context)).not.toEqual(atBridge);
  });

  it('binds the keys to node, name, instance and session', () => {
    const { process, bridge, context } = handshake();
    const shared = process.agree(bridge.publicKey);
    const base = derivePairKeys(shared, context);
    for (const change of [
      { node: KeyPair.generate().id },
      { name: 'other' },
      { instance: 'instance-2' },
      { session: 'lq3abd.session' },
    ]) {
      expect(derivePairKeys(shared, { ...context, ...change }).out).not.toEqual(base.out);
    }
  });

  it('refuses an X25519 key of the wrong size or of low order', () => {
    const key = new EphemeralKey();
    expect(() => key.agree(new Uint8Array(31))).toThrow(SchemaError);
    // The all-zero point gives an all-zero shared secret: OpenSSL refuses it.
    expect(() => key.agree(new Uint8Array(32))).toThrow(SchemaError);
  });

  it('a group key wrapped for one process opens only with that process keys and context', () => {
    const { process, bridge, context } = handshake();
    const pair = derivePairKeys(bridge.agree(process.publicKey), context);
    const group = groupKeyFor(randomBytes(32), 'svc');
    const wrapped = wrapGroupKey(pair, context, group);
    expect(
      unwrapGroupKey(derivePairKeys(process.agree(bridge.publicKey), context), context, wrapped),
    ).toEqual(group);
    expect(() => unwrapGroupKey(pair, { ...context, instance: 'instance-2' }, wrapped)).toThrow(SchemaError);
    const other = handshake();
    const otherPair = derivePairKeys(other.process.agree(other.bridge.publicKey), other.context);
    expect(() => unwrapGroupKey(otherPair, context, wrapped)).toThrow(SchemaError);
    const tampered = Buffer.from(wrapped);
    tampered[20] = (tampered[20] as number) ^ 1;
    expect(() => unwrapGroupKey(pair, context, tampered)).toThrow(SchemaError);
  });

  it('group keys are one per name and session secret', () => {
    const secret = randomBytes(32);
    expect(groupKeyFor(secret, 'svc')).toEqual(groupKeyFor(secret, 'svc'));
    expect(groupKeyFor(secret, 'svc')).not.toEqual(groupKeyFor(secret, 'other'));
    expect(groupKeyFor(randomBytes(32), 'svc')).not.toEqual(groupKeyFor(secret, 'svc'));
  });

  it('a tag checks only with its key and its exact bytes', () => {
    const key = randomBytes(32);
    const bytes = randomBytes(100);
    const { tagged, tag } = splitTag(appendTag(key, bytes), 'test');
    expect(Buffer.from(tagged)).toEqual(bytes);
    expect(tagValid(key, tagged, tag)).toBe(true);
    expect(tagValid(randomBytes(32), tagged, tag)).toBe(false);
    const flipped = Buffer.from(tagged);
    flipped[0] = (flipped[0] as number) ^ 1;
    expect(tagValid(key, flipped, tag)).toBe(false);
    expect(tagValid(key, tagged, tag.subarray(0, 16))).toBe(false);
    expect(() => splitTag(new Uint8Array(32), 'test')).toThrow(SchemaError);
  });
});
