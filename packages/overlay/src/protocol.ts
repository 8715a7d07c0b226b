// The protocol kit: the contract every sans-IO protocol machine follows, and that both drivers
// (the runner on a real node, and the simulator) implement the other side of.
//
// A machine is a plain object that owns its protocol state and nothing else: no sockets, no clocks,
// no Math.random. A driver hands it one input at a time together with the current time (milliseconds,
// the driver's clock: wall time on a node, virtual time in the simulator) and a sink for its outputs.
// The machine pushes outputs into the sink synchronously while it handles the input; the driver carries
// them out after `handle` returns, in the order they were pushed. Randomness comes from the `Rng` the
// driver gives the machine when it is created, so one seed reproduces a whole run.
//
// This file is types only.

/**
 * A peer, as the machine sees it: an opaque string that the driver knows how to reach.
 * On a real node it is the peer node's id in canonical text form; in the simulator it is the node's name.
 * Machines compare peers with `===` and may carry them in messages.
 */
export type PeerId = string;

/** Milliseconds on the driver's clock (wall time on a node, virtual time in the simulator). */
export type Millis = number;

/** A deterministic source of randomness, seeded by the driver. */
export interface Rng {
  /** A uniformly distributed unsigned 32-bit integer. */
  nextU32(): number;
  /** A uniformly distributed number in [0, 1). */
  next(): number;
  /** A uniformly distributed integer in [0, n); n must be a positive integer ≤ 2^32. */
  int(n: number): number;
}

/** One input to a machine. `M` is its message type, `C` its command type, `T` its timer type. */
export type MachineInput<M, C, T> =
  /** A message from a peer. The driver has decoded and validated it (see `MessageDecoder`). */
  | { readonly type: 'message'; readonly from: PeerId; readonly message: M }
  /** A timer the machine set with `setTimer` has fired. Timers are one-shot and cannot be cancelled:
   *  a machine that no longer wants a timer ignores it when it fires. */
  | { readonly type: 'timer'; readonly timer: T }
  /** A connection to the peer is up (whichever side opened it). */
  | { readonly type: 'peerUp'; readonly peer: PeerId }
  /** The connection to the peer closed or could not be opened; the machine should presume the peer
   *  unreachable. A driver reports this for peers the machine asked to connect to, and for peers it sent
   *  to whose connection then failed. It is not reported for a `disconnect` the machine asked for itself. */
  | { readonly type: 'peerDown'; readonly peer: PeerId }
  /** A command from the application (join, leave, broadcast, ...). */
  | { readonly type: 'command'; readonly command: C };

/**
 * Where a machine pushes its outputs while it handles an input. Every method returns at once; the driver
 * acts on the output after `handle` returns.
 */
export interface MachineOutput<M, T, E> {
  /** Send a message to a peer. The driver opens a connection if there is none; a message to a peer that
   *  cannot be reached is lost (and, for a connection the machine asked for, `peerDown` follows). */
  send(to: PeerId, message: M): void;
  /** Keep a connection to the peer open: the driver answers with `peerUp`, or `peerDown` if it fails. */
  connect(peer: PeerId): void;
  /** The machine no longer needs a connection to the peer; messages already sent are still delivered. */
  disconnect(peer: PeerId): void;
  /** Fire `{ type: 'timer', timer }` after `after` milliseconds (one-shot). `timer` must be plain data. */
  setTimer(timer: T, after: Millis): void;
  /** Tell the application something happened (e.g. a peer joined the active view). */
  emit(event: E): void;
}

/**
 * A sans-IO protocol machine. `M` messages, `C` commands, `T` timers, `E` events.
 * `handle` must not throw on any input a driver can produce: malformed messages never reach it, since the
 * driver decodes with the protocol's strict `MessageDecoder` first.
 */
export interface Machine<M, C, T, E> {
  /** This machine's own peer id. */
  readonly self: PeerId;
  handle(input: MachineInput<M, C, T>, now: Millis, out: MachineOutput<M, T, E>): void;
}

/**
 * Reads a message from the wire: takes any value (the decoded msgpack body) and returns a well-formed
 * message, or throws the protocol's typed decode error. Drivers count and drop what fails; never a crash.
 */
export type MessageDecoder<M> = (value: unknown) => M;

/**
 * Everything a driver needs to run a protocol: its name on the wire, its decoder, and a factory that
 * makes one machine per node from the node's peer id, the current time and a seeded RNG.
 */
export interface ProtocolDefinition<M, C, T, E> {
  /** The protocol's name and version on the wire, e.g. `hyparview/1`. */
  readonly protocol: string;
  readonly decode: MessageDecoder<M>;
  create(self: PeerId, rng: Rng, now: Millis): Machine<M, C, T, E>;
}
