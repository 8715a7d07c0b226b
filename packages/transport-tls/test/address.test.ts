import { InvalidAddressError } from '@netmachine/core';
import { formatAddress, parseAddress } from '@netmachine/transport';
import { describe, expect, it } from 'vitest';

describe('tls addresses', () => {
  it('parses IPv4, bracketed IPv6 and host names', () => {
    expect(parseAddress('tls://127.0.0.1:7100', 'tls')).toEqual({ host: '127.0.0.1', port: 7100 });
    expect(parseAddress('tls://[::1]:0', 'tls')).toEqual({ host: '::1', port: 0 });
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

  it('formats IPv6 hosts with brackets', () => {
    expect(formatAddress('tls', '::1', 9)).toBe('tls://[::1]:9');
    expect(formatAddress('tls', '10.0.0.1', 9)).toBe('tls://10.0.0.1:9');
  });
});
