import {
  type DomainId,
  domainIdFromBytes,
  expectArray,
  expectBytes,
  expectString,
  identityBytes,
  KEY_BYTES,
  optional,
  SchemaError,
} from '@netmachine/core';
import { JOIN_REFUSALS, type JoinRefusal } from './errors.js';
import { CHALLENGE_BYTES, PROOF_BYTES } from './secret.js';

/** The engine every node running the domain service has; members and joiners talk to it. */
export const DOMAIN_ENGINE = 'domain';
export const DOMAIN_PROTOCOL = 'domain@1';
/** Members listed in one reply or sync message at most. */
export const MAX_MEMBERS_PER_MESSAGE = 64;

/**
 * Messages to the `domain` engine, as msgpack arrays `[type, domain, …]`. Adverts, records and
 * statements inside are in their own signed wire forms and are checked by whoever reads them.
 */
export type DomainRequest =
  | { readonly t: 'challenge'; readonly domain: DomainId }
  | {
      readonly t: 'join';
      readonly domain: DomainId;
      readonly invite: unknown;
      readonly proof: { readonly challenge: Uint8Array; readonly mac: Uint8Array } | undefined;
    }
  | { readonly t: 'members'; readonly domain: DomainId }
  /** A member's statement, flooded over the overlay. */
  | { readonly t: 'announce'; readonly domain: DomainId; readonly info: unknown; readonly advert: unknown }
  /** Up to MAX_MEMBERS_PER_MESSAGE [info, advert] pairs, sent to a peer that joins the active view. */
  | { readonly t: 'sync'; readonly domain: DomainId; readonly members: readonly unknown[] }
  /** The sender put the receiver in its active view; carries the sender's statement (its claim). */
  | { readonly t: 'neighbor'; readonly domain: DomainId; readonly info: unknown }
  | { readonly t: 'leave'; readonly domain: DomainId; readonly leave: unknown }
  | { readonly t: 'remove'; readonly domain: DomainId; readonly removal: unknown };

export type DomainReply =
  | { readonly t: 'challenge'; readonly challenge: Uint8Array }
  | {
      readonly t: 'joined';
      readonly record: unknown;
      readonly advert: unknown;
      readonly members: readonly unknown[];
    }
  | { readonly t: 'members'; readonly advert: unknown; readonly members: readonly unknown[] }
  | { readonly t: 'refused'; readonly reason: JoinRefusal; readonly detail: string };

const domainBytes = (d: DomainId): Uint8Array => identityBytes(d);

export function encodeRequest(r: DomainRequest): unknown[] {
  const d = domainBytes(r.domain);
  switch (r.t) {
    case 'challenge':
    case 'members':
      return [r.t, d];
    case 'join':
      return [r.t, d, r.invite ?? null, r.proof ? [r.proof.challenge, r.proof.mac] : null];
    case 'announce':
      return [r.t, d, r.info, r.advert ?? null];
    case 'sync':
      return [r.t, d, r.members];
    case 'neighbor':
      return [r.t, d, r.info];
    case 'leave':
      return [r.t, d, r.leave];
    case 'remove':
      return [r.t, d, r.removal];
  }
}

/** Reads the outer shape; throws SchemaError for anything else. */
export function decodeRequest(value: unknown): DomainRequest {
  const v = expectArray(value, 'domain', 2, 4);
  const t = expectString(v[0], 'domain.t', 16);
  const domain = domainIdFromBytes(expectBytes(v[1], 'domain.domain', KEY_BYTES));
  switch (t) {
    case 'challenge':
    case 'members':
      return { t, domain };
    case 'join': {
      const proof = optional(v[3], (p) => {
        const pair = expectArray(p, 'domain.proof', 2, 2);
        return {
          challenge: expectBytes(pair[0], 'domain.proof.challenge', CHALLENGE_BYTES),
          mac: expectBytes(pair[1], 'domain.proof.mac', PROOF_BYTES),
        };
      });
      return { t, domain, invite: v[2] ?? undefined, proof };
    }
    case 'announce':
      return { t, domain, info: v[2], advert: v[3] ?? undefined };
    case 'sync':
      return { t, domain, members: expectArray(v[2], 'domain.members', 0, MAX_MEMBERS_PER_MESSAGE) };
    case 'neighbor':
      return { t, domain, info: v[2] };
    case 'leave':
      return { t, domain, leave: v[2] };
    case 'remove':
      return { t, domain, removal: v[2] };
    default:
      throw new SchemaError('domain.t', `unknown message type ${JSON.stringify(t)}`);
  }
}

export function encodeReply(r: DomainReply): unknown[] {
  switch (r.t) {
    case 'challenge':
      return [r.t, r.challenge];
    case 'joined':
      return [r.t, r.record, r.advert, r.members];
    case 'members':
      return [r.t, r.advert, r.members];
    case 'refused':
      return [r.t, r.reason, r.detail];
  }
}

export function decodeReply(value: unknown): DomainReply {
  const v = expectArray(value, 'reply', 2, 4);
  const t = expectString(v[0], 'reply.t', 16);
  switch (t) {
    case 'challenge':
      return { t, challenge: expectBytes(v[1], 'reply.challenge', CHALLENGE_BYTES) };
    case 'joined':
      return {
        t,
        record: v[1],
        advert: v[2],
        members: expectArray(v[3], 'reply.members', 0, MAX_MEMBERS_PER_MESSAGE),
      };
    case 'members':
      return { t, advert: v[1], members: expectArray(v[2], 'reply.members', 0, MAX_MEMBERS_PER_MESSAGE) };
    case 'refused': {
      const reason = expectString(v[1], 'reply.reason', 32);
      if (!(JOIN_REFUSALS as readonly string[]).includes(reason))
        throw new SchemaError('reply.reason', 'unknown refusal');
      return { t, reason: reason as JoinRefusal, detail: expectString(v[2], 'reply.detail', 256) };
    }
    default:
      throw new SchemaError('reply.t', `unknown reply type ${JSON.stringify(t)}`);
  }
}
