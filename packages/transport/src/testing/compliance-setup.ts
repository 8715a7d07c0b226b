import type { ChildProcess } from 'node:child_process';
import type { KeyPair, Transport } from '@netmachine/core';
import type { ConnectionProbe, Inbox } from './compliance-tools.js';

/**
 * The transport compliance suite: every transport package runs it to prove it honours the
 * `Transport` / `Connection` / `Listener` contract the Transport engine relies on.
 *
 * ```ts
 * runTransportCompliance('tls', async () => {
 *   const a = KeyPair.generate(), b = KeyPair.generate();
 *   return {
 *     listener: { transport: tls()({ keyPair: a, logger }), keyPair: a },
 *     dialer: { transport: tls()({ keyPair: b, logger }), keyPair: b },
 *     listenAddress: 'tls://127.0.0.1:0',
 *   };
 * });
 * ```
 */
export interface ComplianceSetup {
  /** The side that listens, with the key pair its transport was made with. */
  readonly listener: { readonly transport: Transport; readonly keyPair: KeyPair };
  /** The side that dials. */
  readonly dialer: { readonly transport: Transport; readonly keyPair: KeyPair };
  /** Where the listener listens (port 0: the bound address is read from the Listener). */
  readonly listenAddress: string;
  /** Extra cleanup after both transports are closed. */
  readonly cleanup?: () => Promise<void>;
}

export interface ComplianceOptions {
  /** Timeout of each case in ms (default 60 s). */
  timeoutMs?: number;
  /** Size of the large-frame case (default 8 MiB). */
  largeBytes?: number;
  /** Messages in the many-writes case (default 10,000). */
  messages?: number;
  /**
   * The transport's addresses are `scheme://host:port` URLs (TLS, QUIC): adds the address cases and
   * the IPv6 loopback case (skipped where the machine has no IPv6).
   */
  hostPort?: boolean;
  /** How to run a listener of this transport in another process: adds the cross-process cases. */
  listenerProcess?: ListenerProcessSpec;
}

/**
 * A listener of the transport under test in a child process (see compliance-listener.ts). The child
 * imports `module`, calls `factory(options)` and listens on the setup's `listenAddress`.
 */
export interface ListenerProcessSpec {
  /** URL of the module exporting the factory, e.g. `new URL('../src/index.ts', import.meta.url).href`. */
  readonly module: string;
  /** The factory's export name, e.g. `'tls'`. */
  readonly factory: string;
  /** Options for the factory in the child (JSON). */
  readonly options?: Record<string, unknown>;
  /**
   * Makes the dialer for these cases (default: the setup's). A transport that notices a dead peer
   * only by its silence (QUIC) passes one with a short idle timeout here.
   */
  readonly dialer?: () => { readonly transport: Transport; readonly keyPair: KeyPair };
}

/** A listening setup with one connection dialled: the starting point of most cases. */
export interface ConnectedPair {
  readonly s: ComplianceSetup;
  readonly address: string;
  readonly inbox: Inbox;
  readonly client: ConnectionProbe;
  readonly server: ConnectionProbe;
}

/** What each group of cases gets from the suite: setups it cleans up after every case, and the timeout. */
export interface ComplianceSuite {
  /** Timeout of each case in ms. */
  readonly timeout: number;
  /** Makes a setup, closed after the case. */
  setUp(): Promise<ComplianceSetup>;
  /** Makes a setup, listens, dials once. */
  connected(): Promise<ConnectedPair>;
  /** A transport made for one case, closed after it. */
  track(transport: Transport): void;
  /** The case's child process, killed after it if still running. */
  trackChild(child: ChildProcess): void;
}
