import type { EngineHandler, KeyPair, Logger, NodeId } from '@netmachine/core';
import type { AttachRefusedError } from './errors.js';
import type { LinkEvent, LinkOptions } from './nats-link.js';

export interface AttachOptions extends LinkOptions {
  /** The node to attach to (its id is also the key its deliveries are verified with). */
  node: NodeId;
  /** The engine name this process serves on that node. */
  name: string;
  /** The engine key the node trusts for `name`. */
  key: KeyPair;
  handler: EngineHandler;
  subjectPrefix?: string;
  /** Deliveries waiting for the handler; further ones are dropped and counted. Default 1024. */
  mailboxSize?: number;
  /** Default request timeout. Default 10 s. */
  requestTimeoutMs?: number;
  /** Heartbeat interval until the node says otherwise. Default 1000. */
  heartbeatMs?: number;
  logger?: Logger;
  /** Aborts the first attach. */
  signal?: AbortSignal;
}

export type AttachedEngineEvent =
  | LinkEvent
  | { type: 'engine:attached'; session: string }
  | { type: 'attach:refused'; error: AttachRefusedError }
  | { type: 'message:dropped'; reason: ProcessDropReason }
  | { type: 'engine:error'; error: unknown };

/** Why an attached engine dropped a message (one counter each). */
export type ProcessDropReason = 'mailbox-full' | 'expired' | 'invalid' | 'not-attached' | 'too-large';

export const DROP_COUNTER = {
  'mailbox-full': 'mailboxFull',
  expired: 'expired',
  invalid: 'invalid',
  'not-attached': 'notAttached',
  'too-large': 'tooLarge',
} as const;

export interface AttachedEngineCounters {
  received: number;
  handled: number;
  sent: number;
  handlerErrors: number;
  dropped: { mailboxFull: number; expired: number; invalid: number; notAttached: number; tooLarge: number };
}
