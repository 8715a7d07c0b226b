import { randomBytes } from 'node:crypto';
import { NetmachineError } from '@netmachine/core';
import { ProtocolDecodeError } from '@netmachine/overlay';
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js';

// Diffie–Hellman private set intersection over ristretto255 (a prime-order group, so no cofactor and
// no small-subgroup points to worry about). Each side hashes its domain ids onto the group, H(x), and
// raises them to a secret scalar of its own; exponentiation commutes, so H(x)^ab = H(x)^ba, and only
// elements both sides hold meet as equal doubly blinded points. Under the decisional Diffie–Hellman
// assumption a singly blinded point says nothing about the element behind it.
//
//   initiator (set X, secret a)            responder (set Y, secret b)
//   PsiRequest  { H(x)^a, sorted }   ──►
//                                    ◄──   PsiResponse { (H(x)^a)^b in request order, H(y)^b sorted }
//   PsiFinish { (H(y)^b)^a in response order } ──►
//
// After the response the initiator knows X ∩ Y; after the finish the responder knows it too. Each side
// learns the size of the other's set and nothing else about the elements outside the intersection.
// The functions here are pure (randomness can be injected); the service carries the messages.

/** The protocol's name and version on the wire. */
export const PSI_PROTOCOL = 'psi/1';

/** Limits on what a PSI message may carry. */
export const PSI_LIMITS = {
  /**
   * Most elements (domains) in one set, as many as a node may be in (the domain service's default):
   * every element costs a hash to the group and two scalar multiplications, ~1 ms each, on the event loop.
   */
  maxSetSize: 64,
  /** Bytes of a session id. */
  sessionBytes: 16,
  /** Bytes of one encoded ristretto255 point. */
  pointBytes: 32,
} as const;

/** Domain separation for hashing domain ids onto the group. */
const HASH_TO_GROUP_DST = 'netmachine-psi-v1-ristretto255';
const Point = ristretto255.Point;
type RistrettoPoint = InstanceType<typeof Point>;
const ORDER = Point.Fn.ORDER;

/** The initiator's blinded set: H(x)^a for each of its elements, sorted by their bytes. */
export interface PsiRequest {
  readonly type: 'psiRequest';
  readonly session: Uint8Array;
  readonly points: readonly Uint8Array[];
}

/** The responder's answer: the request's points raised to b (same order), and its own set blinded by b. */
export interface PsiResponse {
  readonly type: 'psiResponse';
  readonly session: Uint8Array;
  readonly doubled: readonly Uint8Array[];
  readonly points: readonly Uint8Array[];
}

/** The initiator's last message: the response's points raised to a (same order). */
export interface PsiFinish {
  readonly type: 'psiFinish';
  readonly session: Uint8Array;
  readonly doubled: readonly Uint8Array[];
}

export type PsiMessage = PsiRequest | PsiResponse | PsiFinish;

/** A local set larger than `PSI_LIMITS.maxSetSize` (or the configured maximum). */
export class PsiSetTooLargeError extends NetmachineError {
  constructor(
    readonly size: number,
    readonly max: number,
  ) {
    super('ERR_PSI_SET_TOO_LARGE', `a PSI set of ${size} elements exceeds the maximum of ${max}`);
  }
}

/** A well-formed PSI message that does not fit the exchange it claims to belong to. */
export class PsiProtocolError extends NetmachineError {
  constructor(message: string) {
    super('ERR_PSI_PROTOCOL', message);
  }
}

/** What the initiator keeps between its request and the response. */
export interface PsiInitiatorState {
  readonly session: Uint8Array;
  readonly secret: bigint;
  /** The elements, in the order of `request.points`. */
  readonly elements: readonly string[];
  readonly requestSize: number;
}

/** What the responder keeps between its response and the finish. */
export interface PsiResponderState {
  readonly session: Uint8Array;
  readonly secret: bigint;
  /** H(x)^ab for the initiator's elements. */
  readonly doubled: ReadonlySet<string>;
  /** The responder's elements, in the order of `response.points`. */
  readonly elements: readonly string[];
}

export interface PsiOptions {
  /** Source of secret randomness (default node:crypto's randomBytes). */
  readonly random?: (bytes: number) => Uint8Array;
  /** Most elements a set may have (default `PSI_LIMITS.maxSetSize`). */
  readonly maxSetSize?: number;
}

/** Starts a PSI exchange: a fresh secret, the request to send and the state to keep. */
export function psiRequest(
  elements: Iterable<string>,
  options: PsiOptions = {},
): { state: PsiInitiatorState; message: PsiRequest } {
  const random = options.random ?? randomBytes;
  const secret = randomScalar(random);
  const blinded = blindAll(uniqueBounded(elements, options), secret);
  const session = Uint8Array.from(random(PSI_LIMITS.sessionBytes));
  return {
    state: {
      session,
      secret,
      elements: blinded.map((b) => b.element),
      requestSize: blinded.length,
    },
    message: { type: 'psiRequest', session, points: blinded.map((b) => b.bytes) },
  };
}

/** Answers a request with this node's set: the response to send and the state to keep for the finish. */
export function psiRespond(
  request: PsiRequest,
  elements: Iterable<string>,
  options: PsiOptions = {},
): { state: PsiResponderState; message: PsiResponse } {
  const random = options.random ?? randomBytes;
  const secret = randomScalar(random);
  const doubled = request.points.map((p) => Point.fromBytes(p).multiply(secret).toBytes());
  const blinded = blindAll(uniqueBounded(elements, options), secret);
  return {
    state: {
      session: request.session,
      secret,
      doubled: new Set(doubled.map(hex)),
      elements: blinded.map((b) => b.element),
    },
    message: {
      type: 'psiResponse',
      session: request.session,
      doubled,
      points: blinded.map((b) => b.bytes),
    },
  };
}

/** The initiator reads the response: the intersection, and the finish that lets the responder learn it. */
export function psiComplete(
  state: PsiInitiatorState,
  response: PsiResponse,
): { intersection: string[]; message: PsiFinish } {
  if (!sameBytes(state.session, response.session)) throw new PsiProtocolError('response for another session');
  if (response.doubled.length !== state.requestSize) {
    throw new PsiProtocolError(
      `response carries ${response.doubled.length} doubly blinded points for a request of ${state.requestSize}`,
    );
  }
  const theirs = new Set<string>();
  const finish: Uint8Array[] = [];
  for (const p of response.points) {
    const q = Point.fromBytes(p).multiply(state.secret).toBytes();
    theirs.add(hex(q));
    finish.push(q);
  }
  const intersection = state.elements.filter((_, i) => theirs.has(hex(response.doubled[i]!)));
  return { intersection, message: { type: 'psiFinish', session: state.session, doubled: finish } };
}

/** The responder reads the finish: the intersection. */
export function psiFinish(state: PsiResponderState, finish: PsiFinish): string[] {
  if (!sameBytes(state.session, finish.session)) throw new PsiProtocolError('finish for another session');
  if (finish.doubled.length !== state.elements.length) {
    throw new PsiProtocolError(
      `finish carries ${finish.doubled.length} doubly blinded points for a response of ${state.elements.length}`,
    );
  }
  return state.elements.filter((_, i) => state.doubled.has(hex(finish.doubled[i]!)));
}

// --- the wire ----------------------------------------------------------------------------------

/** The msgpack-ready value of a message: each point list is one byte string of 32-byte points. */
export function encodePsiMessage(message: PsiMessage): Record<string, unknown> {
  switch (message.type) {
    case 'psiRequest':
      return { type: message.type, session: message.session, points: concat(message.points) };
    case 'psiResponse':
      return {
        type: message.type,
        session: message.session,
        doubled: concat(message.doubled),
        points: concat(message.points),
      };
    case 'psiFinish':
      return { type: message.type, session: message.session, doubled: concat(message.doubled) };
  }
}

/**
 * Reads a PSI message from the wire, strictly: known type, a 16-byte session, point lists of whole
 * 32-byte points, at most `maxSetSize` of them, each a canonical, non-identity ristretto255 encoding,
 * no point twice. Anything else throws a ProtocolDecodeError naming the field.
 */
export function decodePsiMessage(value: unknown, maxSetSize: number = PSI_LIMITS.maxSetSize): PsiMessage {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    fail('', 'expected a map');
  }
  const record = value as Record<string, unknown>;
  if (!(record.session instanceof Uint8Array) || record.session.length !== PSI_LIMITS.sessionBytes) {
    fail('session', `expected ${PSI_LIMITS.sessionBytes} bytes`);
  }
  const session = Uint8Array.from(record.session);
  const allowed = record.type === 'psiResponse' ? 3 : 2;
  if (Object.keys(record).length !== allowed + 1) fail('', 'unexpected fields');
  switch (record.type) {
    case 'psiRequest':
      return { type: 'psiRequest', session, points: points(record.points, 'points', maxSetSize) };
    case 'psiResponse':
      return {
        type: 'psiResponse',
        session,
        doubled: points(record.doubled, 'doubled', maxSetSize),
        points: points(record.points, 'points', maxSetSize),
      };
    case 'psiFinish':
      return { type: 'psiFinish', session, doubled: points(record.doubled, 'doubled', maxSetSize) };
    default:
      fail('type', 'unknown message type');
  }
}

function points(value: unknown, path: string, max: number): Uint8Array[] {
  const size = PSI_LIMITS.pointBytes;
  if (!(value instanceof Uint8Array)) fail(path, 'expected bytes');
  if (value.length % size !== 0) fail(path, `length ${value.length} is not a multiple of ${size}`);
  const count = value.length / size;
  if (count > max) fail(path, `${count} points exceed the maximum of ${max}`);
  const out: Uint8Array[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const bytes = Uint8Array.from(value.subarray(i * size, (i + 1) * size));
    let point: RistrettoPoint;
    try {
      point = Point.fromBytes(bytes);
    } catch {
      fail(`${path}[${i}]`, 'not a canonical ristretto255 encoding');
    }
    if (point.is0()) fail(`${path}[${i}]`, 'the identity point');
    const key = hex(bytes);
    if (seen.has(key)) fail(`${path}[${i}]`, 'a point given twice');
    seen.add(key);
    out.push(bytes);
  }
  return out;
}

function fail(path: string, problem: string): never {
  throw new ProtocolDecodeError(PSI_PROTOCOL, path, problem);
}

// --- helpers -----------------------------------------------------------------------------------

function uniqueBounded(elements: Iterable<string>, options: PsiOptions): string[] {
  const unique = [...new Set(elements)];
  const max = options.maxSetSize ?? PSI_LIMITS.maxSetSize;
  if (unique.length > max) throw new PsiSetTooLargeError(unique.length, max);
  return unique;
}

const encoder = new TextEncoder();

/** H(x)^secret for each element, sorted by the points' bytes so the order tells nothing. */
function blindAll(elements: readonly string[], secret: bigint): { element: string; bytes: Uint8Array }[] {
  const blinded = elements.map((element) => ({
    element,
    bytes: ristretto255_hasher
      .hashToCurve(encoder.encode(element), { DST: HASH_TO_GROUP_DST })
      .multiply(secret)
      .toBytes(),
  }));
  return blinded.sort((x, y) => compareBytes(x.bytes, y.bytes));
}

/** A uniformly random non-zero scalar: 64 random bytes reduced modulo the group order. */
function randomScalar(random: (bytes: number) => Uint8Array): bigint {
  for (;;) {
    const bytes = random(64);
    let n = 0n;
    for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
    const scalar = n % ORDER;
    if (scalar !== 0n) return scalar;
  }
}

function concat(list: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(list.length * PSI_LIMITS.pointBytes);
  list.forEach((p, i) => {
    out.set(p, i * PSI_LIMITS.pointBytes);
  });
  return out;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length && i < b.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
