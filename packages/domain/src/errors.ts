import { NetmachineError } from '@netmachine/core';

/** Why a member refused a join; the same codes travel in a refused JoinResponse. */
export type JoinRefusal =
  | 'unknown-domain'
  | 'not-a-seed'
  | 'wrong-secret'
  | 'no-challenge'
  | 'invalid-invite'
  | 'not-allowed'
  | 'removed'
  | 'bad-request';

export const JOIN_REFUSALS: readonly JoinRefusal[] = [
  'unknown-domain',
  'not-a-seed',
  'wrong-secret',
  'no-challenge',
  'invalid-invite',
  'not-allowed',
  'removed',
  'bad-request',
];

/** A seed member refused to admit this node; `reason` says which rule. */
export class JoinRefusedError extends NetmachineError {
  constructor(
    readonly domain: string,
    readonly reason: JoinRefusal,
    detail?: string,
  ) {
    super('ERR_JOIN_REFUSED', `join of domain ${domain} refused: ${reason}${detail ? ` (${detail})` : ''}`);
  }
}

/** A JoinResponse whose record does not admit this node into this domain by a domain authority. */
export class ForgedJoinResponseError extends NetmachineError {
  constructor(
    readonly domain: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_FORGED_JOIN_RESPONSE', `join response for domain ${domain} refused: ${detail}`, options);
  }
}

/** A membership record that is not signed by the domain key or a seed, names another domain, or was revoked. */
export class InvalidMembershipRecordError extends NetmachineError {
  constructor(
    readonly domain: string,
    detail: string,
  ) {
    super('ERR_INVALID_MEMBERSHIP_RECORD', `membership record for domain ${domain}: ${detail}`);
  }
}

/** A node acted as a member (overlay, announcements) without a valid membership record. */
export class NotAMemberError extends NetmachineError {
  constructor(
    readonly domain: string,
    readonly node: string,
  ) {
    super('ERR_NOT_A_MEMBER', `node ${node} is not a member of domain ${domain}`);
  }
}

/** An invite token that is not signed by the domain key or an admin, expired, or names another node. */
export class InvalidInviteError extends NetmachineError {
  constructor(detail: string) {
    super('ERR_INVALID_INVITE', `invalid invite: ${detail}`);
  }
}

/** A leave notice already applied, or one for a membership the node no longer holds. */
export class LeaveReplayError extends NetmachineError {
  constructor(
    readonly domain: string,
    readonly node: string,
  ) {
    super('ERR_LEAVE_REPLAY', `leave of ${node} from domain ${domain} was already applied`);
  }
}

/** A leave or removal whose signature does not verify (a leave by the member, a removal by the domain key). */
export class InvalidDomainNoticeError extends NetmachineError {
  constructor(
    readonly kind: 'leave' | 'removal',
    detail: string,
  ) {
    super('ERR_INVALID_DOMAIN_NOTICE', `invalid ${kind}: ${detail}`);
  }
}

/** An operation on a domain this node neither belongs to nor knows. */
export class UnknownDomainError extends NetmachineError {
  constructor(readonly domain: string) {
    super('ERR_UNKNOWN_DOMAIN', `unknown domain ${domain}`);
  }
}

/** An operation that needs the domain key (removal, new advert) on a node that does not hold it. */
export class NotDomainOwnerError extends NetmachineError {
  constructor(readonly domain: string) {
    super('ERR_NOT_DOMAIN_OWNER', `this node does not hold the key of domain ${domain}`);
  }
}
