import {
  AbortedError,
  AlreadyExistsError,
  ConnectionClosedError,
  FrameTooLargeError,
  MailboxFullError,
  NetmachineError,
  QueueFullError,
  RequestTimeoutError,
  SchemaError,
  UnauthorizedPublisherError,
  UnknownDestinationError,
} from '@netmachine/core';

/** Why the bridge refused an attach. */
export type AttachRefusal =
  | 'untrusted-key'
  | 'bad-signature'
  | 'stale'
  | 'replayed'
  | 'name-taken'
  | 'over-capacity'
  | 'malformed';

/** The node refused to let this process speak for an engine name. */
export class AttachRefusedError extends NetmachineError {
  constructor(
    readonly engine: string,
    readonly reason: AttachRefusal | string,
    detail = '',
  ) {
    super(
      'ERR_ATTACH_REFUSED',
      `attach of engine ${engine} refused: ${reason}${detail ? ` (${detail})` : ''}`,
    );
  }
}

/** An operation of an attached engine while it is not attached (never was, refused, or stopped). */
export class NotAttachedError extends NetmachineError {
  constructor(readonly engine: string) {
    super('ERR_NOT_ATTACHED', `engine ${engine} is not attached to its node`);
  }
}

/** A file named in the `nats` config (nkey seed, credentials) cannot be read. */
export class ConfigFileError extends NetmachineError {
  constructor(
    readonly field: string,
    readonly file: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_NATS_CONFIG_FILE', `${field}: cannot read ${file}`, options);
  }
}

/** An error the bridge reported with a code this side has no class for. */
export class BridgeError extends NetmachineError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

/** A bridge reply or delivery whose error is sent as `[code, message]` comes back as the same class. */
export function errorToWire(error: unknown): [string, string] {
  if (error instanceof NetmachineError) return [error.code, error.message];
  return ['ERR_INTERNAL', error instanceof Error ? error.message : String(error)];
}

/**
 * Rebuilds a typed error from its wire form. The classes' constructors take the condition's
 * fields rather than a message, so the message is carried over after construction.
 */
export function errorFromWire(code: string, message: string, destination: string): Error {
  let error: NetmachineError;
  switch (code) {
    case 'ERR_UNKNOWN_DESTINATION':
      error = new UnknownDestinationError(destination);
      break;
    case 'ERR_REQUEST_TIMEOUT':
      error = new RequestTimeoutError(destination, 0);
      break;
    case 'ERR_MAILBOX_FULL':
      error = new MailboxFullError(destination, 0);
      break;
    case 'ERR_QUEUE_FULL':
      error = new QueueFullError('bridge requests', 0);
      break;
    case 'ERR_ABORTED':
      error = new AbortedError(message);
      break;
    case 'ERR_UNAUTHORIZED_PUBLISHER':
      error = new UnauthorizedPublisherError(destination, '');
      break;
    case 'ERR_ALREADY_EXISTS':
      error = new AlreadyExistsError(destination);
      break;
    case 'ERR_NOT_ATTACHED':
      error = new NotAttachedError(destination);
      break;
    case 'ERR_SCHEMA':
      error = new SchemaError('request', message);
      break;
    case 'ERR_FRAME_TOO_LARGE':
      error = new FrameTooLargeError(0, 0);
      break;
    case 'ERR_CONNECTION_CLOSED':
      error = new ConnectionClosedError(message);
      break;
    default:
      error = new BridgeError(code, message);
  }
  error.message = message;
  return error;
}

/** An operation an engine in another process cannot do (e.g. spawning engines on the node). */
export class UnsupportedOperationError extends NetmachineError {
  constructor(operation: string) {
    super('ERR_UNSUPPORTED', `${operation} is not supported by an engine attached through NATS`);
  }
}

/** Maps a NATS client request failure to the typed error of the condition. */
export function natsRequestError(error: unknown, where: string, timeoutMs: number, name: string): Error {
  const kind = error instanceof Error ? error.name : '';
  if (error instanceof AbortedError) return error;
  if (kind === 'TimeoutError') return new RequestTimeoutError(where, timeoutMs);
  // Nobody listens on the node's subject: its bridge is not running.
  if (kind === 'NoRespondersError') return new NotAttachedError(name);
  return new ConnectionClosedError('NATS request failed', { cause: error });
}

/** Rejects with AbortedError when `signal` fires first. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortedError(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
