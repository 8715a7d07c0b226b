import { InvalidAddressError } from '@netmachine/core';
import { describe, expect, it } from 'vitest';
import { formatAddress, parseAddress, unmapIPv4 } from '../src/index.js';

describe('socket addresses (tls://, quic://)', () => {
  it('parses IPv4, bracketed IPv6 and host names', () => {
    expect(parseAddress('tls://127.0.0.1:7100', 'tls')).toEqual({ host: '127.0.0.1', port: 7100 });
    expect(parseAddress('quic://[::1]:0', 'quic')).toEqual({ host: '::1', port: 0 });
    expect(parseAddress('tls://localhost:80', 'tls')).toEqual({ host: 'localhost', port: 80 });
  });

  it('refuses other schemes, missing ports, paths and credentials', () => {
    for (const bad of [
      'quic://127.0.0.1:1',
      'tls://127.0.0.1',
      'tls://127.0.0.1:1/path',
      'tls://u:p@127.0.0.1:1',
      'tls://127.0.0.1:99999',
      'not a url',
    ]) {
      expect(() => parseAddress(bad, 'tls'), bad).toThrow(InvalidAddressError);
    }
  });

  it('answers a repeated parse the same way (remembered per scheme and address), refusing bad ones each time', () => {
    const first = parseAddress('tls://127.0.0.1:7200', 'tls');
    expect(parseAddress('tls://127.0.0.1:7200', 'tls')).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(() => parseAddress('tls://127.0.0.1:7200', 'quic')).toThrow(InvalidAddressError);
    for (let i = 0; i < 2; i++)
      expect(() => parseAddress('tls://127.0.0.1', 'tls')).toThrow(InvalidAddressError);
  });

  it('formats IPv6 hosts with brackets', () => {
    expect(formatAddress('tls', '::1', 9)).toBe('tls://[::1]:9');
    expect(formatAddress('quic', '10.0.0.1', 9)).toBe('quic://10.0.0.1:9');
  });

  it('shows an IPv4 peer seen by a dual-stack socket as IPv4', () => {
    expect(unmapIPv4('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(unmapIPv4('::1')).toBe('::1');
    expect(formatAddress('quic', unmapIPv4('::ffff:127.0.0.1'), 5)).toBe('quic://127.0.0.1:5');
  });
});
