import { fc, it } from '@fast-check/vitest';
import { pack, unpack } from '@netmachine/core';
import { ProtocolDecodeError } from '@netmachine/overlay';
import { describe, expect, vi } from 'vitest';
import {
  decodePsiMessage,
  encodePsiMessage,
  PSI_LIMITS,
  type PsiMessage,
  PsiProtocolError,
  PsiSetTooLargeError,
  psiComplete,
  psiFinish,
  psiRequest,
  psiRespond,
} from '../src/psi.js';

// Each element costs a few scalar multiplications (about a millisecond each here).
vi.setConfig({ testTimeout: 180_000 });

/** Domain-id-like strings (long enough that finding one in random bytes by chance is out of the question). */
const element = fc.string({ minLength: 10, maxLength: 20 }).map((s) => `domain:${s}`);
const twoSets = fc
  .uniqueArray(element, { minLength: 0, maxLength: 24 })
  .chain((pool) => fc.tuple(fc.subarray(pool), fc.subarray(pool), fc.uniqueArray(element, { maxLength: 4 })));

/** Carries a message the way the service does: encoded, packed, unpacked, decoded. */
function overTheWire<M extends PsiMessage>(message: M): { message: M; bytes: Uint8Array } {
  const bytes = pack(encodePsiMessage(message));
  return { message: decodePsiMessage(unpack(bytes)) as M, bytes };
}

function contains(haystack: Uint8Array, needle: string): boolean {
  return Buffer.from(haystack).includes(Buffer.from(needle, 'utf8'));
}

describe('PSI over ristretto255', () => {
  it.prop([twoSets], { numRuns: 40 })(
    'both sides learn exactly the intersection; the wire carries only blinded points',
    ([pool1, pool2, extra]) => {
      const mine = [...pool1, ...extra];
      const theirs = pool2;
      const start = psiRequest(mine);
      const request = overTheWire(start.message);
      const answer = psiRespond(request.message, theirs);
      const response = overTheWire(answer.message);
      const done = psiComplete(start.state, response.message);
      const finish = overTheWire(done.message);
      const responderSees = psiFinish(answer.state, finish.message);

      const expected = mine.filter((x) => theirs.includes(x)).sort();
      expect([...done.intersection].sort()).toEqual(expected);
      expect([...responderSees].sort()).toEqual(expected);
      // Sizes are what each side learns about the other's set, nothing else.
      expect(request.message.points).toHaveLength(new Set(mine).size);
      expect(response.message.points).toHaveLength(new Set(theirs).size);
      for (const frame of [request.bytes, response.bytes, finish.bytes]) {
        for (const x of [...mine, ...theirs]) expect(contains(frame, x)).toBe(false);
      }
    },
    180_000,
  );

  it('the same element blinded by two sessions gives unrelated points', () => {
    const a = psiRequest(['domain:one']).message.points[0]!;
    const b = psiRequest(['domain:one']).message.points[0]!;
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });

  it('refuses a local set beyond the maximum', () => {
    const big = Array.from({ length: PSI_LIMITS.maxSetSize + 1 }, (_, i) => `domain:${i}`);
    expect(() => psiRequest(big)).toThrow(PsiSetTooLargeError);
    expect(() => psiRequest(['a', 'b', 'c'], { maxSetSize: 2 })).toThrow(PsiSetTooLargeError);
  });

  it('refuses a response that does not answer the request', () => {
    const start = psiRequest(['domain:a', 'domain:b']);
    const other = psiRequest(['domain:a']);
    const answer = psiRespond(other.message, ['domain:a']);
    expect(() => psiComplete(start.state, answer.message)).toThrow(PsiProtocolError);
    const short = { ...psiRespond(start.message, ['domain:a']).message, doubled: [] };
    expect(() => psiComplete(start.state, short)).toThrow(PsiProtocolError);
  });

  describe('the decoder', () => {
    const good = psiRequest(['domain:a', 'domain:b']).message;
    const wire = encodePsiMessage(good) as { type: string; session: Uint8Array; points: Uint8Array };
    const point = good.points[0]!;
    const cases: [string, unknown][] = [
      ['not a map', [1, 2]],
      ['unknown type', { ...wire, type: 'psiHello' }],
      ['short session', { ...wire, session: new Uint8Array(15) }],
      ['extra field', { ...wire, extra: 1 }],
      ['points not bytes', { ...wire, points: [point] }],
      ['partial point', { ...wire, points: wire.points.subarray(0, 40) }],
      ['non-canonical point', { ...wire, points: new Uint8Array(32).fill(0xff) }],
      ['identity point', { ...wire, points: new Uint8Array(32) }],
      ['a point twice', { ...wire, points: Buffer.concat([point, point]) }],
      ['too many points', { ...wire, points: new Uint8Array(32 * (PSI_LIMITS.maxSetSize + 1)) }],
      ['response without doubled', { ...wire, type: 'psiResponse' }],
    ];
    for (const [name, value] of cases) {
      it(`refuses ${name} with a ProtocolDecodeError`, () => {
        expect(() => decodePsiMessage(value)).toThrow(ProtocolDecodeError);
      });
    }

    it.prop([fc.anything()])('never throws anything but a ProtocolDecodeError', (value) => {
      try {
        decodePsiMessage(value);
      } catch (error) {
        expect(error).toBeInstanceOf(ProtocolDecodeError);
      }
    });

    it('reads back what it wrote', () => {
      expect(decodePsiMessage(unpack(pack(wire)))).toEqual(good);
    });
  });
});
