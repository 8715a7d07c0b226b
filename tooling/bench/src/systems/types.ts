/**
 * What a benchmarked system must offer inside a worker process. The roles (sender, receiver, echo, …)
 * are written once against this interface, so every system runs exactly the same measuring code and
 * differs only in how it moves bytes.
 */

/** Settings that select a system's variant and what the parent set up for the run (e.g. a broker URL). */
export interface SystemConfig {
  /** Set up by the parent for this run, e.g. `{ url }` of the nats-server. */
  readonly shared?: unknown;
  /** netmachine: the transport to use (`tls`, `quic`). */
  readonly transport?: string;
  /** netmachine: sign and verify every message. */
  readonly strict?: boolean;
  /** netmachine: reach the other node only through this relay (its advert text). */
  readonly relayAdvert?: string;
  /** raw-tls: reach the target only through the TLS forwarder at this port (relayed scenarios). */
  readonly via?: { readonly port: number };
  /** raw-tls-sealed: the key (hex) both ends seal every message under. */
  readonly sealKey?: string;
  /** netmachine fan-out: a domain topic carried over a broadcast tree (domains + DomainPubSub). */
  readonly tree?: boolean;
}

/** A listening side. `info` is passed (through the parent) to whoever connects to it. */
export interface Endpoint {
  readonly info: unknown;
  close(): Promise<void>;
}

/** One connection from the sending side. */
export interface Link {
  /** Sends one message; false asks the caller to wait for `drained()` before sending more. */
  send(payload: Uint8Array): boolean;
  drained(): Promise<void>;
  /** The system's own request/reply, when it has one; otherwise the role sends and awaits the echo. */
  request?(payload: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}

export interface ListenOptions {
  onMessage(payload: Uint8Array): void;
  /** Send every received message back to its sender. */
  echo?: boolean;
}

export interface ConnectOptions {
  /** The `info` of the endpoint to reach. */
  readonly target: unknown;
  /** Receives the messages the far side sends back (echoes). */
  onMessage?(payload: Uint8Array): void;
}

export interface SystemAdapter {
  listen(options: ListenOptions): Promise<Endpoint>;
  connect(options: ConnectOptions): Promise<Link>;
  /** Fan-out: a subscriber of the benchmark topic. */
  subscribe?(options: ListenOptions): Promise<Endpoint>;
  /** Fan-out: a publisher reaching every subscriber (given their `info`). */
  publisher?(targets: readonly unknown[]): Promise<Link>;
  /** Releases process-wide resources (a dialing node, a client). */
  shutdown?(): Promise<void>;
}

export type SystemFactory = (config: SystemConfig) => Promise<SystemAdapter>;
