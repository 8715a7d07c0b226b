export {
  MalformedRelayMessageError,
  NoRelayPathError,
  RelayDecryptError,
  RelayDestinationNotServedError,
  RelayEnvelopeMismatchError,
  RelayMessageExpiredError,
  RelayOverCapacityError,
  RelayRateLimitedError,
  RelayRefusedError,
  RelayReplayError,
  RelaySessionRateError,
  RelaySessionSignatureError,
  RelaySourceNotAllowedError,
} from './errors.js';
export { isBucketSize, PADDING_BUCKETS, paddedSize } from './padding.js';
export {
  admits,
  DEFAULT_PER_SOURCE,
  DEFAULT_TOTAL,
  type RateLimit,
  type RelayOffer,
  type RelayPolicy,
} from './policy.js';
export {
  parseRelayAddress,
  RELAY_ENGINE,
  RELAY_PROTOCOL,
  type RefusalCode,
  relayAddress,
} from './protocol.js';
export { type OpenerOptions, RelayOpener } from './relay-opener.js';
export { RelaySealer, type SealerOptions } from './relay-sealer.js';
export { recordBounds, SEALED_HEADER_BYTES, SEALED_OVERHEAD } from './sealed-format.js';
export { relay } from './service.js';
export type {
  RelayContext,
  RelayCounters,
  RelayOptions,
  RelayPathView,
  RelayService,
  RelayTapEvent,
} from './service-types.js';
export { TokenBucket } from './token-bucket.js';
