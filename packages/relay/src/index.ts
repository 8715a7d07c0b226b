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
  type OpenerOptions,
  RelayOpener,
  RelaySealer,
  SEALED_HEADER_BYTES,
  SEALED_OVERHEAD,
  type SealerOptions,
} from './sealing.js';
export { TokenBucket } from './token-bucket.js';
