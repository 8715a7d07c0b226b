import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InsecureKeyFileError,
  InvalidIdentityError,
  InvalidKeyFileError,
  KeyPair,
  readKeyFile,
  SIGNATURE_BYTES,
  verifySignature,
  writeKeyFile,
} from '../src/index.js';
import { publicKeyObject } from '../src/keys.js';

// RFC 8032 section 7.1, test 1: the empty message.
const RFC_SEED = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
const RFC_PUBLIC = Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex');
const RFC_SIGNATURE = Buffer.from(
  'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  'hex',
);

describe('KeyPair', () => {
  it('derives the RFC 8032 public key and signature from a seed', () => {
    const key = KeyPair.fromSeed(RFC_SEED);
    expect(Buffer.from(key.publicKey)).toEqual(RFC_PUBLIC);
    expect(Buffer.from(key.sign(new Uint8Array(0)))).toEqual(RFC_SIGNATURE);
    expect(verifySignature(RFC_PUBLIC, new Uint8Array(0), RFC_SIGNATURE)).toBe(true);
  });

  it('generates distinct keys whose signatures verify', () => {
    const a = KeyPair.generate();
    const b = KeyPair.generate();
    expect(a.id).not.toBe(b.id);
    const data = new TextEncoder().encode('hello');
    const sig = a.sign(data);
    expect(sig).toHaveLength(SIGNATURE_BYTES);
    expect(verifySignature(a.publicKey, data, sig)).toBe(true);
    expect(verifySignature(b.publicKey, data, sig)).toBe(false);
  });

  it('round-trips through its seed and its PEM', () => {
    const key = KeyPair.generate();
    const fromSeed = KeyPair.fromSeed(key.exportSeed());
    const fromPem = KeyPair.fromPem(key.toPem());
    expect(fromSeed.id).toBe(key.id);
    expect(fromPem.id).toBe(key.id);
    expect(fromPem.exportSeed()).toEqual(key.exportSeed());
    expect(key.toPem()).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(key.privateKeyObject.asymmetricKeyType).toBe('ed25519');
  });

  it('hands out copies of the seed, not its own buffer', () => {
    const key = KeyPair.fromSeed(RFC_SEED);
    const seed = key.exportSeed();
    seed.fill(0);
    expect(Buffer.from(key.exportSeed())).toEqual(RFC_SEED);
  });

  it('copies the seed it was built from', () => {
    const seed = new Uint8Array(RFC_SEED);
    const key = KeyPair.fromSeed(seed);
    seed.fill(0);
    expect(Buffer.from(key.exportSeed())).toEqual(RFC_SEED);
  });

  it('serialises to JSON as its public key only', () => {
    const key = KeyPair.fromSeed(RFC_SEED);
    const json = JSON.stringify(key);
    expect(JSON.parse(json)).toEqual({ publicKey: key.id });
    expect(json).not.toContain(RFC_SEED.toString('hex'));
  });

  it('rejects seeds of the wrong length', () => {
    expect(() => KeyPair.fromSeed(new Uint8Array(31))).toThrow(InvalidIdentityError);
    expect(() => KeyPair.fromSeed(new Uint8Array(33))).toThrow(InvalidIdentityError);
    expect(() => KeyPair.fromSeed('seed' as unknown as Uint8Array)).toThrow(InvalidIdentityError);
  });

  it('rejects a PEM key that is not Ed25519, or not a key at all', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(() => KeyPair.fromPem(pem)).toThrow(InvalidIdentityError);
    expect(() => KeyPair.fromPem('not a pem')).toThrow(InvalidIdentityError);
  });
});

describe('verifySignature and publicKeyObject', () => {
  const key = KeyPair.generate();
  const data = new TextEncoder().encode('payload');
  const sig = key.sign(data);

  it('returns false, never throws, for altered data, signature or key', () => {
    const badData = new Uint8Array(data);
    badData[0]! ^= 1;
    const badSig = new Uint8Array(sig);
    badSig[10]! ^= 0x80;
    expect(verifySignature(key.publicKey, badData, sig)).toBe(false);
    expect(verifySignature(key.publicKey, data, badSig)).toBe(false);
    expect(verifySignature(key.publicKey, data, sig.subarray(0, 63))).toBe(false);
    expect(verifySignature(key.publicKey.subarray(0, 31), data, sig)).toBe(false);
    expect(verifySignature(new Uint8Array(32), data, sig)).toBe(false);
    expect(verifySignature(new Uint8Array(32).fill(0xff), data, sig)).toBe(false);
    expect(verifySignature(new Uint8Array(64), data, new Uint8Array(64))).toBe(false);
  });

  it('caches the imported KeyObject per public key', () => {
    const first = publicKeyObject(key.publicKey);
    expect(publicKeyObject(new Uint8Array(key.publicKey))).toBe(first);
    expect(first.asymmetricKeyType).toBe('ed25519');
    expect(publicKeyObject(KeyPair.generate().publicKey)).not.toBe(first);
  });

  // Thousands of key imports: slow on a loaded machine, hence the generous timeout.
  it('bounds the cache: the oldest key is evicted and re-imported on its next use', {
    timeout: 180_000,
  }, () => {
    const oldest = KeyPair.generate();
    const cached = publicKeyObject(oldest.publicKey);
    // Raw 32-byte strings import as keys; 4,200 of them overflow the 4,096-entry cache.
    for (let i = 0; i < 4200; i++) publicKeyObject(randomBytes(32));
    const reimported = publicKeyObject(oldest.publicKey);
    expect(reimported).not.toBe(cached);
    expect(reimported.equals(cached)).toBe(true);
    expect(verifySignature(oldest.publicKey, data, oldest.sign(data))).toBe(true);
  });

  it('refuses a public key of the wrong length', () => {
    expect(() => publicKeyObject(new Uint8Array(31))).toThrow(InvalidIdentityError);
  });
});

describe('key files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'netmachine-core-keys-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes mode 0600 and reads the same key back', async () => {
    const path = join(dir, 'node.key');
    const key = KeyPair.generate();
    await writeKeyFile(path, key);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await readKeyFile(path)).id).toBe(key.id);
    expect(await readFile(path, 'utf8')).toBe(key.toPem());
  });

  it('replaces an existing file atomically and leaves no temporary files', async () => {
    const path = join(dir, 'replace.key');
    await writeFile(path, 'old contents', { mode: 0o644 });
    const key = KeyPair.generate();
    await writeKeyFile(path, key);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await readKeyFile(path)).id).toBe(key.id);
    const leftovers = (await readdir(dir)).filter((name) => name.endsWith('.tmp'));
    expect(leftovers).toEqual([]);
  });

  const openModes = [0o640, 0o604, 0o660, 0o644, 0o602, 0o610].map(
    (mode) => [mode.toString(8), mode] as const,
  );
  it.each(openModes)('refuses a key file with mode %s', async (_octal, mode) => {
    const path = join(dir, `open-${mode.toString(8)}.key`);
    await writeKeyFile(path, KeyPair.generate());
    await chmod(path, mode);
    const error = await readKeyFile(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InsecureKeyFileError);
    expect((error as InsecureKeyFileError).mode).toBe(mode);
    expect((error as InsecureKeyFileError).path).toBe(path);
  });

  it('refuses a directory in place of a key file', async () => {
    const sub = join(dir, 'a-directory.key');
    await mkdir(sub, { mode: 0o700 });
    await expect(readKeyFile(sub)).rejects.toThrow(InvalidKeyFileError);
  });

  it('follows a symlink but judges the mode of the file it reads', async () => {
    const target = join(dir, 'target.key');
    const link = join(dir, 'link.key');
    await writeKeyFile(target, KeyPair.generate());
    await symlink(target, link);
    expect((await readKeyFile(link)).id).toBe((await readKeyFile(target)).id);
    await chmod(target, 0o644);
    await expect(readKeyFile(link)).rejects.toThrow(InsecureKeyFileError);
  });

  it('refuses a file that is not an Ed25519 private key', async () => {
    const garbage = join(dir, 'garbage.key');
    await writeFile(garbage, 'this is not a key\n', { mode: 0o600 });
    await expect(readKeyFile(garbage)).rejects.toThrow(InvalidKeyFileError);

    const rsa = join(dir, 'rsa.key');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    await writeFile(rsa, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    await expect(readKeyFile(rsa)).rejects.toThrow(InvalidKeyFileError);
  });
});
