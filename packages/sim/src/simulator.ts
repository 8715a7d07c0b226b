import type { Machine, MachineInput, MachineOutput, Millis, PeerId, Rng } from '@netmachine/overlay';
import { seededRng, type Xoshiro128 } from '@netmachine/overlay';
import { SimulationOverflowError, UnknownSimNodeError } from './errors.js';
import { EventQueue } from './event-queue.js';
import { DEFAULT_NETWORK, type NetworkModel, pairLatency } from './network.js';
import { TraceHash } from './trace-hash.js';

/** The protocol the simulator runs: the same definition a node's runner takes. */
export interface SimProtocol<M, C, T, E, X extends Machine<M, C, T, E>> {
  readonly protocol: string;
  readonly decode: (value: unknown) => M;
  create(self: PeerId, rng: Rng, now: Millis): X;
}

/**
 * A misbehaving node. `drop`: accepts connections and messages but never answers or forwards anything
 * (a black hole). `flood`: runs the protocol, and also sends `burst` forged wire values to random nodes
 * every `interval` ms; receivers decode them as they would from a socket.
 */
export type Adversary =
  | { readonly kind: 'drop' }
  | {
      readonly kind: 'flood';
      readonly interval: Millis;
      readonly burst: number;
      readonly forge: (rng: Rng, self: PeerId, victim: PeerId) => unknown;
    };

export interface SimulatorOptions<M, C, T, E, X extends Machine<M, C, T, E>> {
  readonly protocol: SimProtocol<M, C, T, E, X>;
  readonly seed: number;
  readonly network?: Partial<NetworkModel>;
  /**
   * Run every message through the protocol's decoder, as the wire does. Off by default: honest machines
   * build well-formed messages, and forged ones (from adversaries) are always decoded.
   */
  readonly decodeAll?: boolean;
  /** Called for every event a machine emits. */
  readonly onEvent?: (node: number, event: E, time: Millis) => void;
  /** Most events the queue may hold; beyond it `SimulationOverflowError` is thrown. */
  readonly maxQueuedEvents?: number;
}

export interface SimStats {
  /** Messages machines sent (including lost ones). */
  sent: number;
  /** Messages delivered to a machine. */
  delivered: number;
  /** Inputs of every kind handed to machines (messages, timers, peer up/down, commands). */
  inputs: number;
  timers: number;
  events: number;
  forged: number;
  decodeErrors: number;
  dropped: { loss: number; dead: number; partition: number; unknownPeer: number; adversary: number };
}

const DELIVER = 0;
const TIMER = 1;
const PEER_UP = 2;
const PEER_DOWN = 3;
const COMMAND = 4;
const ACTION = 5;
const FLOOD = 6;

interface SimEvent {
  readonly time: number;
  readonly seq: number;
  readonly kind: number;
  readonly to: number;
  readonly from: number;
  readonly data: unknown;
  /** A forged wire value that must go through the decoder. */
  readonly raw: boolean;
}

/**
 * A deterministic discrete-event simulator: thousands of the same sans-IO machines, one virtual clock, one
 * seed. Everything that happens is a queued event, run in (time, scheduling order); every input handed to a
 * machine and every event it emits is mixed into the trace hash.
 */
export class Simulator<M, C, T, E, X extends Machine<M, C, T, E>> {
  readonly seed: number;
  readonly network: NetworkModel;
  readonly stats: SimStats = {
    sent: 0,
    delivered: 0,
    inputs: 0,
    timers: 0,
    events: 0,
    forged: 0,
    decodeErrors: 0,
    dropped: { loss: 0, dead: 0, partition: 0, unknownPeer: 0, adversary: 0 },
  };
  readonly #protocol: SimProtocol<M, C, T, E, X>;
  readonly #decodeAll: boolean;
  readonly #onEvent: ((node: number, event: E, time: Millis) => void) | undefined;
  readonly #maxQueued: number;
  readonly #queue = new EventQueue<SimEvent>();
  readonly #trace = new TraceHash();
  readonly #rng: Xoshiro128;
  /** Randomness of the network itself (loss) and of adversaries, apart from the machines' own. */
  readonly #netRng: Xoshiro128;
  readonly #ids: PeerId[] = [];
  readonly #index = new Map<PeerId, number>();
  readonly #machines: X[] = [];
  readonly #alive: boolean[] = [];
  readonly #links: Set<number>[] = [];
  readonly #adversary: (Adversary | undefined)[] = [];
  readonly #group: number[] = [];
  #now = 0;
  #seq = 0;
  #current = -1;
  readonly #out: MachineOutput<M, T, E>;

  constructor(options: SimulatorOptions<M, C, T, E, X>) {
    this.seed = options.seed >>> 0;
    this.network = { ...DEFAULT_NETWORK, ...options.network };
    this.#protocol = options.protocol;
    this.#decodeAll = options.decodeAll ?? false;
    this.#onEvent = options.onEvent;
    this.#maxQueued = options.maxQueuedEvents ?? 50_000_000;
    this.#rng = seededRng(this.seed);
    this.#netRng = this.#rng.fork();
    this.#out = {
      send: (to, message) => this.#send(this.#current, to, message, false),
      connect: (peer) => this.#connect(this.#current, peer),
      disconnect: (peer) => this.#disconnect(this.#current, peer),
      // `after > 0` also turns NaN into 0: a machine's slip must not corrupt the queue's order.
      setTimer: (timer, after) =>
        // biome-ignore lint/complexity/useMathMinMax: Math.max(0, NaN) is NaN
        this.#schedule(this.#now + (after > 0 ? after : 0), TIMER, this.#current, -1, timer),
      emit: (event) => this.#emit(this.#current, event),
    };
  }

  /** Virtual time now (ms). */
  get now(): Millis {
    return this.#now;
  }

  get nodeCount(): number {
    return this.#ids.length;
  }

  get queuedEvents(): number {
    return this.#queue.size;
  }

  /** The trace hash so far (16 hex digits). */
  traceHash(): string {
    return this.#trace.hex();
  }

  /** Adds a node running a fresh machine; returns its index. Its id is `id` or `n<index>`. */
  addNode(id?: PeerId): number {
    const index = this.#ids.length;
    const peer = id ?? `n${index}`;
    if (this.#index.has(peer)) throw new RangeError(`duplicate node id ${peer}`);
    this.#ids.push(peer);
    this.#index.set(peer, index);
    this.#machines.push(this.#protocol.create(peer, this.#rng.fork(), this.#now));
    this.#alive.push(true);
    this.#links.push(new Set());
    this.#adversary.push(undefined);
    this.#group.push(0);
    return index;
  }

  id(node: number): PeerId {
    const id = this.#ids[node];
    if (id === undefined) throw new UnknownSimNodeError(String(node));
    return id;
  }

  indexOf(peer: PeerId): number | undefined {
    return this.#index.get(peer);
  }

  machine(node: number): X {
    const machine = this.#machines[node];
    if (machine === undefined) throw new UnknownSimNodeError(String(node));
    return machine;
  }

  isAlive(node: number): boolean {
    return this.#alive[node] === true;
  }

  isHonest(node: number): boolean {
    return this.#adversary[node] === undefined;
  }

  /** Open connections of `node` (node indices). */
  links(node: number): ReadonlySet<number> {
    return this.#links[node] ?? new Set();
  }

  /** Hands `command` to a node's machine at virtual time `at` (default: now). */
  command(node: number, command: C, at: Millis = this.#now): void {
    this.#schedule(Math.max(at, this.#now), COMMAND, node, -1, command);
  }

  /** Runs `action` at virtual time `at` (scenario steps: joins, crashes, measurements). */
  at(at: Millis, action: () => void): void {
    this.#schedule(Math.max(at, this.#now), ACTION, -1, -1, action);
  }

  /** Crashes nodes at once: they stop, and each connected peer sees `peerDown` after `failureDetection`. */
  crash(nodes: Iterable<number>): void {
    for (const node of nodes) {
      if (!this.#alive[node]) continue;
      this.#alive[node] = false;
      const links = this.#links[node] as Set<number>;
      for (const peer of links) {
        this.#links[peer]?.delete(node);
        this.#schedule(this.#now + this.network.failureDetection, PEER_DOWN, peer, node, undefined);
      }
      links.clear();
    }
  }

  /** Makes a node misbehave from now on. */
  setAdversary(node: number, adversary: Adversary): void {
    this.#adversary[node] = adversary;
    if (adversary.kind === 'flood')
      this.#schedule(this.#now + adversary.interval, FLOOD, node, -1, undefined);
  }

  /**
   * Splits the network: nodes in different groups cannot reach each other. Connections across groups
   * break (both sides see `peerDown` after `failureDetection`).
   */
  partition(groupOf: (node: number) => number): void {
    for (let node = 0; node < this.#ids.length; node++) this.#group[node] = groupOf(node);
    for (let node = 0; node < this.#ids.length; node++) {
      const links = this.#links[node] as Set<number>;
      for (const peer of links) {
        if (this.#group[peer] === this.#group[node]) continue;
        links.delete(peer);
        this.#links[peer]?.delete(node);
        this.#schedule(this.#now + this.network.failureDetection, PEER_DOWN, node, peer, undefined);
        this.#schedule(this.#now + this.network.failureDetection, PEER_DOWN, peer, node, undefined);
      }
    }
  }

  /** Ends every partition. */
  heal(): void {
    this.#group.fill(0);
  }

  /** Runs events up to and including virtual time `until`. */
  runUntil(until: Millis): void {
    const queue = this.#queue;
    while (queue.peekTime() <= until) {
      const next = queue.pop() as SimEvent;
      this.#now = next.time;
      this.#dispatch(next);
    }
    if (until > this.#now) this.#now = until;
  }

  /** Runs for `duration` ms of virtual time. */
  runFor(duration: Millis): void {
    this.runUntil(this.#now + duration);
  }

  #schedule(time: number, kind: number, to: number, from: number, data: unknown, raw = false): void {
    if (this.#queue.size >= this.#maxQueued) throw new SimulationOverflowError(this.#maxQueued);
    this.#queue.push({ time, seq: this.#seq++, kind, to, from, data, raw });
  }

  #dispatch(event: SimEvent): void {
    if (event.kind === ACTION) {
      (event.data as () => void)();
      return;
    }
    const to = event.to;
    if (!this.#alive[to]) {
      if (event.kind === DELIVER) this.stats.dropped.dead++;
      return;
    }
    if (event.kind === FLOOD) {
      this.#flood(to);
      return;
    }
    if (this.#adversary[to]?.kind === 'drop') {
      if (event.kind === DELIVER) this.stats.dropped.adversary++;
      return;
    }
    let input: MachineInput<M, C, T>;
    switch (event.kind) {
      case DELIVER: {
        if (this.#group[event.from] !== this.#group[to]) {
          this.stats.dropped.partition++;
          return;
        }
        let message = event.data as M;
        if (event.raw || this.#decodeAll) {
          try {
            message = this.#protocol.decode(event.data);
          } catch {
            this.stats.decodeErrors++;
            this.#trace.int(0xdec0de);
            return;
          }
        }
        this.stats.delivered++;
        input = { type: 'message', from: this.#ids[event.from] as PeerId, message };
        break;
      }
      case TIMER:
        this.stats.timers++;
        input = { type: 'timer', timer: event.data as T };
        break;
      case PEER_UP:
        if (!this.#links[to]?.has(event.from)) return; // the link broke again before this arrived
        input = { type: 'peerUp', peer: this.#ids[event.from] as PeerId };
        break;
      case PEER_DOWN:
        if (event.from >= 0 && this.#links[to]?.has(event.from)) return; // reconnected since
        input = {
          type: 'peerDown',
          peer: event.from >= 0 ? (this.#ids[event.from] as PeerId) : (event.data as PeerId),
        };
        break;
      default:
        input = { type: 'command', command: event.data as C };
    }
    const trace = this.#trace;
    trace.int(event.kind);
    trace.number(event.time);
    trace.int(to);
    trace.int(event.from);
    trace.value(event.data);
    this.stats.inputs++;
    this.#current = to;
    (this.#machines[to] as X).handle(input, this.#now, this.#out);
    this.#current = -1;
  }

  #send(from: number, to: PeerId, message: unknown, raw: boolean): void {
    this.stats.sent++;
    const target = this.#index.get(to);
    if (target === undefined) {
      this.stats.dropped.unknownPeer++;
      return;
    }
    if (!this.#alive[target]) {
      this.stats.dropped.dead++;
      return;
    }
    if (this.#group[from] !== this.#group[target]) {
      this.stats.dropped.partition++;
      return;
    }
    if (this.network.loss > 0 && this.#netRng.next() < this.network.loss) {
      this.stats.dropped.loss++;
      return;
    }
    const latency = pairLatency(this.network.latency, this.seed, from, target);
    this.#schedule(this.#now + latency, DELIVER, target, from, message, raw);
  }

  #connect(from: number, peer: PeerId): void {
    const target = this.#index.get(peer);
    const links = this.#links[from] as Set<number>;
    if (target === undefined) {
      this.#schedule(this.#now + this.network.connectTimeout, PEER_DOWN, from, -1, peer);
      return;
    }
    if (links.has(target)) {
      this.#schedule(this.#now, PEER_UP, from, target, undefined);
      return;
    }
    if (!this.#alive[target] || this.#group[from] !== this.#group[target] || target === from) {
      this.#schedule(this.#now + this.network.connectTimeout, PEER_DOWN, from, target, undefined);
      return;
    }
    links.add(target);
    this.#links[target]?.add(from);
    const latency = pairLatency(this.network.latency, this.seed, from, target);
    this.#schedule(this.#now + latency, PEER_UP, from, target, undefined);
    this.#schedule(this.#now + latency, PEER_UP, target, from, undefined);
  }

  #disconnect(from: number, peer: PeerId): void {
    const target = this.#index.get(peer);
    if (target === undefined) return;
    const links = this.#links[from] as Set<number>;
    if (!links.delete(target)) return;
    this.#links[target]?.delete(from);
    // The other side learns after the messages already on the link (same latency, scheduled later).
    const latency = pairLatency(this.network.latency, this.seed, from, target);
    this.#schedule(this.#now + latency, PEER_DOWN, target, from, undefined);
  }

  #emit(node: number, event: E): void {
    this.stats.events++;
    this.#trace.int(0xe7e7);
    this.#trace.value(event);
    this.#onEvent?.(node, event, this.#now);
  }

  #flood(node: number): void {
    const adversary = this.#adversary[node];
    if (adversary?.kind !== 'flood') return;
    const self = this.#ids[node] as PeerId;
    const n = this.#ids.length;
    for (let i = 0; i < adversary.burst; i++) {
      const victim = this.#netRng.int(n);
      if (victim === node) continue;
      const victimId = this.#ids[victim] as PeerId;
      this.stats.forged++;
      this.#send(node, victimId, adversary.forge(this.#netRng, self, victimId), true);
    }
    this.#schedule(this.#now + adversary.interval, FLOOD, node, -1, undefined);
  }
}
