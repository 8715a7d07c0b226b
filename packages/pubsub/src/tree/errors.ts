import { NetmachineError } from '@netmachine/core';

/** Bytes that do not have the layout of a tree event. */
export class MalformedTreeEventError extends NetmachineError {
  constructor(detail: string) {
    super('ERR_MALFORMED_TREE_EVENT', `malformed tree event: ${detail}`);
  }
}
