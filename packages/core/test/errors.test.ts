import { describe, expect, it } from 'vitest';
import * as core from '../src/index.js';
import {
  AbortedError,
  AdvertExpiredError,
  AdvertFromFutureError,
  AlreadyExistsError,
  ConnectionClosedError,
  FrameTooLargeError,
  HandshakeError,
  IncompatibleProtocolError,
  InsecureKeyFileError,
  InvalidAddressError,
  InvalidIdentityError,
  InvalidKeyFileError,
  InvalidSignatureError,
  MailboxFullError,
  MalformedFrameError,
  MessageExpiredError,
  NetmachineError,
  NotStartedError,
  OverCapacityError,
  PeerDeniedError,
  PeerKeyMismatchError,
  QueueFullError,
  RequestTimeoutError,
  SchemaError,
  StaleAdvertError,
  UnauthorizedPublisherError,
  UnknownDestinationError,
} from '../src/index.js';

type AnyErrorClass = new (...args: unknown[]) => NetmachineError;

/** Every exported class derived from NetmachineError, by export name. */
const exportedErrorClasses = (Object.entries(core) as Array<[string, unknown]>).filter(
  (entry): entry is [string, AnyErrorClass] =>
    typeof entry[1] === 'function' && entry[1].prototype instanceof NetmachineError,
);

// The codes are part of the API (logs, metrics, other implementations): they must never change.
const stable: Array<[NetmachineError, string, string, RegExp]> = [
  [new FrameTooLargeError(20, 10), 'FrameTooLargeError', 'ERR_FRAME_TOO_LARGE', /20 bytes .* 10/],
  [new MalformedFrameError('bad'), 'MalformedFrameError', 'ERR_MALFORMED_FRAME', /bad/],
  [new SchemaError('a.b', 'expected x'), 'SchemaError', 'ERR_SCHEMA', /^a\.b: expected x$/],
  [new InvalidIdentityError('nope'), 'InvalidIdentityError', 'ERR_INVALID_IDENTITY', /nope/],
  [new InvalidSignatureError('thing'), 'InvalidSignatureError', 'ERR_INVALID_SIGNATURE', /thing/],
  [new InsecureKeyFileError('/k', 0o644), 'InsecureKeyFileError', 'ERR_INSECURE_KEY_FILE', /644/],
  [new InvalidKeyFileError('/k', 'junk'), 'InvalidKeyFileError', 'ERR_INVALID_KEY_FILE', /\/k: junk/],
  [new StaleAdvertError('node', 1, 2), 'StaleAdvertError', 'ERR_STALE_ADVERT', /version 1 .* 2/],
  [new AdvertFromFutureError('node', 0), 'AdvertFromFutureError', 'ERR_ADVERT_FROM_FUTURE', /1970/],
  [new AdvertExpiredError('node', 0, 5), 'AdvertExpiredError', 'ERR_ADVERT_EXPIRED', /older than 5 ms/],
  [new UnknownDestinationError('x@y'), 'UnknownDestinationError', 'ERR_UNKNOWN_DESTINATION', /x@y/],
  [new MessageExpiredError('x@y'), 'MessageExpiredError', 'ERR_MESSAGE_EXPIRED', /x@y/],
  [new RequestTimeoutError('x@y', 250), 'RequestTimeoutError', 'ERR_REQUEST_TIMEOUT', /250 ms/],
  [new AbortedError(), 'AbortedError', 'ERR_ABORTED', /aborted/],
  [new MailboxFullError('kv', 8), 'MailboxFullError', 'ERR_MAILBOX_FULL', /kv is full \(8/],
  [new QueueFullError('out', 8), 'QueueFullError', 'ERR_QUEUE_FULL', /out is full \(8/],
  [
    new UnauthorizedPublisherError('t', 'p'),
    'UnauthorizedPublisherError',
    'ERR_UNAUTHORIZED_PUBLISHER',
    /p .* t/,
  ],
  [new AlreadyExistsError('engine kv'), 'AlreadyExistsError', 'ERR_ALREADY_EXISTS', /engine kv/],
  [new NotStartedError('router'), 'NotStartedError', 'ERR_NOT_STARTED', /router/],
  [new ConnectionClosedError(), 'ConnectionClosedError', 'ERR_CONNECTION_CLOSED', /connection closed/],
  [new PeerKeyMismatchError('e', 'a'), 'PeerKeyMismatchError', 'ERR_PEER_KEY_MISMATCH', /a, expected e/],
  [new PeerDeniedError('p', 'banned'), 'PeerDeniedError', 'ERR_PEER_DENIED', /p denied: banned/],
  [
    new IncompatibleProtocolError([1, 2], [3, 4]),
    'IncompatibleProtocolError',
    'ERR_INCOMPATIBLE_PROTOCOL',
    /1\.\.2.*3\.\.4/,
  ],
  [new OverCapacityError('p'), 'OverCapacityError', 'ERR_OVER_CAPACITY', /p/],
  [new HandshakeError('late'), 'HandshakeError', 'ERR_HANDSHAKE', /late/],
  [new InvalidAddressError('tls://', 'no host'), 'InvalidAddressError', 'ERR_INVALID_ADDRESS', /no host/],
];

describe('typed errors', () => {
  it.each(stable.map(([error, ...rest]) => [rest[0], error, ...rest] as const))(
    '%s has a stable name, code and message',
    (_label, error, name, code, message) => {
      expect(error).toBeInstanceOf(NetmachineError);
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe(name);
      expect(error.code).toBe(code);
      expect(error.message).toMatch(message);
      expect(String(error)).toBe(`${name}: ${error.message}`);
      expect(error.stack).toContain(name);
    },
  );

  it('gives every exported error class its own name and a code of the ERR_ form', () => {
    expect(exportedErrorClasses.length).toBeGreaterThanOrEqual(stable.length);
    const codes = new Map<string, string>();
    for (const [exportName, ErrorClass] of exportedErrorClasses) {
      // Numbers fit every constructor's parameters well enough to build a message.
      expect(ErrorClass.name, exportName).toBe(exportName);
      let error: NetmachineError;
      try {
        error = new ErrorClass(1, 2, 3);
      } catch {
        continue; // a constructor that needs real arguments; the class name check above still holds
      }
      expect(error.name, exportName).toBe(exportName);
      expect(error.code, exportName).toMatch(/^ERR_[A-Z0-9_]+$/);
      expect(codes.get(error.code), `${exportName} reuses ${error.code}`).toBeUndefined();
      codes.set(error.code, exportName);
    }
  });

  it('keeps the fields callers branch on', () => {
    expect(new FrameTooLargeError(20, 10)).toMatchObject({ size: 20, max: 10 });
    expect(new SchemaError('a.b', 'p')).toMatchObject({ path: 'a.b', problem: 'p' });
    expect(new StaleAdvertError('node', 1, 2)).toMatchObject({ kind: 'node', version: 1, known: 2 });
    expect(new RequestTimeoutError('d', 5)).toMatchObject({ destination: 'd', timeoutMs: 5 });
    expect(new MailboxFullError('kv', 8)).toMatchObject({ engine: 'kv', capacity: 8 });
    expect(new PeerKeyMismatchError('e', 'a')).toMatchObject({ expected: 'e', actual: 'a' });
  });

  it('keeps the cause it was given', () => {
    const cause = new Error('underlying');
    expect(new MalformedFrameError('bad', { cause }).cause).toBe(cause);
    expect(new ConnectionClosedError('gone', { cause }).cause).toBe(cause);
    expect(new HandshakeError('late', { cause }).cause).toBe(cause);
    expect(new AbortedError(cause).cause).toBe(cause);
    expect(new NetmachineError('ERR_X', 'x', { cause }).cause).toBe(cause);
  });

  it('lets packages derive their own classes with the right name', () => {
    class CustomError extends NetmachineError {
      constructor() {
        super('ERR_CUSTOM', 'custom');
      }
    }
    const error = new CustomError();
    expect(error.name).toBe('CustomError');
    expect(error).toBeInstanceOf(NetmachineError);
  });
});
