import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { type DomainId, identityBytes, type NodeId, pack } from '@netmachine/core';

/**
 * The shared-secret join policy, proved without sending the secret: the seed hands the joiner a
 * fresh challenge, the joiner answers HMAC-SHA256(key, label ‖ domain ‖ joiner ‖ seed ‖ challenge).
 * The proof is bound to the joiner, the seed and the challenge, so it cannot be replayed elsewhere.
 */
const PROOF_LABEL = 'netmachine/domain-secret-proof/v1';
const KEY_LABEL = 'netmachine/domain-secret/v1';
export const CHALLENGE_BYTES = 16;
export const PROOF_BYTES = 32;

/** The HMAC key derived from the secret text. */
export function secretKey(secret: string): Buffer {
  return createHash('sha256').update(KEY_LABEL).update(secret, 'utf8').digest();
}

export function secretProof(
  key: Buffer,
  fields: { domain: DomainId; joiner: NodeId; seed: NodeId; challenge: Uint8Array },
): Uint8Array {
  const input = pack([
    PROOF_LABEL,
    identityBytes(fields.domain),
    identityBytes(fields.joiner),
    identityBytes(fields.seed),
    fields.challenge,
  ]);
  return new Uint8Array(createHmac('sha256', key).update(input).digest());
}

export function proofMatches(expected: Uint8Array, given: Uint8Array): boolean {
  return given.length === expected.length && timingSafeEqual(expected, given);
}

interface Pending {
  readonly joiner: NodeId;
  readonly domain: DomainId;
  readonly expires: number;
}

/**
 * Challenges a seed has handed out: each is single-use, bound to one joiner and domain, and expires.
 * Bounded: when full, the oldest challenge is forgotten (its joiner asks again).
 */
export class ChallengeBook {
  private readonly pending = new Map<string, Pending>();

  constructor(
    readonly capacity = 1024,
    readonly ttlMs = 30_000,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  issue(domain: DomainId, joiner: NodeId, now = Date.now()): Uint8Array {
    const challenge = new Uint8Array(randomBytes(CHALLENGE_BYTES));
    if (this.pending.size >= this.capacity) {
      const oldest = this.pending.keys().next().value;
      if (oldest !== undefined) this.pending.delete(oldest);
    }
    this.pending.set(Buffer.from(challenge).toString('hex'), { joiner, domain, expires: now + this.ttlMs });
    return challenge;
  }

  /** Consumes the challenge: true only once, for the joiner and domain it was issued to, before it expires. */
  take(domain: DomainId, joiner: NodeId, challenge: Uint8Array, now = Date.now()): boolean {
    const key = Buffer.from(challenge).toString('hex');
    const entry = this.pending.get(key);
    if (entry === undefined) return false;
    this.pending.delete(key);
    return entry.joiner === joiner && entry.domain === domain && entry.expires > now;
  }
}
