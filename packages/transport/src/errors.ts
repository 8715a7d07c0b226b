import { NetmachineError } from '@netmachine/core';

/**
 * A message claims a source node other than the authenticated peer that sent it, without a valid
 * signature of that source. The message is dropped and the peer disconnected.
 */
export class SourceMismatchError extends NetmachineError {
  constructor(
    readonly peer: string,
    readonly claimed: string,
  ) {
    super(
      'ERR_SOURCE_MISMATCH',
      `peer ${peer} sent a message claiming source node ${claimed} without its signature`,
    );
  }
}

/** A node we know no usable address for (no advert, or no address with a transport we run). */
export class NoAddressError extends NetmachineError {
  constructor(
    readonly node: string,
    problem: string,
  ) {
    super('ERR_NO_ADDRESS', `no usable address for node ${node}: ${problem}`);
  }
}

/** The peer broke the link protocol after the handshake (an unexpected frame, a bad advert). */
export class ProtocolViolationError extends NetmachineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PROTOCOL_VIOLATION', message, options);
  }
}
