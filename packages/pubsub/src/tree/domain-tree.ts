import { type DomainId, holdBytes, type Logger } from '@netmachine/core';
import {
  type PeerId,
  type PlumTreeCommand,
  type PlumTreeEvent,
  type PlumTreeMessage,
  type PlumTreeTimer,
  ProtocolRunner,
  plumtree,
} from '@netmachine/overlay';
import type { DomainPubSubOptions, DomainViews } from './domain-pubsub-options.js';
import { ForwardGate, type ForwardQueues } from './forward-gate.js';
import { batchNumberOf } from './tree-ids.js';

// Setting up one domain's broadcast tree: the PlumTree machine with the cache sizes a batch needs,
// the hop-to-hop forward gate when the transport can report its queues, and the engine that runs
// them. Only setup lives here; what the tree accepts and delivers stays with the pub/sub.

/** Batches each node keeps to answer gap fetches (the history), and at most this many bytes of them. */
const TREE_CACHE_SIZE = 1024;
const TREE_CACHE_BYTES = 64 * 1024 * 1024;

export type DomainTreeRunner = ProtocolRunner<PlumTreeMessage, PlumTreeCommand, PlumTreeTimer, PlumTreeEvent>;

export interface DomainTree {
  readonly runner: DomainTreeRunner;
  /** Present when flow control is on and the transport reports its send queues. */
  readonly gate: ForwardGate | undefined;
}

/**
 * Builds (without starting) the tree of `domain`. `accept` checks each payload the machine receives
 * for the first time; it is handed to the machine as given, so the per-message path has no extra call.
 */
export function createDomainTree(
  domain: DomainId,
  options: DomainPubSubOptions,
  logger: Logger,
  accept: (id: string, payload: Uint8Array, from: PeerId) => boolean,
): DomainTree {
  const protocol = plumtree({
    // A cached payload is a whole batch (up to MAX_BATCH_BYTES): 1024 of them, not PlumTree's 4096,
    // and 64 MiB at most (256 full batches; 1024 of one event each). Each cached batch holds its
    // buffer from reuse: a busy topic reuses buffers once its history is full (about 2 s at 125,000
    // events/s of 200 B). A 32 MiB history reused sooner, but under load a lagging subscriber's gap
    // then stayed open (most likely gone from every neighbour's history).
    cacheSize: TREE_CACHE_SIZE,
    cacheBytes: TREE_CACHE_BYTES,
    // A gap is fetched from one neighbour at a time (the next one on each second's re-ask): every
    // neighbour that holds a batch answers a fetch with all of it, up to 256 KiB each.
    fetchFrom: 1,
    // A batch's place in its stream, for deferring grafts while the tree still delivers in order.
    orderOf: batchNumberOf,
    ...options.tree,
    accept,
    // A batch read into a buffer the transport reuses is held while cached (see `lentBytesOf` below).
    retain: holdBytes,
  });
  const queues = options.transport as Partial<ForwardQueues>;
  const flow = options.flow;
  const gate =
    flow === false || typeof queues.queuedTo !== 'function' || queues.queued === undefined
      ? undefined
      : new ForwardGate({
          queues: queues as ForwardQueues,
          neighbours: () => options.domains.list().find((d) => d.id === domain)?.activeView ?? [],
          high: flow?.high ?? 64,
          low: flow?.low ?? 16,
          slowAfterMs: flow?.slowAfterMs ?? 2000,
          pollMs: 2,
        });
  const runner = new ProtocolRunner({
    protocol,
    router: options.router,
    transport: options.transport,
    engineName: `pst:${domain}`,
    mailboxSize: options.mailboxSize ?? 256,
    // With flow control a full mailbox parks what arrives and stops reading: nothing is dropped.
    mailboxPolicy: gate === undefined ? 'drop-oldest' : 'wait',
    ...(gate === undefined ? {} : { holdInput: () => gate.hold() }),
    logger,
    // A batch's buffer goes back to the transport once nothing here needs it: not cached, not queued
    // to a neighbour, not held for ordering, and delivered to lending listeners only.
    lentBytesOf: (message) =>
      message.type === 'gossip' || message.type === 'reply' ? message.payload : undefined,
  });
  return { runner, gate };
}

/**
 * Keeps the domains' trees told of their neighbours as the domain views change: a neighbour added
 * opens the domain's tree if this node runs none yet. Returns the unsubscribe.
 */
export function followDomainViews(
  domains: DomainViews,
  open: (domain: DomainId) => Promise<DomainTreeRunner>,
  running: (domain: DomainId) => DomainTreeRunner | undefined,
): () => void {
  return domains.onEvent((event) => {
    const { node, domain } = event;
    if (node === undefined || domain === undefined) return;
    if (event.type === 'PeerAddedToView')
      void open(domain).then((r) => r.command({ type: 'neighborUp', peer: node }));
    else if (event.type === 'PeerRemovedFromView')
      running(domain)?.command({ type: 'neighborDown', peer: node });
  });
}

/** Opens the tree of every domain this node is a member of, with the neighbours it has now. */
export async function openMemberTrees(
  domains: DomainViews,
  open: (domain: DomainId) => Promise<DomainTreeRunner>,
): Promise<void> {
  for (const domain of domains.list()) {
    if (domain.role !== 'member') continue;
    const runner = await open(domain.id);
    for (const peer of domain.activeView) runner.command({ type: 'neighborUp', peer });
  }
}
