import { NetmachineError, StaleAdvertError } from './errors.js';

/**
 * An advert older than the caller accepts (`VerifyOptions.maxAgeMs`): a copy kept around too long.
 * Declared here, beside the other freshness rules, rather than in errors.ts.
 */
export class AdvertExpiredError extends NetmachineError {
  constructor(
    readonly kind: string,
    readonly created: number,
    readonly maxAgeMs: number,
  ) {
    super(
      'ERR_ADVERT_EXPIRED',
      `${kind} advert created at ${new Date(created).toISOString()} is older than ${maxAgeMs} ms`,
    );
  }
}

/** Anything that carries an advert version (every advert kind does). */
export interface Versioned {
  readonly version: number;
}

/** A stored copy, its version alone (as a handshake reports it; 0 = none), or nothing. */
export type KnownVersion = Versioned | number | undefined;

function knownVersion(known: KnownVersion): number | undefined {
  return typeof known === 'number' ? known : known?.version;
}

/** True when `offered` should replace `known`: nothing is known, or its version is strictly higher. */
export function isNewerAdvert(offered: Versioned, known: KnownVersion): boolean {
  const version = knownVersion(known);
  return version === undefined || offered.version > version;
}

/**
 * Returns `offered` when it is strictly newer than the stored copy, else throws StaleAdvertError.
 * An equal version is refused too: it is either a replay of the same advert or a second advert
 * under a version already used, and neither may replace what is stored.
 */
export function assertNewerAdvert<T extends Versioned>(kind: string, offered: T, known: KnownVersion): T {
  const version = knownVersion(known);
  if (version !== undefined && !(offered.version > version)) {
    throw new StaleAdvertError(kind, offered.version, version);
  }
  return offered;
}
