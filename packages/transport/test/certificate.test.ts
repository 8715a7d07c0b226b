import { X509Certificate } from 'node:crypto';
import { KeyPair } from '@netmachine/core';
import { describe, expect, it } from 'vitest';
import { nodeIdFromCertificate, selfSignedCertificate } from '../src/index.js';

describe('selfSignedCertificate', () => {
  it('carries the node key, and the key maps back to the node id', async () => {
    const key = KeyPair.generate();
    const cert = await selfSignedCertificate(key);
    expect(nodeIdFromCertificate(cert.certDer)).toBe(key.id);
    const parsed = new X509Certificate(cert.certPem);
    expect(parsed.verify(parsed.publicKey)).toBe(true);
    expect(await selfSignedCertificate(key)).toBe(cert);
  });

  it('maps different keys to different ids', async () => {
    const [a, b] = [KeyPair.generate(), KeyPair.generate()];
    const [ca, cb] = await Promise.all([selfSignedCertificate(a), selfSignedCertificate(b)]);
    expect(nodeIdFromCertificate(ca.certDer)).not.toBe(nodeIdFromCertificate(cb.certDer));
  });
});
