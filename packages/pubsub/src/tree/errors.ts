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
