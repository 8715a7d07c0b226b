import type { PlumTreeMessage } from './plumtree-messages.js';
import type { MachineInput, MachineOutput, PeerId } from './protocol.js';

// What goes in and out of a PlumTree machine (commands, timers, events) and what it reports about itself.

export type PlumTreeCommand =
  /** The overlay gained a neighbour: it becomes an eager link. */
  | { readonly type: 'neighborUp'; readonly peer: PeerId }
  /** The overlay lost a neighbour. */
  | { readonly type: 'neighborDown'; readonly peer: PeerId }
  /** Originate a message; `id` is opaque and chosen by the caller (a seen id is ignored). */
  | { readonly type: 'broadcast'; readonly id: string; readonly payload: Uint8Array }
  /** Ask every neighbour for messages known to be missing; answers are delivered once, like gossip. */
  | { readonly type: 'fetch'; readonly ids: readonly string[] };

export type PlumTreeTimer =
  | { readonly type: 'ihaveFlush' }
  | { readonly type: 'graft'; readonly id: string; readonly attempt: number };

export type PlumTreeEvent =
  /** A payload seen for the first time (never for the node's own broadcasts). */
  | {
      readonly type: 'deliver';
      readonly id: string;
      readonly payload: Uint8Array;
      readonly from: PeerId;
      readonly hops: number;
    }
  /** `accept` refused a payload (or it was larger than `maxPayloadBytes`; then `from` may be self). */
  | { readonly type: 'rejected'; readonly id: string; readonly from: PeerId }
  /** A neighbour's link in one source's tree changed (`tree` is the source; '' for neighbour changes). */
  | {
      readonly type: 'treeChanged';
      readonly tree: string;
      readonly peer: PeerId;
      readonly link: 'eager' | 'lazy' | 'none';
    };

export type PlumTreeOutput = MachineOutput<PlumTreeMessage, PlumTreeTimer, PlumTreeEvent>;
export type PlumTreeInput = MachineInput<PlumTreeMessage, PlumTreeCommand, PlumTreeTimer>;

/** What the machine has done, for tests, the map and the simulator. */
export interface PlumTreeCounters {
  /** Payloads delivered (first copies). */
  delivered: number;
  /** Payloads received (gossip and reply messages, duplicates included). */
  payloadsReceived: number;
  /** First copies that came as a Reply (the answer to a Graft or a Want), not pushed down the tree. */
  deliveredByReply: number;
  /** Copies of a payload already seen. */
  duplicates: number;
  /** Of those, copies that came as a Reply (asked for, and by then delivered some other way). */
  duplicateReplies: number;
  /** Payloads `accept` refused, or too large. */
  rejected: number;
  broadcasts: number;
  gossipSent: number;
  ihaveSent: number;
  ihaveEntriesSent: number;
  graftsSent: number;
  prunesSent: number;
  wantsSent: number;
  repliesSent: number;
  /** Announcements ignored because the pending table was full. */
  pendingDropped: number;
  /** Missing ids given up on: every announcer was tried. */
  graftsExhausted: number;
  /** Graft timers that waited another timeout because the tree was still delivering (`graftDeferLimit`). */
  graftsDeferred: number;
  /** Graft timers answered with a Want because the tree still delivered (`wantWhileDelivering`). */
  graftsAsWants: number;
  /** Missing ids asked for in another id's Graft or Want (same tree, same announcer, as overdue). */
  askedAlong: number;
  /** Duplicates from a tree link not pruned, as the first copies came from a link already pruned (`spareLastParent`). */
  prunesSpared: number;
  /** Pruned links grafted again because they kept pushing first copies (`regraftPrunedPusher`). */
  regrafts: number;
  /** Pushed copies of a message this node had fetched by a Want: late, not a cycle, so no Prune. */
  lateAfterWant: number;
  /** Links made eager by the optimization (a lazy path many hops shorter). */
  optimizations: number;
}

/** Sizes of the bounded structures, to check that they stay bounded. */
export interface PlumTreeSizes {
  seen: number;
  cache: number;
  pending: number;
  /** Announcements queued for the next flush, over all peers. */
  outbox: number;
  trees: number;
}

/** Every counter at zero. */
export function zeroPlumTreeCounters(): PlumTreeCounters {
  return {
    delivered: 0,
    payloadsReceived: 0,
    deliveredByReply: 0,
    duplicates: 0,
    duplicateReplies: 0,
    rejected: 0,
    broadcasts: 0,
    gossipSent: 0,
    ihaveSent: 0,
    ihaveEntriesSent: 0,
    graftsSent: 0,
    prunesSent: 0,
    wantsSent: 0,
    repliesSent: 0,
    pendingDropped: 0,
    graftsExhausted: 0,
    graftsDeferred: 0,
    graftsAsWants: 0,
    askedAlong: 0,
    prunesSpared: 0,
    regrafts: 0,
    lateAfterWant: 0,
    optimizations: 0,
  };
}
