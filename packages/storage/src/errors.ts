import { NetmachineError } from '@netmachine/core';

/** The storage engine's errors: one class per condition, each with a stable `name` and `code`. */

/** A store is full: storing `needed` more bytes would pass its quota. */
export class QuotaExceededError extends NetmachineError {
  constructor(
    readonly needed: number,
    readonly used: number,
    readonly quota: number,
  ) {
    super('ERR_QUOTA_EXCEEDED', `storing ${needed} bytes would exceed the quota (${used} of ${quota} used)`);
  }
}

/** A chunk whose bytes no longer hash to its id (damaged on disk, or a wrong chunk from a peer). */
export class CorruptChunkError extends NetmachineError {
  constructor(
    readonly chunk: string,
    readonly source: string,
  ) {
    super('ERR_CORRUPT_CHUNK', `chunk ${chunk} from ${source} does not match its id`);
  }
}

/** A chunk that neither the local store nor any asked peer holds. */
export class ChunkNotFoundError extends NetmachineError {
  constructor(readonly chunk: string) {
    super('ERR_CHUNK_NOT_FOUND', `chunk ${chunk} not found`);
  }
}

/** The text or byte form of an object reference that does not parse. */
export class InvalidReferenceError extends NetmachineError {
  constructor(problem: string) {
    super('ERR_INVALID_REFERENCE', `invalid object reference: ${problem}`);
  }
}
