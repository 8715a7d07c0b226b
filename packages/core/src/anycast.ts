import { NetmachineError } from './errors.js';
import type { DomainId, NodeId } from './identity.js';

/**
 * An anycast destination: any one member of `domain` that runs the engine `name`. The Router asks
 * the DomainDirectory for candidate members and sends to one; a request fails over to the next.
 */
export interface AnycastAddress {
  readonly domain: DomainId;
  readonly name: string;
}

export function isAnycastAddress(dst: unknown): dst is AnycastAddress {
  return (
    typeof dst === 'object' &&
    dst !== null &&
    typeof (dst as AnycastAddress).domain === 'string' &&
    typeof (dst as AnycastAddress).name === 'string'
  );
}

/**
 * Resolves anycast destinations to member nodes (implemented by the domain service). Lookups are
 * synchronous, from memory: they sit on the send path.
 */
export interface DomainDirectory {
  /**
   * Members of `dst.domain` believed to run `dst.name`, best first: connected members before others,
   * lower round-trip time first, members that failed recently last. May include this node.
   */
  candidates(dst: AnycastAddress): readonly NodeId[];
  /** A member did not serve an anycast message (unreachable, timed out, refused). */
  reportFailure(dst: AnycastAddress, node: NodeId, error: Error): void;
}

/** No member of the domain served an anycast message before it expired. */
export class AnycastFailedError extends NetmachineError {
  constructor(
    readonly destination: string,
    readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    super(
      'ERR_ANYCAST_FAILED',
      attempts === 0
        ? `no known member serves ${destination}`
        : `no member served ${destination} (${attempts} tried)`,
      options,
    );
  }
}

export function formatAnycastAddress(dst: AnycastAddress): string {
  return `${dst.name}@domain:${dst.domain}`;
}
