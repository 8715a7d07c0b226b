import 'reflect-metadata';
import { webcrypto, X509Certificate } from 'node:crypto';
import { type KeyPair, type NodeId, nodeIdFromBytes, PeerKeyMismatchError } from '@netmachine/core';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** A self-signed X.509 certificate whose key is the node's Ed25519 key (for TLS and QUIC). */
export interface NodeCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  readonly certDer: Uint8Array;
}

const cache = new WeakMap<KeyPair, Promise<NodeCertificate>>();

/**
 * Makes (once per key pair) a self-signed certificate on the node key. Peers do not trust it through
 * a CA: each side pins the Ed25519 key inside it, which is the node's identity.
 */
export function selfSignedCertificate(keyPair: KeyPair): Promise<NodeCertificate> {
  let pending = cache.get(keyPair);
  if (pending === undefined) {
    pending = createCertificate(keyPair);
    cache.set(keyPair, pending);
  }
  return pending;
}

async function createCertificate(keyPair: KeyPair): Promise<NodeCertificate> {
  const keyPem = keyPair.toPem();
  const pkcs8 = keyPair.privateKeyObject.export({ format: 'der', type: 'pkcs8' });
  const algorithm = { name: 'Ed25519' };
  const privateKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, algorithm, true, ['sign']);
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), keyPair.publicKey]);
  const publicKey = await webcrypto.subtle.importKey('spki', spki, algorithm, true, ['verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(keyPair.publicKey.subarray(0, 8))
      .toString('hex')
      .replace(/^[89a-f]/, '1'),
    name: `CN=${keyPair.id}`,
    notBefore: new Date(now - 24 * 3600_000),
    notAfter: new Date(now + 100 * 365 * 24 * 3600_000),
    signingAlgorithm: algorithm,
    keys: { privateKey, publicKey } as unknown as Parameters<
      typeof x509.X509CertificateGenerator.createSelfSigned
    >[0]['keys'],
  });
  return { certPem: cert.toString('pem'), keyPem, certDer: new Uint8Array(cert.rawData) };
}

/** The node identity a certificate speaks for: its raw Ed25519 public key. Throws for any other key type. */
export function nodeIdFromCertificate(der: Uint8Array): NodeId {
  const cert = new X509Certificate(der);
  const key = cert.publicKey;
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new PeerKeyMismatchError('an Ed25519 node key', `a ${key.asymmetricKeyType ?? 'unknown'} key`);
  }
  const spki = key.export({ type: 'spki', format: 'der' });
  return nodeIdFromBytes(new Uint8Array(spki.subarray(spki.length - 32)));
}
