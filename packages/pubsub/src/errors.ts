import { NetmachineError } from '@netmachine/core';

/** Only the holder of a topic's key (its creator) may delete or re-advertise it. */
export class NotTopicOwnerError extends NetmachineError {
  constructor(readonly topic: string) {
    super('ERR_NOT_TOPIC_OWNER', `this node does not hold the key of topic ${topic}`);
  }
}

/** The publisher node refused a subscription (unknown topic, not its publisher, over capacity). */
export class SubscriptionDeniedError extends NetmachineError {
  constructor(
    readonly topic: string,
    readonly reason: string,
  ) {
    super('ERR_SUBSCRIPTION_DENIED', `subscription to topic ${topic} denied: ${reason}`);
  }
}

/** An operation that needs local subscribers of a topic when there are none. */
export class NotSubscribedError extends NetmachineError {
  constructor(readonly topic: string) {
    super('ERR_NOT_SUBSCRIBED', `no local engine subscribes to topic ${topic}`);
  }
}
