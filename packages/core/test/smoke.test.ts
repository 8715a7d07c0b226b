import { describe, expect, it } from 'vitest';
import { formatNodeAdvert, KeyPair, parseNodeAdvert, signNodeAdvert } from '../src/index.js';

describe('core smoke', () => {
  it('signs, formats and parses a node advert', () => {
    const key = KeyPair.generate();
    const advert = signNodeAdvert(key, {
      addrs: [{ url: 'tls://127.0.0.1:7100', weight: 10 }],
      version: 1,
      created: Date.now(),
    });
    const parsed = parseNodeAdvert(formatNodeAdvert(advert));
    expect(parsed.id).toBe(key.id);
    expect(parsed.addrs).toEqual(advert.addrs);
  });
});
