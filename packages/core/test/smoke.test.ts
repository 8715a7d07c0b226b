import { describe, expect, it } from 'vitest';
import {
  encodeFrame,
  FrameDecoder,
  FrameTag,
  formatNodeAdvert,
  KeyPair,
  parseNodeAdvert,
  signNodeAdvert,
} from '../src/index.js';

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

  it('decodes frames split across chunks', () => {
    const frames: Array<[number, unknown]> = [];
    const decoder = new FrameDecoder((tag, body) => frames.push([tag, body.length]));
    const bytes = Buffer.concat([encodeFrame(FrameTag.Ping, 1), encodeFrame(FrameTag.Pong, 2)]);
    for (const b of bytes) decoder.push(Buffer.from([b]));
    expect(frames).toEqual([
      [FrameTag.Ping, 1],
      [FrameTag.Pong, 1],
    ]);
  });
});
