import type { KeyPair, Logger, NodeAdvert, NodeDirectory, TransportFactory } from '@netmachine/core';
import type { BackoffOptions } from './backoff.js';
import type { TransportLimits } from './limits.js';

export interface TransportEngineOptions {
  keyPair: KeyPair;
  directory: NodeDirectory;
  transports: readonly TransportFactory[];
  /** Addresses to listen on (port 0 allowed: see `listenAddresses`). */
  listen?: readonly string[];
  logger?: Logger;
  /** Sign every message we send and verify every message we receive. */
  strict?: boolean;
  /**
   * Strict mode: worker threads that verify received signatures, so verification is not bound by
   * the event loop's one core (default: the machine's available parallelism, at most 4; 0, or a
   * single-core machine, verifies on the event loop). Messages are still delivered in order.
   */
  verifyThreads?: number;
  /** Our own advert, sent to peers holding an older one (default: the directory's record of us). */
  localAdvert?: () => NodeAdvert | undefined;
  /** Protocols in order of preference when neither message nor node record says (default: transport order). */
  transportOrder?: readonly string[];
  /** Accept callers the directory does not know (default true; trust 0 is always refused). */
  allowUnknownPeers?: boolean;
  limits?: Partial<TransportLimits>;
  backoff?: BackoffOptions;
}

export interface ConnectOptions {
  /** Keep the connection up, re-establishing it after every loss. */
  permanent?: boolean;
  signal?: AbortSignal;
}
