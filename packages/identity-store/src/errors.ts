import { NetmachineError } from '@netmachine/core';

/** The store holds its configured maximum of records of one kind; a new identity is refused. */
export class DirectoryFullError extends NetmachineError {
  constructor(
    readonly kind: string,
    readonly limit: number,
  ) {
    super('ERR_DIRECTORY_FULL', `identity store holds its maximum of ${limit} ${kind} records`);
  }
}
