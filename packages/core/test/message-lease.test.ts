import { describe, expect, it } from 'vitest';
import { bodyEncoded, releaseWhenEncoded } from '../src/index.js';

describe('releaseWhenEncoded', () => {
  it('calls the release once, when the transport says that body was encoded', () => {
    const body = [1, new Uint8Array(4)];
    let released = 0;
    releaseWhenEncoded(body, () => released++);
    bodyEncoded([1, new Uint8Array(4)]); // an equal body, not the lent one
    bodyEncoded(undefined);
    bodyEncoded('text');
    expect(released).toBe(0);
    bodyEncoded(body);
    bodyEncoded(body);
    expect(released).toBe(1);
  });
});
