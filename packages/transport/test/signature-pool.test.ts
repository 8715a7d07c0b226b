import { KeyPair, signedMessageBytes, signMessage } from '@netmachine/core';
import { afterEach, describe, expect, it } from 'vitest';
import { SignaturePool } from '../src/signature-pool.js';

const pools: SignaturePool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
});

function pool(threads: number): SignaturePool {
  const made = new SignaturePool(threads);
  pools.push(made);
  return made;
}

const key = KeyPair.generate();
const other = KeyPair.generate();
function signed(body: string) {
  const message = signMessage(key, {
    id: 1,
    src: { node: key.id, name: 'a' },
    dst: { node: other.id, name: 'b' },
    protocol: 'test@1',
    body,
  });
  return { data: signedMessageBytes(message), signature: message.sig!, key: key.publicKey };
}

describe('SignaturePool', () => {
  it('checks each signature of a batch, in order, on worker threads', async () => {
    const p = pool(2);
    const good = signed('good');
    const results = await p.verify([
      good,
      { ...signed('changed'), data: good.data }, // a signature over other bytes
      { ...good, key: other.publicKey }, // another signer
      { ...good, signature: good.signature.subarray(0, 10) }, // cut short
      { ...good, key: new Uint8Array(0) }, // no key
      signed('also good'),
    ]);
    expect([...results]).toEqual([1, 0, 0, 0, 0, 1]);
  });

  it('spreads batches over its threads and answers each one', async () => {
    const p = pool(3);
    const batches = Array.from({ length: 12 }, (_, i) =>
      p.verify(Array.from({ length: 20 }, (_, j) => signed(`${i}/${j}`))),
    );
    const results = await Promise.all(batches);
    expect(results.every((r) => r.length === 20 && r.every((v) => v === 1))).toBe(true);
  });

  it('rejects batches once closed', async () => {
    const p = pool(1);
    await p.close();
    await expect(p.verify([signed('late')])).rejects.toThrow(/closed/);
  });
});
