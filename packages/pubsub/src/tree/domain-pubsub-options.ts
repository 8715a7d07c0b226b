import type { DomainId, KeyPair, Logger, NodeId, TopicId } from '@netmachine/core';
import type { PlumTreeOptions, RunnerRouter, RunnerTransport } from '@netmachine/overlay';
import type { CursorStore } from './cursor-store.js';

/** The domain service as this one uses it (structural: `DomainService` fits). */
export interface DomainViews {
  onEvent(
    listener: (event: { type: string; domain?: DomainId | undefined; node?: NodeId | undefined }) => void,
  ): () => void;
  list(): readonly { id: DomainId; role: string; activeView: readonly NodeId[] }[];
}

/** Trust in nodes (structural: the identity store fits). */
export interface TrustBook {
  node(id: NodeId): { readonly trust: number } | undefined;
  setTrust(id: NodeId, trust: number): Promise<void>;
}

export interface DomainPubSubOptions {
  readonly router: RunnerRouter;
  readonly transport: RunnerTransport;
  /** This node's key: it signs the event batches this node publishes. */
  readonly keyPair: KeyPair;
  readonly domains: DomainViews;
  readonly logger?: Logger;
  /** PlumTree's settings for every domain's tree (its cache is the history gaps are fetched from). */
  readonly tree?: Omit<PlumTreeOptions, 'accept'>;
  /** Most events under one signature (default 1024). */
  readonly maxBatch?: number;
  /** Most bytes of events under one signature (default `MAX_BATCH_BYTES`). */
  readonly maxBatchBytes?: number;
  /**
   * How long a busy topic's batch stays open for more events, turns that add nothing included
   * (default 8 ms; 0: every batch is signed at the end of its event-loop turn). A topic that did not
   * publish in the turn before is not delayed: its first event goes at the end of its turn.
   */
  readonly lingerMs?: number;
  /** Per-stream ordering, in batches: held, fetched at once, how long a gap stays open (see StreamReceiver). */
  readonly reorderWindow?: number;
  readonly maxFetch?: number;
  readonly gapTimeoutMs?: number;
  /** Persists subscribers' cursors, so a restarted node fetches what it missed. */
  readonly cursors?: CursorStore;
  /** How often cursors are saved when they moved (default 250 ms). */
  readonly cursorSaveMs?: number;
  /** Lowers a node's trust when it sends a forged, unauthorized or malformed event. */
  readonly trust?: TrustBook;
  /** Trust taken per such event (default 16 of 255; 0 is banned). */
  readonly rejectPenalty?: number;
  /**
   * After a topic goes quiet, its publisher sends its last event again this long after it, then
   * twice and four times as long (default 1000 ms; 0: never), under a heartbeat id: a subscriber that
   * lost the tail of a stream (its tree link was down) sees the gap and fetches it.
   */
  readonly heartbeatMs?: number;
  /**
   * Mailbox of each domain's tree engine, in tree messages (whole batches; default 256). With flow
   * control a full mailbox stops reading from the connections that feed it; without, it drops the
   * oldest (gaps are fetched again).
   */
  readonly mailboxSize?: number;
  /**
   * Hop-to-hop flow control (on when `transport` can report its queues, as the Transport engine
   * does; `false` turns it off): the tree engine takes no message while a neighbour's transport
   * queue holds `high` (64) messages or more, until it is down to `low` (16); a neighbour backed up
   * for `slowAfterMs` (2000) stops holding the others. See `ForwardGate`.
   */
  readonly flow?: false | { readonly high?: number; readonly low?: number; readonly slowAfterMs?: number };
  /** Domain topic adverts kept at most (default 4096). */
  readonly maxTopics?: number;
}

/** An event as a local subscriber receives it. */
export interface DomainTopicEvent {
  readonly topic: TopicId;
  readonly publisher: NodeId;
  readonly epoch: number;
  readonly seq: number;
  readonly expiry: number;
  readonly payload: Uint8Array;
}

export type DomainTopicListener = (event: DomainTopicEvent) => void;

/**
 * The events of one batch as a subscriber receives them: consecutive events of one publisher's
 * stream, read out of the batch's bytes as they are walked (no object per event). Events past their
 * expiry at delivery are skipped. Valid during the call; a payload (a view of the batch's bytes) may
 * be kept.
 */
export interface DomainTopicBatch {
  readonly topic: TopicId;
  readonly publisher: NodeId;
  readonly epoch: number;
  /** The seq of the batch's first event (expired ones included). */
  readonly firstSeq: number;
  /** Live events in the batch (those `forEach` calls back with). */
  readonly count: number;
  /** Calls `fn` with each live event, in seq order. */
  forEach(fn: (payload: Uint8Array, seq: number, expiry: number) => void): void;
  /** The live events as objects (one per event: `forEach` is the cheaper walk). */
  [Symbol.iterator](): Iterator<DomainTopicEvent>;
}

export type DomainTopicBatchListener = (batch: DomainTopicBatch) => void;
