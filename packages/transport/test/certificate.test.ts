import { X509Certificate } from 'node:crypto';
import { HandshakeError, KeyPair, PeerKeyMismatchError } from '@netmachine/core';
import { describe, expect, it } from 'vitest';
import { certificateAt } from '../src/certificate.js';
import {
  expectPeerCertificate,
  nodeIdFromCertificate,
  peerNodeIdFromCertificate,
  selfSignedCertificate,
} from '../src/index.js';

describe('selfSignedCertificate', () => {
  it('carries the node key, and the key maps back to the node id', async () => {
    const key = KeyPair.generate();
    const cert = await selfSignedCertificate(key);
    expect(nodeIdFromCertificate(cert.certDer)).toBe(key.id);
    const parsed = new X509Certificate(cert.certPem);
    expect(parsed.verify(parsed.publicKey)).toBe(true);
    expect(await selfSignedCertificate(key)).toBe(cert);
  });

  it('reads a certificate parsed already as it reads its DER, and checks a peer the same way', async () => {
    const key = KeyPair.generate();
    const cert = await selfSignedCertificate(key);
    const parsed = new X509Certificate(cert.certDer);
    expect(nodeIdFromCertificate(parsed)).toBe(key.id);
    expect(peerNodeIdFromCertificate(parsed)).toBe(peerNodeIdFromCertificate(cert.certDer));
    expect(expectPeerCertificate(parsed, key.id)).toBe(key.id);
    expect(() => expectPeerCertificate(parsed, KeyPair.generate().id)).toThrow(PeerKeyMismatchError);
  });

  it('refuses a certificate not signed by its own key, even after its good copy was checked', async () => {
    const key = KeyPair.generate();
    const good = (await selfSignedCertificate(key)).certDer;
    const damaged = Uint8Array.from(good);
    damaged[damaged.length - 1]! ^= 0x01; // the last byte of the signature
    expect(peerNodeIdFromCertificate(good)).toBe(key.id);
    expect(peerNodeIdFromCertificate(new X509Certificate(good))).toBe(key.id);
    expect(() => peerNodeIdFromCertificate(damaged)).toThrow(HandshakeError);
    expect(() => peerNodeIdFromCertificate(new X509Certificate(damaged))).toThrow(/not self-signed/);
    expect(peerNodeIdFromCertificate(good)).toBe(key.id);
  });

  it('maps different keys to different ids', async () => {
    const [a, b] = [KeyPair.generate(), KeyPair.generate()];
    const [ca, cb] = await Promise.all([selfSignedCertificate(a), selfSignedCertificate(b)]);
    expect(nodeIdFromCertificate(ca.certDer)).not.toBe(nodeIdFromCertificate(cb.certDer));
  });

  it('is a well-formed X.509 v3 certificate: subject and issuer are the node id, valid a day back and a century on', () => {
    for (let i = 0; i < 16; i++) {
      const key = KeyPair.generate();
      const now = Date.UTC(2027, 0, 15, 8, 0, 0, 123);
      const parsed = new X509Certificate(certificateAt(key, now).certDer);
      expect(parsed.subject).toBe(`CN=${key.id}`);
      expect(parsed.issuer).toBe(`CN=${key.id}`);
      expect(new Date(parsed.validFrom).getTime()).toBe(Date.UTC(2027, 0, 14, 8, 0, 0));
      expect(new Date(parsed.validTo).getTime()).toBe(Date.UTC(2126, 11, 22, 8, 0, 0));
      expect(parsed.verify(parsed.publicKey)).toBe(true);
      expect(Number.parseInt(parsed.serialNumber.slice(0, 2), 16)).toBeLessThan(0x80);
    }
  });
});
