import type { DomainId, NodeId } from '@netmachine/core';
import type { DomainState } from './membership.js';

/** The connections the overlay needs: the Transport engine, as seen by the domain service. */
export interface DomainLinks {
  /** Opens (or reuses) a connection; `permanent` keeps it up. Resolves when connected. */
  connect(node: NodeId, options: { permanent?: boolean; signal?: AbortSignal }): Promise<void>;
  /** Makes the link ephemeral again and closes it. */
  disconnect(node: NodeId): Promise<void>;
  connectedNodes(): NodeId[];
  rtt(node: NodeId): number | undefined;
}

export interface TopologyHooks {
  /** A peer entered the active view: tell it (neighbor + sync). */
  added(state: DomainState, node: NodeId): void;
  removed(state: DomainState, node: NodeId, reason: 'disconnected' | 'left' | 'removed' | 'stopped'): void;
  /** A member could not be connected; it may be dropped from the passive view. */
  failed(state: DomainState, node: NodeId): void;
}

/**
 * The active views of every domain this node is in, kept as live (permanent) connections. A
 * connection shared by several domains stays up while any of them wants it. The passive view is the
 * domain's member table: a lost active peer is replaced from it (HyParView's repair, without the
 * shuffles; the @netmachine/overlay machine takes this place once it runs here).
 */
export class Topology {
  private readonly wanted = new Map<NodeId, Set<DomainId>>();
  private random: () => number = Math.random;

  constructor(
    private readonly self: NodeId,
    private readonly links: DomainLinks,
    private readonly hooks: TopologyHooks,
    readonly activeSize: number,
    private readonly connectTimeoutMs: number,
  ) {}

  /** Tops the active view up from the passive view (members), preferring already connected ones. */
  fill(state: DomainState): void {
    if (state.role !== 'member') return;
    const connected = new Set(this.links.connectedNodes());
    while (state.active.size + state.connecting.size < this.activeSize) {
      const pool = [...state.members.keys()].filter(
        (n) => n !== this.self && !state.active.has(n) && !state.connecting.has(n),
      );
      if (pool.length === 0) return;
      const live = pool.filter((n) => connected.has(n));
      const from = live.length > 0 ? live : pool;
      const node = from[Math.floor(this.random() * from.length)] as NodeId;
      this.connect(state, node);
    }
  }

  /** Puts a peer that chose us into our active view, when there is room. Returns true when added. */
  accept(state: DomainState, node: NodeId): boolean {
    if (state.role !== 'member' || state.active.has(node) || node === this.self)
      return state.active.has(node);
    if (state.active.size + state.connecting.size >= this.activeSize) return false;
    this.connect(state, node);
    return true;
  }

  private connect(state: DomainState, node: NodeId): void {
    state.connecting.add(node);
    this.want(node, state.id);
    this.links.connect(node, { permanent: true, signal: AbortSignal.timeout(this.connectTimeoutMs) }).then(
      () => {
        state.connecting.delete(node);
        if (state.role !== 'member' || !state.members.has(node)) {
          this.release(node, state.id);
          return;
        }
        state.active.add(node);
        state.succeed(node);
        this.hooks.added(state, node);
      },
      () => {
        state.connecting.delete(node);
        this.release(node, state.id);
        this.hooks.failed(state, node);
      },
    );
  }

  /** A connection went down: the peer leaves every active view it was in. */
  disconnected(states: Iterable<DomainState>, node: NodeId): void {
    for (const state of states) {
      if (!state.active.has(node)) continue;
      this.drop(state, node, 'disconnected');
      this.hooks.failed(state, node);
    }
  }

  drop(state: DomainState, node: NodeId, reason: 'disconnected' | 'left' | 'removed' | 'stopped'): void {
    if (!state.active.delete(node)) return;
    this.release(node, state.id);
    this.hooks.removed(state, node, reason);
  }

  /** Leaves the domain's overlay: every active peer is dropped. */
  clear(state: DomainState, reason: 'left' | 'removed' | 'stopped'): void {
    for (const node of [...state.active]) this.drop(state, node, reason);
  }

  private want(node: NodeId, domain: DomainId): void {
    let domains = this.wanted.get(node);
    if (domains === undefined) {
      domains = new Set();
      this.wanted.set(node, domains);
    }
    domains.add(domain);
  }

  private release(node: NodeId, domain: DomainId): void {
    const domains = this.wanted.get(node);
    if (domains === undefined) return;
    domains.delete(domain);
    if (domains.size > 0) return;
    this.wanted.delete(node);
    // No domain needs this link any more: it stops being kept up (and closes).
    this.links.disconnect(node).catch(() => {});
  }

  /** How many domains keep a link to `node` up. */
  sharedBy(node: NodeId): number {
    return this.wanted.get(node)?.size ?? 0;
  }
}
