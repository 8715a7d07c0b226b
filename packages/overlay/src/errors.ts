import { NetmachineError } from '@netmachine/core';

/**
 * A protocol message from the wire that does not have the shape its protocol requires. `path` names the
 * offending field. Drivers count it and drop the message; the machine never sees it.
 */
export class ProtocolDecodeError extends NetmachineError {
  constructor(
    readonly protocol: string,
    readonly path: string,
    readonly problem: string,
  ) {
    super('ERR_PROTOCOL_DECODE', `${protocol}: ${path}: ${problem}`);
  }
}
