import { randomBytes } from 'node:crypto';
import {
  type EngineContext,
  type EngineHandler,
  type EngineMessage,
  type EngineOptions,
  type EngineRef,
  holdBytes,
  type Logger,
  type MailboxPolicy,
  type NodeId,
  noopLogger,
  releaseMessageBytes,
  releaseWhenEncoded,
  type Startable,
  shareMessageBytes,
} from '@netmachine/core';
import type { Machine, MachineInput, MachineOutput, PeerId, ProtocolDefinition } from './protocol.js';
import { seededRng } from './rng.js';
import { SharedLinks } from './shared-links.js';
import { TimerQueue } from './timer-queue.js';

// The runner drives one sans-IO machine on a real node: messages come from the machine's engine (the
// same engine name on every node), peer up/down from the Transport engine's events, timers from real
// time; sends go out through the router, connects and disconnects through the Transport engine.
// A peer id here is the peer's NodeId in text form.

/** The part of the Router the runner needs (structural: `Router` from @netmachine/router fits). */
export interface RunnerRouter {
  readonly node: NodeId;
  client(name: string, onMessage?: EngineHandler, options?: EngineOptions): EngineContext & EngineRef;
}

/** A Transport engine event, as far as the runner cares. */
export interface RunnerPeerEvent {
  readonly type: string;
  readonly node?: NodeId | undefined;
}

/**
 * The part of the Transport engine the runner needs (structural: `TransportEngine` fits). It listens
 * for `peer:connected`, `peer:disconnected` and `peer:connect-failed`.
 */
export interface RunnerTransport {
  connect(node: NodeId, options?: { permanent?: boolean }): Promise<void>;
  disconnect(node: NodeId): Promise<void>;
  readonly events: { on(type: '*', listener: (event: RunnerPeerEvent) => void): () => void };
}

const PEER_UP_EVENTS = new Set(['peer:connected']);
/** Turns a due timer waits at most for the engine's queued messages to be handled first. */
const MAX_TIMER_TURNS = 8;
const PEER_DOWN_EVENTS = new Set(['peer:disconnected', 'peer:connect-failed']);

export interface ProtocolRunnerOptions<M, C, T, E> {
  readonly protocol: ProtocolDefinition<M, C, T, E>;
  readonly router: RunnerRouter;
  readonly transport: RunnerTransport;
  /** The engine that speaks the protocol on every node (default: the protocol name before the `/`). */
  readonly engineName?: string;
  /** Seed of the machine's RNG (default: random). */
  readonly seed?: number;
  readonly logger?: Logger;
  /** Most timers pending at once; a timer beyond it is refused and counted (default 10,000). */
  readonly maxTimers?: number;
  /** Mailbox of the protocol's engine (default 1024, drop-oldest: protocol messages are soft state). */
  readonly mailboxSize?: number;
  /**
   * What a full mailbox does (default `drop-oldest`). With `wait`, messages from other nodes park and
   * their connections stop reading until there is room: the senders are slowed instead of losing them.
   */
  readonly mailboxPolicy?: MailboxPolicy;
  /**
   * Called before each message is handed to the machine. A promise holds the engine until it
   * resolves: its mailbox fills meanwhile and (under `wait`) the connections it reads stop. A driver
   * uses it to stop forwarding while the links it forwards to are backed up. Timers that come due
   * while the engine is held wait too, and fire once it takes messages again: a held machine sees
   * nothing arrive, so a timer that waits for something to arrive (PlumTree's Graft) would otherwise
   * fire for a message that is only waiting in this node's own mailbox.
   */
  readonly holdInput?: () => Promise<void> | undefined;
  /** Close the connection to a peer that sends a message that does not decode (default true). */
  readonly disconnectOnBadInput?: boolean;
  /**
   * Connections shared with other runners on the node (e.g. one overlay per domain): a link stays up
   * while any runner wants it. Default: a set of its own over `transport`.
   */
  readonly links?: SharedLinks;
  /**
   * For a protocol whose messages carry large byte arrays (payloads) that the transport may have read
   * into a buffer it would like back: the bytes of `message` that outlive its handling when sent.
   * With it, the runner hands each received message's buffer back once the machine has handled it
   * (`releaseMessageBytes`), and holds a sent message's bytes until the transport has encoded it
   * (`holdBytes`, `releaseWhenEncoded`). Whatever else in the machine keeps such bytes (a cache)
   * must hold them itself. Without it, received buffers are left to the GC.
   */
  readonly lentBytesOf?: (message: M) => Uint8Array | undefined;
}

export interface RunnerCounters {
  received: number;
  sent: number;
  decodeErrors: number;
  /** Messages on the protocol's engine from another engine or protocol. */
  foreign: number;
  timersFired: number;
  timersRefused: number;
  connectFailures: number;
  /** Inputs the machine threw on (a bug in the machine: counted and logged, never a crash). */
  machineErrors: number;
}

export type RunnerListener<E> = (event: E) => void;

export class ProtocolRunner<M, C, T, E> implements Startable {
  readonly #counters: RunnerCounters = {
    received: 0,
    sent: 0,
    decodeErrors: 0,
    foreign: 0,
    timersFired: 0,
    timersRefused: 0,
    connectFailures: 0,
    machineErrors: 0,
  };
  readonly engineName: string;
  readonly #o: ProtocolRunnerOptions<M, C, T, E>;
  readonly #logger: Logger;
  readonly #listeners = new Set<RunnerListener<E>>();
  readonly #timers: TimerQueue<T>;
  readonly #out: MachineOutput<M, T, E>;
  readonly #links: SharedLinks;
  #machine: Machine<M, C, T, E> | undefined;
  #client: (EngineContext & EngineRef) | undefined;
  #unwire: (() => void) | undefined;
  #state: 'new' | 'running' | 'stopped' = 'new';
  /** Whether `holdInput` holds the engine now, and the timers that came due meanwhile. */
  #holding = false;
  #heldTimers: T[] = [];
  /** Timers that came due, waiting for the input already read to be handled first; and for how many turns. */
  #dueTimers: T[] = [];
  #dueTurns = 0;

  constructor(options: ProtocolRunnerOptions<M, C, T, E>) {
    this.#o = options;
    this.engineName =
      options.engineName ?? options.protocol.protocol.split('/')[0] ?? options.protocol.protocol;
    this.#links = options.links ?? new SharedLinks(options.transport);
    this.#logger = (options.logger ?? noopLogger).child({ component: this.engineName });
    this.#timers = new TimerQueue<T>({
      max: options.maxTimers ?? 10_000,
      now: Date.now,
      fire: (timer) => {
        if (this.#holding) {
          if (this.#heldTimers.length < (options.maxTimers ?? 10_000)) this.#heldTimers.push(timer);
          else this.#counters.timersRefused++;
          return;
        }
        this.#due(timer);
      },
    });
    this.#out = {
      send: (to, message) => this.#send(to, message),
      connect: (peer) => this.#connect(peer),
      disconnect: (peer) => this.#links.release(this, peer as NodeId),
      setTimer: (timer, after) => {
        if (!this.#timers.add(timer, after)) this.#counters.timersRefused++;
      },
      emit: (event) => {
        for (const listener of this.#listeners) {
          try {
            listener(event);
          } catch (error) {
            this.#logger.warn({ err: error }, 'protocol event listener threw');
          }
        }
      },
    };
  }

  /** The machine (for status and tests); undefined before `start`. */
  get machine(): Machine<M, C, T, E> | undefined {
    return this.#machine;
  }

  /** Listens to the machine's events; returns an unsubscribe function. */
  on(listener: RunnerListener<E>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') return;
    this.#state = 'running';
    const seed = this.#o.seed ?? randomBytes(4).readUInt32LE(0);
    this.#machine = this.#o.protocol.create(this.#o.router.node, seededRng(seed), Date.now());
    this.#client = this.#o.router.client(this.engineName, (message) => this.#receive(message), {
      mailboxSize: this.#o.mailboxSize ?? 1024,
      mailboxPolicy: this.#o.mailboxPolicy ?? 'drop-oldest',
    });
    this.#unwire = this.#o.transport.events.on('*', (event) => {
      if (event.node === undefined) return;
      if (PEER_UP_EVENTS.has(event.type)) this.#input({ type: 'peerUp', peer: event.node });
      else if (PEER_DOWN_EVENTS.has(event.type)) this.#input({ type: 'peerDown', peer: event.node });
    });
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#unwire?.();
    this.#timers.stop();
    this.#links.releaseAll(this);
    await this.#client?.stop();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** A snapshot of the runner's counters. */
  counters(): RunnerCounters {
    return { ...this.#counters };
  }

  /** Hands a command to the machine (e.g. join). */
  command(command: C): void {
    this.#input({ type: 'command', command });
  }

  #input(input: MachineInput<M, C, T>): void {
    const machine = this.#machine;
    if (machine === undefined || this.#state !== 'running') return;
    try {
      machine.handle(input, Date.now(), this.#out);
    } catch (error) {
      this.#counters.machineErrors++;
      this.#logger.error({ err: error, input: input.type }, 'protocol machine threw');
    }
  }

  #receive(message: EngineMessage): Promise<void> | undefined {
    const held = this.#o.holdInput?.();
    if (held !== undefined) {
      this.#holding = true;
      return held.then(() => {
        this.#holding = false;
        this.#handle(message);
        this.#releaseTimers();
      });
    }
    this.#handle(message);
    return undefined;
  }

  /**
   * A timer came due. It fires after the input this node has already read: timers run before the event
   * loop polls the connections, so after a busy or descheduled stretch a Graft timer would otherwise fire
   * for a payload that is waiting in this node's own socket or mailbox. So due timers wait for the
   * turn's I/O (`setImmediate`), and then while the engine still has messages queued, for at most
   * `MAX_TIMER_TURNS` turns (a mailbox that never empties does not stop the timers).
   */
  #due(timer: T): void {
    this.#dueTimers.push(timer);
    if (this.#dueTimers.length > 1) return;
    this.#dueTurns = 0;
    setImmediate(() => this.#fireDue());
  }

  #fireDue(): void {
    if (this.#state !== 'running') return;
    if (this.#holding) {
      // Held meanwhile: they fire once the engine takes messages again.
      for (const timer of this.#dueTimers) {
        if (this.#heldTimers.length < (this.#o.maxTimers ?? 10_000)) this.#heldTimers.push(timer);
        else this.#counters.timersRefused++;
      }
      this.#dueTimers = [];
      return;
    }
    if ((this.#client?.queued ?? 0) > 0 && ++this.#dueTurns < MAX_TIMER_TURNS) {
      setImmediate(() => this.#fireDue());
      return;
    }
    const timers = this.#dueTimers;
    this.#dueTimers = [];
    for (const timer of timers) {
      this.#counters.timersFired++;
      this.#input({ type: 'timer', timer });
    }
  }

  /** Timers held back while the engine was held fire on the next turn, after the mailbox has had its run. */
  #releaseTimers(): void {
    if (this.#heldTimers.length === 0) return;
    const timers = this.#heldTimers;
    this.#heldTimers = [];
    for (const timer of timers) if (!this.#timers.add(timer, 0)) this.#counters.timersRefused++;
  }

  #handle(message: EngineMessage): void {
    if (this.#state !== 'running') return;
    const src = message.src;
    if (message.protocol !== this.#o.protocol.protocol || src.name !== this.engineName) {
      this.#counters.foreign++;
      return;
    }
    let decoded: M;
    try {
      decoded = this.#o.protocol.decode(message.body);
    } catch (error) {
      this.#counters.decodeErrors++;
      this.#logger.debug({ err: error, peer: src.node }, 'undecodable protocol message dropped');
      if (this.#o.disconnectOnBadInput ?? true) this.#o.transport.disconnect(src.node).catch(() => undefined);
      return;
    }
    this.#counters.received++;
    const lentBytesOf = this.#o.lentBytesOf;
    if (lentBytesOf !== undefined) {
      // The payload's memory finds the message's lease, so whoever keeps the payload can hold it.
      const lent = lentBytesOf(decoded);
      if (lent !== undefined) shareMessageBytes(message, lent);
    }
    this.#input({ type: 'message', from: src.node, message: decoded });
    // Whatever the machine kept of the message's bytes it holds by now (see `lentBytesOf`).
    if (this.#o.lentBytesOf !== undefined) releaseMessageBytes(message);
  }

  #send(to: PeerId, message: M): void {
    if (this.#client === undefined) return;
    this.#counters.sent++;
    const lent = this.#o.lentBytesOf?.(message);
    if (lent !== undefined) {
      // Held until the link has copied the message into its frame (a send dropped unencoded keeps
      // its hold: the buffer is then left to the GC).
      const drop = holdBytes(lent);
      if (drop !== undefined) releaseWhenEncoded(message as object, drop);
    }
    try {
      this.#client.send({ node: to as NodeId, name: this.engineName }, message, {
        protocol: this.#o.protocol.protocol,
      });
    } catch (error) {
      // A peer id learned from the wire that is not a node id: the router refuses it.
      this.#logger.debug({ err: error, peer: to }, 'protocol message not sent');
    }
  }

  #connect(peer: PeerId): void {
    this.#links.want(this, peer as NodeId).then(
      () => this.#input({ type: 'peerUp', peer }),
      () => {
        this.#counters.connectFailures++;
        this.#input({ type: 'peerDown', peer });
      },
    );
  }
}
