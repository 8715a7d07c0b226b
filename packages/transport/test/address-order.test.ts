import { KeyPair, signNodeAdvert } from '@netmachine/core';
import { describe, expect, it } from 'vitest';
import { orderAddresses } from '../src/address-order.js';
import { Backoff } from '../src/backoff.js';

const advert = signNodeAdvert(KeyPair.generate(), {
  addrs: [
    { url: 'tls://10.0.0.1:7100', weight: 10 },
    { url: 'quic://10.0.0.1:7101', weight: 10 },
    { url: 'tls://10.0.0.2:7100', weight: 50 },
    { url: 'carrier-pigeon://roof', weight: 255 },
  ],
  version: 1,
  created: Date.now(),
});
const available = new Set(['tls', 'quic']);
const urls = (list: { url: string }[]) => list.map((a) => a.url);

describe('orderAddresses', () => {
  it('ranks by the message preference first, then weight, and leaves out unknown protocols', () => {
    expect(
      urls(
        orderAddresses(advert, {
          messagePrefs: ['quic'],
          nodePrefs: ['tls'],
          defaultOrder: ['tls', 'quic'],
          available,
        }),
      ),
    ).toEqual(['quic://10.0.0.1:7101', 'tls://10.0.0.2:7100', 'tls://10.0.0.1:7100']);
  });

  it('falls back to the node record, then to the configured order', () => {
    expect(
      urls(orderAddresses(advert, { nodePrefs: ['quic'], defaultOrder: ['tls', 'quic'], available }))[0],
    ).toBe('quic://10.0.0.1:7101');
    expect(
      urls(orderAddresses(advert, { messagePrefs: [], defaultOrder: ['tls', 'quic'], available })),
    ).toEqual(['tls://10.0.0.2:7100', 'tls://10.0.0.1:7100', 'quic://10.0.0.1:7101']);
  });

  it('has nothing to offer without an advert or a shared protocol', () => {
    expect(orderAddresses(undefined, { defaultOrder: ['tls'], available })).toEqual([]);
    expect(orderAddresses(advert, { defaultOrder: ['memory'], available: new Set(['memory']) })).toEqual([]);
  });
});

describe('Backoff', () => {
  it('grows exponentially up to the cap, with jitter below the nominal delay, and resets', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.5 }, () => 1);
    expect([1, 2, 3, 4, 5].map(() => backoff.next())).toEqual([50, 100, 200, 400, 500]);
    backoff.reset();
    expect(backoff.next()).toBe(50);
    const noJitter = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0.5 }, () => 0);
    expect(noJitter.next()).toBe(100);
  });
});
