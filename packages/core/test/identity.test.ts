import { describe, expect, it } from 'vitest';
import {
  assertEngineName,
  base32Decode,
  base32Encode,
  compactEngineId,
  compactEngineIdText,
  domainIdFromBytes,
  engineAddress,
  formatEngineAddress,
  InvalidIdentityError,
  identityBytes,
  isEngineName,
  isKeyText,
  KEY_BYTES,
  KEY_TEXT_LENGTH,
  KeyPair,
  type NodeId,
  nodeIdFromBytes,
  parseDomainId,
  parseEngineAddress,
  parseNodeId,
  parseTopicId,
  sameEngine,
  topicIdFromBytes,
} from '../src/index.js';

const bytes = (n: number, fill = 7) => new Uint8Array(n).fill(fill);

describe('base32', () => {
  it('matches the RFC 4648 test vectors in lower case without padding', () => {
    const vectors: Array<[string, string]> = [
      ['', ''],
      ['f', 'my'],
      ['fo', 'mzxq'],
      ['foo', 'mzxw6'],
      ['foob', 'mzxw6yq'],
      ['fooba', 'mzxw6ytb'],
      ['foobar', 'mzxw6ytboi'],
    ];
    for (const [plain, encoded] of vectors) {
      expect(base32Encode(new TextEncoder().encode(plain))).toBe(encoded);
      expect(new TextDecoder().decode(base32Decode(encoded))).toBe(plain);
    }
  });

  it('rejects characters outside the alphabet, upper case and non-ASCII', () => {
    expect(base32Decode('MZXW6')).toBeUndefined();
    expect(base32Decode('mzxw1')).toBeUndefined();
    expect(base32Decode('mzxw=')).toBeUndefined();
    expect(base32Decode('mzxwé')).toBeUndefined();
  });

  it('rejects non-zero trailing bits so every byte string has one text form', () => {
    // 'my' is 'f'; 'mz' carries the same byte with a non-zero leftover bit.
    expect(base32Decode('my')).toEqual(new Uint8Array([0x66]));
    expect(base32Decode('mz')).toBeUndefined();
    // A lone character cannot hold a byte.
    expect(base32Decode('m')).toBeUndefined();
  });
});

describe('key identities', () => {
  const key = KeyPair.generate();

  it('formats 32 key bytes as 52 characters and parses them back', () => {
    expect(key.id).toHaveLength(KEY_TEXT_LENGTH);
    expect(isKeyText(key.id)).toBe(true);
    const node = parseNodeId(key.id);
    expect(identityBytes(node)).toEqual(key.publicKey);
    expect(parseTopicId(key.id)).toBe(key.id);
    expect(parseDomainId(key.id)).toBe(key.id);
  });

  it('builds node, topic and domain ids from bytes', () => {
    const raw = bytes(KEY_BYTES, 0xab);
    const id = nodeIdFromBytes(raw);
    expect(topicIdFromBytes(raw)).toBe(id);
    expect(domainIdFromBytes(raw)).toBe(id);
    expect(identityBytes(id)).toEqual(raw);
  });

  it.each([
    ['empty', ''],
    ['too short', 'a'.repeat(51)],
    ['too long', 'a'.repeat(53)],
    ['upper case', 'A'.repeat(52)],
    ['digit outside the alphabet', `1${'a'.repeat(51)}`],
    ['non-zero trailing bits', `${'a'.repeat(51)}b`],
    ['surrounding space', ` ${'a'.repeat(51)}`],
  ])('rejects a malformed text form (%s)', (_label, text) => {
    expect(isKeyText(text)).toBe(false);
    expect(() => parseNodeId(text)).toThrow(InvalidIdentityError);
    expect(() => parseTopicId(text)).toThrow(InvalidIdentityError);
    expect(() => parseDomainId(text)).toThrow(InvalidIdentityError);
  });

  it('rejects non-strings', () => {
    expect(isKeyText(42)).toBe(false);
    expect(isKeyText(undefined)).toBe(false);
    expect(() => parseNodeId(42 as unknown as string)).toThrow(InvalidIdentityError);
    expect(() => parseNodeId(null as unknown as string)).toThrow(InvalidIdentityError);
  });

  it('rejects byte forms of the wrong length or type', () => {
    expect(() => nodeIdFromBytes(bytes(31))).toThrow(InvalidIdentityError);
    expect(() => topicIdFromBytes(bytes(33))).toThrow(InvalidIdentityError);
    expect(() => domainIdFromBytes(new Uint8Array(0))).toThrow(InvalidIdentityError);
    expect(() => nodeIdFromBytes([1, 2, 3] as unknown as Uint8Array)).toThrow(InvalidIdentityError);
  });

  it('refuses to take the bytes of something that is not an identity', () => {
    expect(() => identityBytes('hello' as NodeId)).toThrow(InvalidIdentityError);
    expect(() => identityBytes('a'.repeat(50) as NodeId)).toThrow(InvalidIdentityError);
  });
});

describe('engine names and addresses', () => {
  const node = KeyPair.generate().id;

  it('accepts 1-64 characters of the allowed set', () => {
    for (const name of ['a', 'router', 'kv/store:1', 'A.b_c-d', 'x'.repeat(64)]) {
      expect(isEngineName(name)).toBe(true);
      expect(assertEngineName(name)).toBe(name);
    }
  });

  it.each(['', 'x'.repeat(65), 'has space', 'at@sign', 'newline\n', 'ümlaut'])(
    'rejects the engine name %j',
    (name) => {
      expect(isEngineName(name)).toBe(false);
      expect(() => assertEngineName(name)).toThrow(InvalidIdentityError);
      expect(() => engineAddress(node, name)).toThrow(InvalidIdentityError);
    },
  );

  it('rejects non-string names', () => {
    expect(isEngineName(7)).toBe(false);
    expect(isEngineName(null)).toBe(false);
  });

  it('formats and parses name@node', () => {
    const address = engineAddress(node, 'kv');
    const text = formatEngineAddress(address);
    expect(text).toBe(`kv@${node}`);
    expect(parseEngineAddress(text)).toEqual(address);
  });

  it.each([
    ['no @', 'kv'],
    ['empty name', `@${'a'.repeat(52)}`],
    ['bad node', 'kv@notanode'],
    ['empty node', 'kv@'],
    ['bad name', `k v@${'a'.repeat(52)}`],
  ])('rejects a malformed engine address (%s)', (_label, text) => {
    expect(() => parseEngineAddress(text)).toThrow(InvalidIdentityError);
  });

  it('rejects a non-string engine address', () => {
    expect(() => parseEngineAddress(undefined as unknown as string)).toThrow(InvalidIdentityError);
  });

  it('compares engine addresses by value', () => {
    const other = KeyPair.generate().id;
    expect(sameEngine(engineAddress(node, 'a'), { node, name: 'a' })).toBe(true);
    expect(sameEngine(engineAddress(node, 'a'), engineAddress(node, 'b'))).toBe(false);
    expect(sameEngine(engineAddress(node, 'a'), engineAddress(other, 'a'))).toBe(false);
  });
});

describe('compact engine identity', () => {
  it('is 32 bytes, deterministic, and differs by node and by name', () => {
    const a = KeyPair.generate().id;
    const b = KeyPair.generate().id;
    const id = compactEngineId({ node: a, name: 'kv' });
    expect(id).toHaveLength(32);
    expect(compactEngineId({ node: a, name: 'kv' })).toEqual(id);
    expect(compactEngineId({ node: a, name: 'kw' })).not.toEqual(id);
    expect(compactEngineId({ node: b, name: 'kv' })).not.toEqual(id);
    expect(compactEngineIdText({ node: a, name: 'kv' })).toBe(base32Encode(id));
    expect(isKeyText(compactEngineIdText({ node: a, name: 'kv' }))).toBe(true);
  });

  it('is BLAKE3 over the node key followed by the name', async () => {
    const { blake3 } = await import('@noble/hashes/blake3.js');
    const key = KeyPair.fromSeed(bytes(32, 1));
    const name = 'router';
    const input = new Uint8Array([...key.publicKey, ...new TextEncoder().encode(name)]);
    expect(compactEngineId({ node: key.id, name })).toEqual(blake3(input));
  });

  it('rejects an address whose node is not an identity', () => {
    expect(() => compactEngineId({ node: 'bad' as NodeId, name: 'kv' })).toThrow(InvalidIdentityError);
  });
});
