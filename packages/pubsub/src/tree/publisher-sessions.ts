import { type DomainId, identityBytes, type TopicId } from '@netmachine/core';
import type { DomainTreeRunner } from './domain-tree.js';

// This node's side as a publisher: one session (epoch) per topic it publishes on, and the heartbeats
// that repeat a session's last batch when it falls quiet, so a subscriber that missed it learns of the
// gap and fetches it. Publishing itself (per event) stays in the pub/sub; this is the bookkeeping.

/** Heartbeats after a session's last batch: sent after 1, 2 and 4 heartbeat periods, then none. */
const MAX_BEATS = 3;

/** A topic this node publishes on, in this session: the signer's stream. */
export interface Publishing {
  readonly topic: Buffer;
  /** The topic key as a latin1 string, as topic adverts are keyed (one string, so its hash is computed once). */
  readonly key: string;
  readonly epoch: number;
  seq: number;
  /** The last batch sent, for heartbeats; how many heartbeats followed it. */
  last: { id: string; bytes: Buffer; release: (() => void) | undefined } | undefined;
  lastAt: number;
  beats: number;
}

/** A new session on `topic`; `epoch` must grow across restarts, so subscribers see a restart as new. */
export function newPublishing(topic: TopicId, key: string, epoch: number): Publishing {
  return {
    topic: Buffer.from(identityBytes(topic)),
    key,
    epoch,
    seq: 0,
    last: undefined,
    lastAt: 0,
    beats: 0,
  };
}

/**
 * Repeats each quiet session's last batch as `<id>~<n>`, backing off (every `beatMs`, doubled each
 * time) up to MAX_BEATS, through the tree of the topic's domain.
 */
export function sendHeartbeats(
  publishing: ReadonlyMap<TopicId, Publishing>,
  now: number,
  beatMs: number,
  domainOf: (topic: TopicId) => DomainId | undefined,
  runners: ReadonlyMap<DomainId, DomainTreeRunner>,
): void {
  for (const [topic, state] of publishing) {
    if (state.last === undefined || state.beats >= MAX_BEATS) continue;
    if (now - state.lastAt < beatMs * 2 ** state.beats) continue;
    state.beats++;
    const domain = domainOf(topic);
    if (domain === undefined) continue;
    runners.get(domain)?.command({
      type: 'broadcast',
      id: `${state.last.id}~${state.beats}`,
      payload: state.last.bytes,
    });
  }
}
