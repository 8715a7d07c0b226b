import { type KeyObject, sign, X509Certificate } from 'node:crypto';
import {
  HandshakeError,
  type KeyPair,
  type NodeId,
  nodeIdFromBytes,
  PeerKeyMismatchError,
} from '@netmachine/core';

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
  return certificateAt(keyPair, Date.now());
}

/**
 * The certificate, DER-encoded by hand: it is always the same small shape (Ed25519, CN = node id,
 * no extensions), and a general X.509 library would cost a node megabytes of memory for it.
 * `now` fixes the validity (a day before, a hundred years after).
 */
export function certificateAt(keyPair: KeyPair, now: number): NodeCertificate {
  const ed25519 = der(0x30, der(0x06, Buffer.from([0x2b, 0x65, 0x70]))); // OID 1.3.101.112
  // The first 8 key bytes, made positive: a serial number unique enough for self-signed certs.
  const serial = Buffer.from(keyPair.publicKey.subarray(0, 8));
  const first = serial[0] as number;
  serial[0] = first >= 0x80 ? 0x10 | (first & 0x0f) : first === 0 ? 1 : first;
  const name = der(
    0x30,
    der(
      0x31,
      der(0x30, der(0x06, Buffer.from([0x55, 0x04, 0x03])), der(0x13, Buffer.from(keyPair.id, 'ascii'))),
    ),
  );
  const spki = der(0x30, ed25519, der(0x03, Buffer.from([0]), keyPair.publicKey));
  const tbs = der(
    0x30,
    der(0xa0, der(0x02, Buffer.from([2]))), // version 3
    der(0x02, serial),
    ed25519,
    name,
    der(0x30, derTime(now - 24 * 3600_000), derTime(now + 100 * 365 * 24 * 3600_000)),
    name,
    spki,
    der(0xa3, der(0x30)),
  );
  const signature = sign(null, tbs, keyPair.privateKeyObject);
  const certDer = der(0x30, tbs, ed25519, der(0x03, Buffer.from([0]), signature));
  const base64 = certDer.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return {
    certPem: `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`,
    keyPem: keyPair.toPem(),
    certDer: new Uint8Array(certDer),
  };
}

/** One DER element: tag, definite length, contents. */
function der(tag: number, ...contents: Uint8Array[]): Buffer {
  const body = Buffer.concat(contents);
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}

/** UTCTime before 2050, GeneralizedTime from then on (RFC 5280 4.1.2.5), to the second. */
function derTime(ms: number): Buffer {
  const iso = new Date(ms).toISOString(); // 2027-01-14T08:00:00.123Z
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  const year = new Date(ms).getUTCFullYear();
  return year < 2050
    ? der(0x17, Buffer.from(digits.slice(2), 'ascii'))
    : der(0x18, Buffer.from(digits, 'ascii'));
}

/**
 * The node identity a certificate (DER, or already parsed) speaks for: its raw Ed25519 public key.
 * Throws for any other key type.
 */
export function nodeIdFromCertificate(certificate: Uint8Array | X509Certificate): NodeId {
  const cert = certificate instanceof X509Certificate ? certificate : new X509Certificate(certificate);
  return nodeIdOfKey(cert.publicKey);
}

function nodeIdOfKey(key: KeyObject): NodeId {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new PeerKeyMismatchError('an Ed25519 node key', `a ${key.asymmetricKeyType ?? 'unknown'} key`);
  }
  // The raw key through JWK: OpenSSL's SPKI encoder costs about 70 µs a call, this about 1 µs.
  const { x } = key.export({ format: 'jwk' });
  return nodeIdFromBytes(new Uint8Array(Buffer.from(x ?? '', 'base64url')));
}

/**
 * Certificates already checked (DER, as latin1 text) and the node each speaks for. The verdict
 * depends on the bytes alone, and parsing and verifying cost a few hundred µs of every handshake, so
 * a peer that connects again with the same certificate costs a lookup. Bounded: emptied when full.
 */
const checkedCertificates = new Map<string, NodeId>();
const MAX_CHECKED_CERTIFICATES = 1024;

/**
 * The node a peer's certificate (DER) speaks for, as TLS and QUIC check it after their handshake. There
 * is no CA: the certificate must carry an Ed25519 key and be signed by that same key; the handshake
 * has proved the peer holds the private key, so the key itself is the peer's identity.
 */
export function peerNodeIdFromCertificate(certificate: Uint8Array | X509Certificate | undefined): NodeId {
  if (certificate === undefined) throw new HandshakeError('the peer presented no certificate');
  const der = (certificate instanceof X509Certificate ? certificate.raw : Buffer.from(certificate)).toString(
    'latin1',
  );
  const known = checkedCertificates.get(der);
  if (known !== undefined) return known;
  // Parsed once (a TLS socket hands it over parsed): parsing is a good part of a handshake's CPU.
  const parsed = certificate instanceof X509Certificate ? certificate : new X509Certificate(certificate);
  const key = parsed.publicKey;
  const node = nodeIdOfKey(key);
  if (!parsed.verify(key)) {
    throw new HandshakeError(`the certificate of ${node} is not self-signed by its key`);
  }
  if (checkedCertificates.size >= MAX_CHECKED_CERTIFICATES) checkedCertificates.clear();
  checkedCertificates.set(der, node);
  return node;
}

/** Checks that the peer's certificate is `expected`'s: a typed error before any byte is exchanged. */
export function expectPeerCertificate(
  certificate: Uint8Array | X509Certificate | undefined,
  expected: NodeId,
): NodeId {
  const node = peerNodeIdFromCertificate(certificate);
  if (node !== expected) throw new PeerKeyMismatchError(expected, node);
  return node;
}
