import { type DomainId, InvalidSignatureError, type NodeId } from '@netmachine/core';
import type { DomainRefusal } from './counters.js';
import {
  InvalidDomainNoticeError,
  InvalidMembershipRecordError,
  type JoinRefusal,
  JoinRefusedError,
  LeaveReplayError,
  NotAMemberError,
  UnknownDomainError,
} from './errors.js';
import type { DomainReply } from './protocol.js';
import { memberInfoFromWire } from './records.js';

/** The reply that refuses a request. */
export function refused(reason: JoinRefusal, detail: string): DomainReply {
  return { t: 'refused', reason, detail };
}

/** The error a joiner raises for a seed's reply that is not the one it asked for. */
export function joinRefusal(domain: DomainId, reply: DomainReply): Error {
  if (reply.t === 'refused') return new JoinRefusedError(domain, reply.reason, reply.detail);
  return new JoinRefusedError(domain, 'bad-request', `unexpected reply ${reply.t}`);
}

/** The member a statement in wire form is about, or '' when it does not decode. */
export function memberOf(infoWire: unknown): NodeId {
  try {
    return memberInfoFromWire(infoWire).record.member;
  } catch {
    return '' as NodeId;
  }
}

/** The counter a failure belongs to. */
export function refusalOf(error: unknown, fallback: DomainRefusal = 'bad-message'): DomainRefusal {
  if (error instanceof LeaveReplayError) return 'leave-replay';
  if (error instanceof InvalidDomainNoticeError)
    return error.kind === 'leave' ? 'invalid-leave' : 'invalid-removal';
  if (error instanceof NotAMemberError) return 'not-a-member';
  if (error instanceof InvalidMembershipRecordError) return 'invalid-record';
  if (error instanceof UnknownDomainError) return 'unknown-domain';
  if (error instanceof InvalidSignatureError)
    return fallback === 'bad-message' ? 'invalid-member-info' : fallback;
  return fallback;
}
