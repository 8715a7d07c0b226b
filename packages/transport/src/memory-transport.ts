import {
  AbortedError,
  type Connection,
  ConnectionClosedError,
  type ConnectionHandlers,
  type DialOptions,
  InvalidAddressError,
  type KeyPair,
  type Listener,
  type ListenOptions,
  type NodeId,
  PeerDeniedError,
  PeerKeyMismatchError,
  type Transport,
  type TransportFactory,
} from '@netmachine/core';

/**
 * An in-process transport for addresses `memory://<name>`. It implements the Transport contract
 * exactly (mutual authentication by node key, ordered delivery, backpressure, graceful close and
 * abort), so the Transport engine and everything above it can be tested without sockets.
 *
 * `latencyMs` delays every write by that much (order is kept). `lossRate` drops whole writes with
 * that probability: this BREAKS the byte stream (a frame may lose its tail or head), which is the
 * point — the reader must notice malformed frames and close the connection.
 */
export interface MemoryTransportOptions {
  latencyMs?: number;
  /** Probability (0–1) that a whole write is silently dropped. */
  lossRate?: number;
  /** Which in-process network to join (default: one shared per process). */
  network?: MemoryNetwork;
  /** Bytes queued per connection above which `write` returns false (default 64 KiB). */
  highWaterMark?: number;
  /** Source of randomness for loss (tests can make it deterministic). */
  random?: () => number;
  /**
   * Send `DialOptions.firstBytes` with the dial, as TLS does (default false: the caller writes its
   * first bytes itself, as over QUIC).
   */
  sendsFirstBytesEarly?: boolean;
}

export const MEMORY_PROTOCOL = 'memory';
const DEFAULT_HIGH_WATER_MARK = 64 * 1024;

interface ListenerEntry {
  readonly name: string;
  readonly node: NodeId;
  readonly owner: MemoryTransport;
  readonly onConnection: (connection: Connection) => void;
  readonly acceptPeer: ((node: NodeId) => boolean) | undefined;
}

/** A namespace of memory listeners. Transports on the same network can reach each other. */
export class MemoryNetwork {
  readonly #listeners = new Map<string, ListenerEntry>();
  #nextName = 1;
  #nextConnection = 1;

  /** Names currently listening (for diagnostics). */
  get names(): readonly string[] {
    return [...this.#listeners.keys()];
  }

  /** @internal */
  register(entry: Omit<ListenerEntry, 'name'>, requested: string): ListenerEntry {
    let name = requested;
    // `memory://0` or `memory://` asks for a fresh name, as port 0 does for sockets.
    if (name === '' || name === '0') {
      do name = `auto-${this.#nextName++}`;
      while (this.#listeners.has(name));
    }
    if (this.#listeners.has(name)) throw new InvalidAddressError(`memory://${name}`, 'already in use');
    const full = { ...entry, name };
    this.#listeners.set(name, full);
    return full;
  }

  /** @internal */
  unregister(entry: ListenerEntry): void {
    if (this.#listeners.get(entry.name) === entry) this.#listeners.delete(entry.name);
  }

  /** @internal */
  lookup(name: string): ListenerEntry | undefined {
    return this.#listeners.get(name);
  }

  /** @internal */
  connectionLabel(): string {
    return `memory://peer-${this.#nextConnection++}`;
  }
}

/** The network `memory()` joins when none is given. */
export const defaultMemoryNetwork = new MemoryNetwork();

export function parseMemoryAddress(address: string): string {
  const prefix = `${MEMORY_PROTOCOL}://`;
  if (typeof address !== 'string' || !address.startsWith(prefix)) {
    throw new InvalidAddressError(String(address), `expected ${prefix}<name>`);
  }
  const name = address.slice(prefix.length);
  if (!/^[A-Za-z0-9._-]*$/.test(name) || name.length > 128) {
    throw new InvalidAddressError(address, 'a memory name is up to 128 of [A-Za-z0-9._-]');
  }
  return name;
}

export function memory(options: MemoryTransportOptions = {}): TransportFactory {
  return (context) => new MemoryTransport(context.keyPair, options);
}

interface QueuedWrite {
  readonly data: Buffer;
  readonly dueAt: number;
}

/**
 * One end of an in-memory connection. Writes queue on the writer's side until the reader has set
 * its handlers and the latency has passed, so `bufferedBytes` and backpressure behave as on a socket.
 */
class MemoryConnection implements Connection {
  readonly protocol = MEMORY_PROTOCOL;
  peer!: MemoryConnection;
  #handlers: ConnectionHandlers | null = null;
  readonly #queue: QueuedWrite[] = [];
  #queueHead = 0;
  #buffered = 0;
  #needDrain = false;
  #timer: NodeJS.Timeout | null = null;
  #immediate: NodeJS.Immediate | null = null;
  /** Set once the connection is finished; `pendingClose` holds the notice until handlers exist. */
  #closed = false;
  #closing = false;
  #closeNotified = false;
  /** This end's owner stopped reading (flow control): the peer's writes stay queued on its side. */
  #readPaused = false;
  #pendingClose: { error: Error | undefined } | null = null;
  readonly #closeWaiters: Array<() => void> = [];

  constructor(
    readonly remoteNode: NodeId,
    readonly remoteAddress: string,
    readonly direction: 'inbound' | 'outbound',
    readonly owner: MemoryTransport,
    readonly options: Required<Pick<MemoryTransportOptions, 'latencyMs' | 'lossRate' | 'highWaterMark'>> & {
      random: () => number;
    },
  ) {}

  get bufferedBytes(): number {
    return this.#buffered;
  }

  setHandlers(handlers: ConnectionHandlers): void {
    if (this.#handlers !== null) throw new Error('setHandlers called twice');
    this.#handlers = handlers;
    // A closed peer has nothing left for us (a graceful close waits for the reader), so either
    // tell of the close or let the peer start delivering the writes it has been holding.
    if (this.#pendingClose !== null) this.#notifyClose(this.#pendingClose.error);
    else this.peer.#schedule();
  }

  write(data: Uint8Array): boolean {
    if (this.#closed || this.#closing) return false;
    if (data.length === 0) return this.#buffered < this.options.highWaterMark;
    // Copy: the caller may reuse its buffer once write returns, as with a socket.
    const copy = Buffer.from(data);
    this.#queue.push({ data: copy, dueAt: Date.now() + this.options.latencyMs });
    this.#buffered += copy.length;
    this.#schedule();
    if (this.#buffered >= this.options.highWaterMark) {
      this.#needDrain = true;
      return false;
    }
    return true;
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closing = true;
    const done = new Promise<void>((resolve) => this.#closeWaiters.push(resolve));
    this.#schedule();
    return done;
  }

  pause(): void {
    this.#readPaused = true;
  }

  resume(): void {
    if (!this.#readPaused) return;
    this.#readPaused = false;
    this.peer.#schedule();
  }

  abort(error?: Error): void {
    if (this.#closed) return;
    this.#discardQueue();
    this.#finish(error);
    this.peer.#discardQueue();
    this.peer.#finish(error ?? new ConnectionClosedError('connection reset by peer'), true);
  }

  #discardQueue(): void {
    this.#queue.length = 0;
    this.#queueHead = 0;
    this.#buffered = 0;
    this.#clearTimers();
  }

  #clearTimers(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#immediate !== null) clearImmediate(this.#immediate);
    this.#timer = null;
    this.#immediate = null;
  }

  /** Marks this end closed and tells its owner, now or once it has set handlers. */
  #finish(error: Error | undefined, asPeer = false): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = false;
    this.owner.forget(this);
    for (const resolve of this.#closeWaiters.splice(0)) resolve();
    const peerError = asPeer && error !== undefined ? new ConnectionClosedError(error.message) : error;
    if (this.#handlers === null) this.#pendingClose = { error: peerError };
    else this.#notifyClose(peerError);
  }

  #notifyClose(error: Error | undefined): void {
    if (this.#closeNotified || this.#handlers === null) return;
    this.#closeNotified = true;
    this.#pendingClose = null;
    const handlers = this.#handlers;
    // Asynchronous, like a socket's close event: never re-enter the caller of abort/close.
    setImmediate(() => handlers.onClose(error));
  }

  #schedule(): void {
    if (this.#timer !== null || this.#immediate !== null || this.#closed) return;
    const head = this.#queue[this.#queueHead];
    if (head === undefined) {
      if (this.#closing) this.#immediate = setImmediate(() => this.#pump());
      return;
    }
    if (this.peer.#handlers === null || this.peer.#readPaused) return;
    const wait = head.dueAt - Date.now();
    if (wait > 0) this.#timer = setTimeout(() => this.#pump(), wait);
    else this.#immediate = setImmediate(() => this.#pump());
  }

  /** Delivers every due write to the peer, then handles drain and a pending graceful close. */
  #pump(): void {
    this.#timer = null;
    this.#immediate = null;
    const reader = this.peer.#handlers;
    const now = Date.now();
    while (
      reader !== null &&
      !this.#closed &&
      !this.peer.#readPaused &&
      this.#queueHead < this.#queue.length
    ) {
      const entry = this.#queue[this.#queueHead]!;
      if (entry.dueAt > now) break;
      this.#queue[this.#queueHead++] = undefined as unknown as QueuedWrite;
      this.#buffered -= entry.data.length;
      if (this.options.lossRate > 0 && this.options.random() < this.options.lossRate) continue;
      if (this.peer.#closed) continue;
      reader.onData(entry.data);
    }
    if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#queueHead);
      this.#queueHead = 0;
    }
    if (this.#closed) return;
    if (this.#needDrain && this.#buffered < this.options.highWaterMark) {
      this.#needDrain = false;
      this.#handlers?.onDrain();
    }
    if (this.#queueHead >= this.#queue.length) {
      this.#queue.length = 0;
      this.#queueHead = 0;
      if (this.#closing) {
        this.#finish(undefined);
        this.peer.#discardQueue();
        this.peer.#finish(undefined);
        return;
      }
    }
    this.#schedule();
  }
}

class MemoryListener implements Listener {
  readonly addresses: readonly string[];
  #open = true;

  constructor(
    readonly network: MemoryNetwork,
    readonly entry: ListenerEntry,
    readonly onClosed: (listener: MemoryListener) => void,
  ) {
    this.addresses = [`${MEMORY_PROTOCOL}://${entry.name}`];
  }

  async close(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    this.network.unregister(this.entry);
    this.onClosed(this);
  }
}

export class MemoryTransport implements Transport {
  readonly protocol = MEMORY_PROTOCOL;
  readonly sendsFirstBytesEarly: boolean;
  readonly network: MemoryNetwork;
  readonly #keyPair: KeyPair;
  readonly #options: MemoryConnection['options'];
  readonly #listeners = new Set<MemoryListener>();
  readonly #connections = new Set<MemoryConnection>();
  #closed = false;

  constructor(keyPair: KeyPair, options: MemoryTransportOptions = {}) {
    this.#keyPair = keyPair;
    this.network = options.network ?? defaultMemoryNetwork;
    this.sendsFirstBytesEarly = options.sendsFirstBytesEarly ?? false;
    const lossRate = options.lossRate ?? 0;
    if (!(lossRate >= 0 && lossRate <= 1)) throw new RangeError('lossRate must be between 0 and 1');
    this.#options = {
      latencyMs: Math.max(0, options.latencyMs ?? 0),
      lossRate,
      highWaterMark: options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK,
      random: options.random ?? Math.random,
    };
  }

  get node(): NodeId {
    return this.#keyPair.id;
  }

  async dial(address: string, expected: NodeId, options: DialOptions = {}): Promise<Connection> {
    const name = parseMemoryAddress(address);
    if (this.#closed) throw new ConnectionClosedError('transport closed');
    if (options.signal?.aborted) throw new AbortedError(options.signal.reason);
    if (this.#options.latencyMs > 0) await delay(this.#options.latencyMs, options.signal);
    else await new Promise<void>((resolve) => setImmediate(resolve));
    if (options.signal?.aborted) throw new AbortedError(options.signal.reason);
    if (this.#closed) throw new ConnectionClosedError('transport closed');
    const entry = this.network.lookup(name);
    if (entry === undefined)
      throw new ConnectionClosedError(`connection refused: nothing listens at ${address}`);
    if (entry.node !== expected) throw new PeerKeyMismatchError(expected, entry.node);
    const self = this.#keyPair.id;
    if (entry.acceptPeer !== undefined && !entry.acceptPeer(self)) {
      throw new PeerDeniedError(entry.node, 'the listener refused our key');
    }
    const outbound = new MemoryConnection(entry.node, address, 'outbound', this, this.#options);
    const inbound = new MemoryConnection(
      self,
      this.network.connectionLabel(),
      'inbound',
      entry.owner,
      entry.owner.#options,
    );
    outbound.peer = inbound;
    inbound.peer = outbound;
    if (this.sendsFirstBytesEarly && options.firstBytes !== undefined) {
      const first = options.firstBytes;
      outbound.write(typeof first === 'function' ? first() : first);
    }
    this.#connections.add(outbound);
    entry.owner.#connections.add(inbound);
    entry.onConnection(inbound);
    return outbound;
  }

  async listen(
    address: string,
    onConnection: (connection: Connection) => void,
    options: ListenOptions = {},
  ): Promise<Listener> {
    const name = parseMemoryAddress(address);
    if (this.#closed) throw new ConnectionClosedError('transport closed');
    if (options.signal?.aborted) throw new AbortedError(options.signal.reason);
    const entry = this.network.register(
      { node: this.#keyPair.id, owner: this, onConnection, acceptPeer: options.acceptPeer },
      name,
    );
    const listener = new MemoryListener(this.network, entry, (l) => this.#listeners.delete(l));
    this.#listeners.add(listener);
    return listener;
  }

  /** @internal */
  forget(connection: MemoryConnection): void {
    this.#connections.delete(connection);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#listeners].map((l) => l.close()));
    for (const connection of [...this.#connections]) {
      connection.abort(new ConnectionClosedError('transport closed'));
    }
  }
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort(): void {
      clearTimeout(timer);
      reject(new AbortedError(signal?.reason));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
