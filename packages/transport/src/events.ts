import { Emitter, type EngineMessage, type NodeId, type PeerEvent } from '@netmachine/core';
import type { TransportDropReason } from './counters.js';

/** What the Transport engine reports, for logs, metrics and tests (the core event shape). */
export type TransportEvent =
  | PeerEvent
  | {
      readonly type: 'peer:connect-failed';
      readonly node: NodeId;
      readonly error: Error;
      readonly attempt: number;
    }
  | {
      readonly type: 'message:dropped';
      readonly reason: TransportDropReason;
      readonly node?: NodeId | undefined;
      readonly message?: EngineMessage | undefined;
      readonly error: Error;
    }
  | { readonly type: 'queue:full'; readonly node: NodeId; readonly capacity: number };

export type TransportEventType = TransportEvent['type'];
export type TransportEventOf<T extends TransportEventType> = Extract<TransportEvent, { type: T }>;

/** The Transport engine's emitter: core's typed emitter over TransportEvent. */
export class TransportEvents extends Emitter<TransportEvent> {}
