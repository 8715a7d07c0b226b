import {
  type AdvertisedAddress,
  type Connection,
  ConnectionClosedError,
  type Logger,
  type NodeAdvert,
  type NodeId,
  type NodeRecordView,
  type Transport,
} from '@netmachine/core';
import { addressProtocol, orderAddresses } from './address-order.js';
import { NoAddressError } from './errors.js';

export interface DialNodeOptions<S> {
  readonly node: NodeId;
  readonly record: NodeRecordView | undefined;
  readonly messagePrefs: readonly string[] | undefined;
  readonly transports: ReadonlyMap<string, Transport>;
  readonly defaultOrder: readonly string[];
  /** Bound on each transport-level dial (the handshake has its own timeout). */
  readonly dialTimeoutMs: number;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /**
   * The first bytes of every attempt (the ConnectRequest, and messages sent with it), for transports
   * that send them early; called by the transport just before it sends them.
   */
  readonly firstBytes?: () => Uint8Array;
  /**
   * Called on the turn of the event loop after an attempt with a transport that sends first bytes
   * early has begun (its dial called), to make those bytes while the transport's handshake runs.
   */
  readonly prepareFirstBytes?: () => void;
  /** An attempt failed (the next address, if any, is tried after this). */
  readonly attemptFailed?: (error: Error) => void;
  /**
   * Turns an authenticated connection into an open session (runs the handshake). `firstBytesSent`:
   * the transport already sent `firstBytes`.
   */
  readonly open: (connection: Connection, firstBytesSent: boolean) => Promise<S>;
}

/** The last order worked out for an advert, with what it was worked out from. */
interface OrderedAddresses {
  readonly messagePrefs: readonly string[] | undefined;
  readonly nodePrefs: readonly string[] | undefined;
  readonly defaultOrder: readonly string[];
  readonly transports: ReadonlyMap<string, Transport>;
  readonly available: number;
  readonly addresses: readonly AdvertisedAddress[];
}

const ordered = new WeakMap<NodeAdvert, OrderedAddresses>();

const sameList = (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]));

/**
 * `orderAddresses` for a dial, remembered per advert: a node dialed again and again (short
 * connections) costs a lookup instead of sorting its addresses before every TCP connect.
 */
function addressesToTry<S>(
  advert: NodeAdvert | undefined,
  options: DialNodeOptions<S>,
): readonly AdvertisedAddress[] {
  if (advert === undefined) return [];
  const nodePrefs = options.record?.transportPrefs;
  const last = ordered.get(advert);
  if (
    last !== undefined &&
    last.transports === options.transports &&
    last.available === options.transports.size &&
    sameList(last.messagePrefs, options.messagePrefs) &&
    sameList(last.nodePrefs, nodePrefs) &&
    sameList(last.defaultOrder, options.defaultOrder)
  ) {
    return last.addresses;
  }
  const addresses = orderAddresses(advert, {
    messagePrefs: options.messagePrefs,
    nodePrefs,
    defaultOrder: options.defaultOrder,
    available: new Set(options.transports.keys()),
  });
  ordered.set(advert, {
    messagePrefs: options.messagePrefs,
    nodePrefs,
    defaultOrder: options.defaultOrder,
    transports: options.transports,
    available: options.transports.size,
    addresses,
  });
  return addresses;
}

/**
 * Tries the node's advertised addresses, best first, until one connects and its handshake
 * completes. Rejects with the last attempt's error, or NoAddressError when there is nothing to try.
 */
export async function dialNode<S>(options: DialNodeOptions<S>): Promise<S> {
  const { node, record, signal } = options;
  const addresses = addressesToTry(record?.advert, options);
  if (addresses.length === 0) {
    throw new NoAddressError(node, record?.advert === undefined ? 'no advert' : 'no supported transport');
  }
  // Made only if needed: an error's stack trace costs tens of µs on every dial.
  let lastError: Error | undefined;
  for (const { url } of addresses) {
    const transport = options.transports.get(addressProtocol(url)!)!;
    // One controller per attempt, aborted by the caller's signal or the timeout (AbortSignal.any and
    // AbortSignal.timeout cost tens of µs per connect, and the timeout's timer outlived the dial).
    const attempt = new AbortController();
    const onAbort = (): void => attempt.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(
      () => attempt.abort(new DOMException('the dial timed out', 'TimeoutError')),
      options.dialTimeoutMs,
    );
    timer.unref();
    try {
      if (signal.aborted) attempt.abort(signal.reason);
      const dialSignal = attempt.signal;
      const early = transport.sendsFirstBytesEarly === true && options.firstBytes !== undefined;
      const dialing = transport.dial(
        url,
        node,
        early ? { signal: dialSignal, firstBytes: options.firstBytes } : { signal: dialSignal },
      );
      // On the next turn of the event loop: a socket transport's first packets (its SYN, then its
      // TLS ClientHello once TCP is up) leave before this work, not after it.
      const prepare = options.prepareFirstBytes;
      if (early && prepare !== undefined) setImmediate(prepare);
      const connection = await dialing;
      if (signal.aborted) {
        connection.abort(new ConnectionClosedError('dial cancelled'));
        throw new ConnectionClosedError('dial cancelled');
      }
      return await options.open(connection, early);
    } catch (error) {
      lastError = error as Error;
      options.attemptFailed?.(lastError);
      options.logger.debug({ peer: node, url, err: error }, 'dial attempt failed');
      if (signal.aborted) throw lastError;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }
  throw lastError ?? new NoAddressError(node, 'no address tried');
}
