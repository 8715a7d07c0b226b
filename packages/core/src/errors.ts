/**
 * Typed errors: one class per condition, each with a stable `name` and `code`.
 * Packages add their own classes by extending `NetmachineError`.
 */
export class NetmachineError extends Error {
  /** Stable, machine-readable code (e.g. `ERR_FRAME_TOO_LARGE`). */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

// --- input and encoding -------------------------------------------------

/** A frame's length prefix announces more than the configured maximum; nothing was allocated for it. */
export class FrameTooLargeError extends NetmachineError {
  constructor(
    readonly size: number,
    readonly max: number,
  ) {
    super('ERR_FRAME_TOO_LARGE', `frame of ${size} bytes exceeds the maximum of ${max}`);
  }
}

/** Bytes that are not a well-formed frame or msgpack value. */
export class MalformedFrameError extends NetmachineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_MALFORMED_FRAME', message, options);
  }
}

/** A decoded value does not have the shape its schema requires. `path` names the offending field. */
export class SchemaError extends NetmachineError {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super('ERR_SCHEMA', `${path}: ${problem}`);
  }
}

/** A text or byte form of an identity that does not parse. */
export class InvalidIdentityError extends NetmachineError {
  constructor(message: string) {
    super('ERR_INVALID_IDENTITY', message);
  }
}

// --- keys and signatures ------------------------------------------------

/** A signature that does not verify against the claimed key. */
export class InvalidSignatureError extends NetmachineError {
  constructor(what: string) {
    super('ERR_INVALID_SIGNATURE', `invalid signature on ${what}`);
  }
}

/** A key file that other users can read (or write); it is refused. */
export class InsecureKeyFileError extends NetmachineError {
  constructor(
    readonly path: string,
    readonly mode: number,
  ) {
    super(
      'ERR_INSECURE_KEY_FILE',
      `key file ${path} has mode ${mode.toString(8)}; it must not be accessible to group or others (chmod 600)`,
    );
  }
}

/** A key file that is not a PKCS#8 Ed25519 private key. */
export class InvalidKeyFileError extends NetmachineError {
  constructor(path: string, problem: string) {
    super('ERR_INVALID_KEY_FILE', `key file ${path}: ${problem}`);
  }
}

// --- adverts ------------------------------------------------------------

/** An advert whose version is not newer than the one already known (a replay or an old copy). */
export class StaleAdvertError extends NetmachineError {
  constructor(
    readonly kind: string,
    readonly version: number,
    readonly known: number,
  ) {
    super('ERR_STALE_ADVERT', `${kind} advert version ${version} is not newer than known version ${known}`);
  }
}

/** An advert dated too far in the future to be believed. */
export class AdvertFromFutureError extends NetmachineError {
  constructor(kind: string, created: number) {
    super(
      'ERR_ADVERT_FROM_FUTURE',
      `${kind} advert created at ${new Date(created).toISOString()} is in the future`,
    );
  }
}

// --- messaging ----------------------------------------------------------

/** No route exists for a destination: no local engine, no known node, no topic. */
export class UnknownDestinationError extends NetmachineError {
  constructor(readonly destination: string) {
    super('ERR_UNKNOWN_DESTINATION', `no route to ${destination}`);
  }
}

/** A message whose expiry has passed before it could be delivered. */
export class MessageExpiredError extends NetmachineError {
  constructor(readonly destination: string) {
    super('ERR_MESSAGE_EXPIRED', `message to ${destination} expired before delivery`);
  }
}

/** A request that got no reply within its timeout. */
export class RequestTimeoutError extends NetmachineError {
  constructor(
    readonly destination: string,
    readonly timeoutMs: number,
  ) {
    super('ERR_REQUEST_TIMEOUT', `request to ${destination} got no reply within ${timeoutMs} ms`);
  }
}

/** An operation cancelled through its AbortSignal. */
export class AbortedError extends NetmachineError {
  constructor(reason?: unknown) {
    super('ERR_ABORTED', 'operation aborted', { cause: reason });
  }
}

/** An engine's mailbox is full and its policy is `reject`. */
export class MailboxFullError extends NetmachineError {
  constructor(
    readonly engine: string,
    readonly capacity: number,
  ) {
    super('ERR_MAILBOX_FULL', `mailbox of engine ${engine} is full (${capacity} messages)`);
  }
}

/** A bounded queue (other than a mailbox) is full and its policy is `reject`. */
export class QueueFullError extends NetmachineError {
  constructor(
    readonly queue: string,
    readonly capacity: number,
  ) {
    super('ERR_QUEUE_FULL', `queue ${queue} is full (${capacity} entries)`);
  }
}

/** Someone other than a topic's authorized publisher tried to publish to it. */
export class UnauthorizedPublisherError extends NetmachineError {
  constructor(
    readonly topic: string,
    readonly publisher: string,
  ) {
    super('ERR_UNAUTHORIZED_PUBLISHER', `${publisher} is not the authorized publisher of topic ${topic}`);
  }
}

/** A name already taken (an engine name on a node, a topic already created). */
export class AlreadyExistsError extends NetmachineError {
  constructor(what: string) {
    super('ERR_ALREADY_EXISTS', `${what} already exists`);
  }
}

/** An operation on a component that is not running. */
export class NotStartedError extends NetmachineError {
  constructor(what: string) {
    super('ERR_NOT_STARTED', `${what} is not started`);
  }
}

// --- connections --------------------------------------------------------

/** The connection closed (or was never usable) while something still needed it. */
export class ConnectionClosedError extends NetmachineError {
  constructor(message = 'connection closed', options?: { cause?: unknown }) {
    super('ERR_CONNECTION_CLOSED', message, options);
  }
}

/** The peer presented a key other than the one we expected for it. */
export class PeerKeyMismatchError extends NetmachineError {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super('ERR_PEER_KEY_MISMATCH', `peer presented key ${actual}, expected ${expected}`);
  }
}

/** The peer is refused: banned (trust 0), unknown where known peers are required, or not allowed. */
export class PeerDeniedError extends NetmachineError {
  constructor(
    readonly peer: string,
    reason: string,
  ) {
    super('ERR_PEER_DENIED', `peer ${peer} denied: ${reason}`);
  }
}

/** The peers share no protocol version. */
export class IncompatibleProtocolError extends NetmachineError {
  constructor(ours: readonly [number, number], theirs: readonly [number, number]) {
    super(
      'ERR_INCOMPATIBLE_PROTOCOL',
      `no common protocol version: ours ${ours[0]}..${ours[1]}, theirs ${theirs[0]}..${theirs[1]}`,
    );
  }
}

/** The peer is over its connection capacity; try later. */
export class OverCapacityError extends NetmachineError {
  constructor(peer: string) {
    super('ERR_OVER_CAPACITY', `peer ${peer} is over capacity`);
  }
}

/** The handshake did not complete in time or broke the protocol. */
export class HandshakeError extends NetmachineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_HANDSHAKE', message, options);
  }
}

/** An address URL we cannot use (bad syntax or no transport for its scheme). */
export class InvalidAddressError extends NetmachineError {
  constructor(
    readonly address: string,
    problem: string,
  ) {
    super('ERR_INVALID_ADDRESS', `address ${address}: ${problem}`);
  }
}
