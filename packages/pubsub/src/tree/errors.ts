import { NetmachineError } from '@netmachine/core';

/** Bytes that do not have the layout of a tree event. */
export class MalformedTreeEventError extends NetmachineError {
  constructor(detail: string) {
    super('ERR_MALFORMED_TREE_EVENT', `malformed tree event: ${detail}`);
  }
}

export class UnknownDomainTopicError extends NetmachineError {
  constructor(readonly topic: string) {
    super('ERR_UNKNOWN_DOMAIN_TOPIC', `no advert for domain topic ${topic}`);
  }
}

export class NotTopicPublisherError extends NetmachineError {
  constructor(readonly topic: string) {
    super('ERR_NOT_TOPIC_PUBLISHER', `this node is not an authorized publisher of topic ${topic}`);
  }
}

/** A lent batch (`subscribeBatches(…, { lend: true })`) read after its listener returned: its memory is reused. */
export class LentBatchEndedError extends NetmachineError {
  constructor(readonly topic: string) {
    super(
      'ERR_LENT_BATCH_ENDED',
      `a lent batch of topic ${topic} was read after its listener returned: copy what must outlive the call`,
    );
  }
}
