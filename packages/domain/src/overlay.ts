import type { DomainId, Logger, NodeId } from '@netmachine/core';
import {
  type HyParView,
  type HyParViewCommand,
  type HyParViewConfig,
  type HyParViewEvent,
  type HyParViewInput,
  type HyParViewMessage,
  type HyParViewOutput,
  type HyParViewTimer,
  hyparview,
  type Machine,
  type ProtocolDefinition,
  ProtocolRunner,
  type RunnerCounters,
  type RunnerRouter,
  type RunnerTransport,
  type SharedLinks,
} from '@netmachine/overlay';

/** Messages held from one peer while its membership is checked, and in all. */
const HELD_PER_PEER = 8;
const HELD_TOTAL = 256;

export interface OverlayGate {
  /** Is `node` a member this node has a verified record of? */
  isMember(node: NodeId): boolean;
  /** Asks `node` for its membership statement; resolves true once it is verified. */
  verifyClaim(node: NodeId): Promise<boolean>;
  /** `node` sent overlay messages without proving membership: they were dropped. */
  refused(node: NodeId, dropped: number): void;
  added(node: NodeId): void;
  removed(node: NodeId): void;
}

/**
 * HyParView behind a membership check: a message from a peer that has not shown a valid membership
 * record is held (bounded) while the peer is asked for its record, then handed on, or dropped and
 * counted. The machine itself is the one the simulator runs.
 */
class MemberGate implements Machine<HyParViewMessage, HyParViewCommand, HyParViewTimer, HyParViewEvent> {
  readonly self: string;
  private readonly held = new Map<NodeId, HyParViewInput[]>();
  private heldTotal = 0;
  private out: HyParViewOutput | undefined;

  constructor(
    readonly inner: HyParView,
    private readonly gate: OverlayGate,
  ) {
    this.self = inner.self;
  }

  handle(input: HyParViewInput, now: number, out: HyParViewOutput): void {
    this.out = out;
    if (input.type === 'message' && !this.gate.isMember(input.from as NodeId)) {
      this.hold(input.from as NodeId, input);
      return;
    }
    this.inner.handle(input, now, out);
  }

  /** Tells the machine a peer is gone (e.g. removed from the domain): it leaves the views and is replaced. */
  evict(node: NodeId): void {
    if (this.out !== undefined) this.inner.handle({ type: 'peerDown', peer: node }, Date.now(), this.out);
  }

  private hold(from: NodeId, input: HyParViewInput): void {
    let queue = this.held.get(from);
    const first = queue === undefined;
    if (queue === undefined) {
      queue = [];
      this.held.set(from, queue);
    }
    if (queue.length >= HELD_PER_PEER || this.heldTotal >= HELD_TOTAL) {
      this.gate.refused(from, 1);
      return;
    }
    queue.push(input);
    this.heldTotal++;
    if (!first) return;
    this.gate.verifyClaim(from).then(
      (ok) => this.release(from, ok),
      () => this.release(from, false),
    );
  }

  private release(from: NodeId, ok: boolean): void {
    const queue = this.held.get(from) ?? [];
    this.held.delete(from);
    this.heldTotal -= queue.length;
    if (!ok || this.out === undefined) {
      this.gate.refused(from, queue.length);
      return;
    }
    for (const input of queue) this.inner.handle(input, Date.now(), this.out);
  }
}

export interface DomainOverlayOptions {
  readonly domain: DomainId;
  readonly router: RunnerRouter;
  readonly transport: RunnerTransport;
  readonly links: SharedLinks;
  readonly config?: Partial<HyParViewConfig> | undefined;
  readonly logger?: Logger | undefined;
}

/** One domain's overlay on this node: HyParView on the engine `hpv:<domain>`, run by the ProtocolRunner. */
export class DomainOverlay {
  private readonly runner: ProtocolRunner<HyParViewMessage, HyParViewCommand, HyParViewTimer, HyParViewEvent>;
  private gateMachine: MemberGate | undefined;

  constructor(options: DomainOverlayOptions, gate: OverlayGate) {
    const base = hyparview(options.config);
    const protocol: ProtocolDefinition<HyParViewMessage, HyParViewCommand, HyParViewTimer, HyParViewEvent> = {
      protocol: base.protocol,
      decode: base.decode,
      create: (self, rng, now) => {
        this.gateMachine = new MemberGate(base.create(self, rng, now) as HyParView, gate);
        return this.gateMachine;
      },
    };
    this.runner = new ProtocolRunner({
      protocol,
      router: options.router,
      transport: options.transport,
      links: options.links,
      engineName: `hpv:${options.domain}`,
      ...(options.logger ? { logger: options.logger } : {}),
    });
    this.runner.on((event) => {
      if (event.type === 'peerAddedToView') gate.added(event.peer as NodeId);
      else gate.removed(event.peer as NodeId);
    });
  }

  start(): Promise<void> {
    return this.runner.start();
  }

  /** Joins the overlay through a member already in it. */
  join(contact: NodeId): void {
    this.runner.command({ type: 'join', contact });
  }

  /** Tells the active view goodbye and stops. */
  async leave(): Promise<void> {
    this.runner.command({ type: 'leave' });
    await this.runner.stop();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  evict(node: NodeId): void {
    this.gateMachine?.evict(node);
  }

  activeView(): NodeId[] {
    return (this.gateMachine?.inner.activeView() ?? []) as NodeId[];
  }

  passiveView(): NodeId[] {
    return (this.gateMachine?.inner.passiveView() ?? []) as NodeId[];
  }

  counters(): RunnerCounters {
    return this.runner.counters();
  }
}
